"""`inventory.NetnsIds` for the fake kernel. Like Linux, the host namespace has an id
for another namespace once a veth spans the two; ids count up from 0 in the order
they are first asked for."""

from __future__ import annotations

from ecs_bridge.adapters.fake_kernel import FakeKernel
from ecs_bridge.adapters.fake_netstate import FakeNetns

__all__ = ["FakeNetnsIds"]


class FakeNetnsIds:
    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        self._ids: dict[FakeNetns, int] = {}

    def of_peers(self) -> dict[int, int]:
        host = self.kernel.host_ns
        return {link.index: self._id(link.peer.ns) for link in host.links.values()
                if link.peer is not None and link.peer.ns is not host}

    def of(self, path: str) -> int | None:
        ns = self.kernel.namespaces.get(path)
        if ns is None:
            return None
        spanned = any(link.peer is not None and link.peer.ns is ns
                      for link in self.kernel.host_ns.links.values())
        return self._id(ns) if spanned or ns in self._ids else None

    def _id(self, ns: FakeNetns) -> int:
        return self._ids.setdefault(ns, len(self._ids))
