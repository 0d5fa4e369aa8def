// The errno names the core returns, on every platform.
//
// The core reports failures as -errno with the kernel's names. Linux, macOS and the BSDs have
// all of them in <cerrno>; MSVC's <errno.h> lacks ESTALE (it has ENOLINK, as 121). What matters
// is that the value agrees with Python's errno module on the same platform, because
// mprog.errors picks the exception class by errno.ESTALE, errno.ENOLINK, ...: CPython on
// Windows spells ESTALE as WSAESTALE (10070), so that is the value used there. Anywhere else a
// missing name gets the Linux value.
#pragma once

#include <cerrno>

#ifndef ESTALE
#if defined(_WIN32)
#define ESTALE 10070  // WSAESTALE, which is Python's errno.ESTALE on Windows
#else
#define ESTALE 116  // Linux
#endif
#endif

#ifndef ENOLINK
#if defined(_WIN32)
#define ENOLINK 121  // MSVC's own value since VS2010, and so Python's errno.ENOLINK
#else
#define ENOLINK 67  // Linux
#endif
#endif
