"""setns(2) through ctypes (Python 3.11 has no os.setns), for every caller that needs it:
the netlink adapter's one way into a namespace, the helper's workers adopting their
caller's namespaces, and the benchmarks."""

from __future__ import annotations

import ctypes
import functools
import os

__all__ = ["CLONE_NEWNET", "CLONE_NEWNS", "setns"]

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def setns(fd: int, kind: int) -> None:
    """Move the calling thread into the namespace open at `fd`; OSError on failure."""
    if _libc().setns(fd, kind) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
