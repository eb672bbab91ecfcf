"""The one way into another network namespace: a netlink socket made inside it.

`connect_in(path)` opens the namespace file, calls setns(2) in the current thread,
creates a NETLINK_ROUTE socket and returns to the thread's own namespace at
once. The socket stays bound to the namespace it was created in, so every later
request reaches that namespace while the process never stays there. If the
thread cannot return home, the process aborts rather than run on in the wrong
namespace.
"""

from __future__ import annotations

import errno
import os
import socket

from ecs_bridge.adapters.kernel_common import failure
from ecs_bridge.adapters.setns import CLONE_NEWNET, setns
from ecs_bridge.domain.errors import NamespaceNotFound

__all__ = ["CLONE_NEWNET", "THREAD_NETNS", "connect_in"]

NETLINK_ROUTE = 0
THREAD_NETNS = "/proc/thread-self/ns/net"
"""The calling thread's own network namespace: setns(2) acts per thread."""


def _setns(fd: int) -> None:
    """setns(fd, CLONE_NEWNET) for the calling thread."""
    setns(fd, CLONE_NEWNET)


def _fatal(message: str) -> None:
    """Stop the process: going on in a foreign namespace could change the wrong host."""
    os.write(2, f"ecs-bridge: fatal: {message}\n".encode())
    os.abort()


def _open_netns(path: str) -> int:
    try:
        # O_NONBLOCK: a FIFO at the path must fail setns (EINVAL), not block the open.
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise NamespaceNotFound(path, exc.strerror or "") from None
    except OSError as exc:
        raise failure(exc.errno or errno.EIO, f"open network namespace {path!r}") from None


def _netlink_socket(path: str) -> socket.socket:
    try:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    except OSError as exc:
        raise failure(exc.errno or errno.EIO, f"open a netlink socket in {path!r}") from None


def _return_home(home: int, path: str) -> None:
    try:
        _setns(home)
    except OSError as exc:
        _fatal(f"cannot return from network namespace {path!r}: {exc.strerror}")


def connect_in(path: str) -> tuple[int, socket.socket]:
    """The namespace at `path` as an open fd, and a netlink socket created inside it.

    `NamespaceNotFound` if `path` is missing or not a network namespace. The
    thread is back in its own namespace before this returns or raises.
    """
    ns_fd = _open_netns(path)
    try:
        home = os.open(THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                _setns(ns_fd)
            except OSError as exc:
                if exc.errno == errno.EINVAL:
                    raise NamespaceNotFound(path, "not a network namespace") from None
                raise failure(exc.errno or errno.EIO, f"enter network namespace {path!r}") from None
            try:
                sock = _netlink_socket(path)
            finally:
                _return_home(home, path)
        finally:
            os.close(home)
    except BaseException:
        os.close(ns_fd)
        raise
    return ns_fd, sock
