"""What a bundle does when one of its links is detached or closed, for either kind of bundle.

``Link.detach()`` and ``Link.close()`` land on the link's bundle; the tcx ``Bundle`` and the
``CgroupBundle`` answer them alike (tcx_link_release() and cgroup's link release take the
link's slot out the same way), so the rule is written once. A bundle using it has ``_lock``
(its writer lock) and ``_release(link)`` (takes the link's slot out of its chain or list).
"""
from __future__ import annotations

from typing import Any

from .handles import BpfLink
from .naming import closed_link


class LinkCalls:
    _lock: Any

    def _release(self, link: BpfLink) -> None:
        raise NotImplementedError

    def _link_detach(self, link: BpfLink) -> None:
        with self._lock:
            if link.closed:
                raise closed_link(link, "link detach")
            if link.attached:
                self._release(link)

    def _link_close(self, link: BpfLink) -> None:
        with self._lock:
            if link.closed:
                return
            if link.attached:  # closing the last fd releases the link: tcx_link_release()
                self._release(link)
            link.forget()
