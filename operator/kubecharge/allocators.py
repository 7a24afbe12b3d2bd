"""Memory the process gives back: how kubecharge sets up the allocators it runs on, once, at start.

A report allocates and frees tens of megabytes per chunk in several threads. Two allocators would keep what was
freed and let the resident size ratchet up with each chunk: pyarrow's own pool (mimalloc or jemalloc, behind
pandas' string columns), and glibc's malloc with one arena per thread (up to eight per core). The system pool and
two arenas cost no measurable time here and keep the peak near what is actually in use (measured on a 10-day,
1,000-pod report: 397 → 320 MiB at four chunks in flight).
"""

from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow

_M_ARENA_MAX = -8  # glibc's mallopt parameter for the number of malloc arenas
_ARENAS = 2
_done = False


def bound() -> None:
    """pyarrow on the system allocator, glibc (where it is the C library) on two arenas. Idempotent."""
    global _done
    if _done:
        return
    _done = True
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to set
        return
    mallopt(_M_ARENA_MAX, _ARENAS)
