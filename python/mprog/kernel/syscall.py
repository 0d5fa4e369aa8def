"""Raw bpf(2) through ctypes: the few commands mprog needs, with the uapi ``bpf_attr`` layouts.

Every wrapper returns the kernel's result or raises ``OSError`` with the kernel's errno; nothing
here checks arguments, so whatever the caller passes reaches the kernel as given. The layouts
are the ``union bpf_attr`` members of include/uapi/linux/bpf.h (Linux 6.6+, where tcx and the
mprog fields ``relative_fd``/``expected_revision`` exist).
"""
from __future__ import annotations

import ctypes
import os
import struct
from typing import List, Tuple

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

#: __NR_bpf per machine (uname -m).
_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351,
           "i686": 357, "armv7l": 386}

# enum bpf_cmd
PROG_LOAD = 5
PROG_ATTACH = 8
PROG_DETACH = 9
PROG_GET_FD_BY_ID = 13
OBJ_GET_INFO_BY_FD = 15
PROG_QUERY = 16
LINK_CREATE = 28
LINK_UPDATE = 29
LINK_GET_FD_BY_ID = 30
LINK_DETACH = 34

PROG_TYPE_SCHED_CLS = 3        # enum bpf_prog_type
PROG_TYPE_CGROUP_SKB = 8
CGROUP_INET_INGRESS = 0        # enum bpf_attach_type
TCX_INGRESS = 46
TCX_EGRESS = 47

QUERY_EFFECTIVE = 1 << 0       # BPF_F_QUERY_EFFECTIVE (query_flags)

#: sizeof(union bpf_attr) we pass: large enough for every command used here; the kernel
#: accepts a shorter or longer attr as long as the bytes it does not know are zero.
ATTR_SIZE = 128

#: ``r0 = -1 (TCX_NEXT); exit``: BPF_ALU64|BPF_MOV|BPF_K, then BPF_JMP|BPF_EXIT.
NEXT_PROGRAM = struct.pack("<BBhi", 0xB7, 0, 0, -1) + struct.pack("<BBhi", 0x95, 0, 0, 0)
#: ``r0 = 1 (let the packet pass); exit``: what a CGROUP_SKB program returns to allow.
ALLOW_PROGRAM = struct.pack("<BBhi", 0xB7, 0, 0, 1) + struct.pack("<BBhi", 0x95, 0, 0, 0)

_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF


def _nr_bpf() -> int:
    machine = os.uname().machine
    try:
        return _NR_BPF[machine]
    except KeyError:
        raise OSError(38, f"bpf(2) syscall number unknown for {machine}") from None


NR_BPF = _nr_bpf()


def bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    """bpf(cmd, attr, sizeof attr); the result, or OSError with the kernel's errno."""
    ret = _libc.syscall(NR_BPF, ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(ret)  # restype c_long: ctypes already gives an int; int() only types it


def _attr(*fields: Tuple[int, str, int]) -> ctypes.Array[ctypes.c_char]:
    """A zeroed attr with ``(offset, struct format, value)`` fields written in."""
    buf = ctypes.create_string_buffer(ATTR_SIZE)
    for offset, fmt, value in fields:
        struct.pack_into("<" + fmt, buf, offset, value)
    return buf


def prog_load(name: bytes, insns: bytes = NEXT_PROGRAM, license: bytes = b"GPL",
              prog_type: int = PROG_TYPE_SCHED_CLS, expected_attach_type: int = 0) -> int:
    """BPF_PROG_LOAD (a SCHED_CLS program unless told otherwise); returns its fd (O_CLOEXEC)."""
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license)
    attr = _attr((0, "I", prog_type),                      # prog_type
                 (4, "I", len(insns) // 8),                # insn_cnt
                 (8, "Q", ctypes.addressof(code)),         # insns
                 (16, "Q", ctypes.addressof(lic)),         # license
                 (68, "I", expected_attach_type))          # expected_attach_type
    ctypes.memmove(ctypes.addressof(attr) + 48, name[:15], len(name[:15]))  # prog_name[16]
    return bpf(PROG_LOAD, attr)


def obj_id(fd: int) -> int:
    """The id of the program or link behind ``fd`` (BPF_OBJ_GET_INFO_BY_FD)."""
    return obj_info(fd)[1]


def obj_info(fd: int, size: int = 64) -> Tuple[int, ...]:
    """The first u32 words of bpf_prog_info / bpf_link_info: (type, id, ...).

    For a tcx link: (type, id, prog_id, pad, ifindex, attach_type, ...)."""
    info = ctypes.create_string_buffer(size)
    attr = _attr((0, "I", fd), (4, "I", size), (8, "Q", ctypes.addressof(info)))
    bpf(OBJ_GET_INFO_BY_FD, attr)
    return struct.unpack_from(f"<{size // 4}I", info)


def prog_name(fd: int) -> str:
    """bpf_prog_info.name (char[16] at offset 64) of the program behind ``fd``."""
    raw = struct.pack("<20I", *obj_info(fd, 80))
    return raw[64:80].split(b"\0", 1)[0].decode("ascii", "replace")


def prog_attach(ifindex: int, prog_fd: int, flags: int, relative: int, replace_fd: int,
                expected_revision: int, attach_type: int = TCX_INGRESS) -> None:
    attr = _attr((0, "I", ifindex), (4, "I", prog_fd), (8, "I", attach_type),
                 (12, "I", flags), (16, "I", replace_fd), (20, "I", relative),
                 (24, "Q", expected_revision))
    bpf(PROG_ATTACH, attr)


def prog_detach(ifindex: int, prog_fd: int, flags: int, relative: int,
                expected_revision: int, attach_type: int = TCX_INGRESS) -> None:
    attr = _attr((0, "I", ifindex), (4, "I", prog_fd), (8, "I", attach_type),
                 (12, "I", flags), (20, "I", relative), (24, "Q", expected_revision))
    bpf(PROG_DETACH, attr)


def link_create(ifindex: int, prog_fd: int, flags: int, relative: int,
                expected_revision: int, attach_type: int = TCX_INGRESS) -> int:
    """BPF_LINK_CREATE for tcx; returns the link fd."""
    attr = _attr((0, "I", prog_fd), (4, "I", ifindex), (8, "I", attach_type),
                 (12, "I", flags), (16, "I", relative),          # link_create.tcx.relative_fd
                 (24, "Q", expected_revision))                   # link_create.tcx.expected_revision
    return bpf(LINK_CREATE, attr)


def link_update(link_fd: int, new_prog_fd: int, flags: int, old_prog_fd: int) -> None:
    attr = _attr((0, "I", link_fd), (4, "I", new_prog_fd), (8, "I", flags),
                 (12, "I", old_prog_fd))
    bpf(LINK_UPDATE, attr)


def link_detach(link_fd: int) -> None:
    bpf(LINK_DETACH, _attr((0, "I", link_fd)))


def prog_get_fd_by_id(prog_id: int) -> int:
    return bpf(PROG_GET_FD_BY_ID, _attr((0, "I", prog_id)))


def link_get_fd_by_id(link_id: int) -> int:
    return bpf(LINK_GET_FD_BY_ID, _attr((0, "I", link_id)))


class Query:
    """What BPF_PROG_QUERY wrote back: revision, total count and the per-entry arrays."""

    __slots__ = ("revision", "count", "prog_ids", "link_ids", "prog_flags", "link_flags",
                 "attach_flags")

    def __init__(self, revision: int, count: int, prog_ids: List[int], link_ids: List[int],
                 prog_flags: List[int], link_flags: List[int], attach_flags: int = 0) -> None:
        self.revision, self.count = revision, count
        self.prog_ids, self.link_ids = prog_ids, link_ids
        self.prog_flags, self.link_flags = prog_flags, link_flags
        self.attach_flags = attach_flags


def prog_query(ifindex: int, count: int, slots: int, attach_type: int = TCX_INGRESS,
               query_flags: int = 0, prog_flags: bool = True) -> Tuple[int, Query]:
    """BPF_PROG_QUERY with room for ``slots`` entries, telling the kernel ``count``.

    ``ifindex`` is the target (a cgroup's fd for cgroup attach types). Without
    ``prog_flags`` no prog_attach_flags array is passed (cgroup's effective query refuses
    one with EINVAL). Returns ``(errno, Query)``: errno is 0, or ENOSPC when ``count`` was
    smaller than the total (the kernel still fills the first entries and reports the
    total); any other failure raises. The arrays hold ``min(count, total)`` entries.
    """
    arrays = [(ctypes.c_uint32 * max(slots, 1))() for _ in range(4)]
    attr = _attr((0, "I", ifindex), (4, "I", attach_type), (8, "I", query_flags),
                 (16, "Q", ctypes.addressof(arrays[0])),         # prog_ids
                 (24, "I", count),                               # count
                 (32, "Q", ctypes.addressof(arrays[1]) if prog_flags else 0),
                 (40, "Q", ctypes.addressof(arrays[2])),         # link_ids
                 (48, "Q", ctypes.addressof(arrays[3])))         # link_attach_flags
    err = 0
    try:
        bpf(PROG_QUERY, attr)
    except OSError as e:
        if e.errno != 28:  # ENOSPC: the first entries and the total are still there
            raise
        err = e.errno
    total = struct.unpack_from("<I", attr, 24)[0]
    revision = struct.unpack_from("<Q", attr, 56)[0]
    n = min(count, total, slots)
    attach_flags = struct.unpack_from("<I", attr, 12)[0]
    return err, Query(revision, total, list(arrays[0][:n]), list(arrays[2][:n]),
                      list(arrays[1][:n]), list(arrays[3][:n]), attach_flags)
