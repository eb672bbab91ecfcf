"""Namespace ids over netlink, for the operator's view (`inventory.NetnsIds`).

The host namespace numbers the other namespaces it has seen (`ip netns list-id`):
a veth's IFLA_LINK_NETNSID names its peer's namespace by that number, and
RTM_GETNSID asked with a namespace's file descriptor answers it. Read-only; the
plugins never use this.
"""

from __future__ import annotations

import os
from typing import Any

from ecs_bridge.adapters.kernel_common import failure
from ecs_bridge.adapters.netlink_msgs import pyroute2, refused
from ecs_bridge.domain.errors import KernelError

__all__ = ["NetlinkNetnsIds"]

NSID_NOT_ASSIGNED = -1


class NetlinkNetnsIds:
    """`NetnsIds` of the calling thread's namespace, through one netlink socket."""

    def __init__(self) -> None:
        self._ipr: Any = None

    def of_peers(self) -> dict[int, int]:
        with refused(lambda code: failure(code, "list links")):
            links = self._nl().link("dump")
        ids = {}
        for msg in links:
            nsid = msg.get_attr("IFLA_LINK_NETNSID")
            if nsid is not None and int(nsid) != NSID_NOT_ASSIGNED:
                ids[int(msg["index"])] = int(nsid)
        return ids

    def of(self, path: str) -> int | None:
        try:  # O_NONBLOCK: a FIFO planted at the path must not hang the open
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            with refused(lambda code: failure(code, f"get the id of namespace {path!r}")):
                answer = self._nl().get_netnsid(fd=fd)
        except KernelError:
            return None  # not a network namespace (EINVAL): no id to have
        finally:
            os.close(fd)
        nsid = None if answer is None else answer.get("nsid")
        return None if nsid is None or int(nsid) == NSID_NOT_ASSIGNED else int(nsid)

    def close(self) -> None:
        if self._ipr is not None:
            ipr, self._ipr = self._ipr, None
            ipr.close()

    def _nl(self) -> Any:
        if self._ipr is None:
            self._ipr = pyroute2()[0]()
        return self._ipr
