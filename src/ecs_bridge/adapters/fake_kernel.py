"""An in-memory kernel that answers like Linux, for unprivileged tests.

`FakeKernel` holds namespaces keyed by path (`namespaces`, plus `host_ns` for the
process's own), each with links, addresses and routes that tests may inspect
(`fake_netstate`). The rules are in `fake_netstate` (links) and `fake_routing`
(addresses, routes, link state); the kernel contract tests hold them to what the
real kernel does. Errors go through the same functions as the netlink adapter's,
so both raise the same exceptions with the same messages. Interface indexes count
up per namespace and MACs come from `mac_factory`: both are predictable.
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ecs_bridge.adapters import fake_netstate as links
from ecs_bridge.adapters import fake_routing as routing
from ecs_bridge.adapters.fake_netstate import Errno, FakeLink, FakeNetns
from ecs_bridge.adapters.kernel_common import (
    address_error,
    describe_route,
    describe_set,
    fits_ifname,
    link_error,
    normalize_mac,
    route_error,
)
from ecs_bridge.domain.errors import KernelError, LinkExists, LinkNotFound, NamespaceNotFound
from ecs_bridge.domain.ports import KernelAddress, KernelRoute, Link, Namespace
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork

__all__ = ["FakeKernel", "FakeNamespace", "counting_macs"]

LO_MTU = 65536


def counting_macs(prefix: str = "02:fa:ce") -> Callable[[], str]:
    """`02:fa:ce:00:00:01`, `...:02`, ...: locally administered unicast MACs, in order."""
    counter = itertools.count(1)

    def next_mac() -> str:
        n = next(counter)
        return f"{prefix}:{n >> 16 & 0xFF:02x}:{n >> 8 & 0xFF:02x}:{n & 0xFF:02x}"

    return next_mac


@contextmanager
def _refused(convert: Callable[[int], KernelError]) -> Iterator[None]:
    try:
        yield
    except Errno as exc:
        raise convert(exc.code) from None


class FakeKernel:
    """The `Kernel` port in memory. `add_namespace` / `remove_namespace` play `ip netns`."""

    def __init__(self, *, mac_factory: Callable[[], str] | None = None) -> None:
        self.namespaces: dict[str, FakeNetns] = {}
        self.mac_factory = mac_factory or counting_macs()
        self.host_ns = self._new_namespace("")
        self._held: list[FakeNetns] = []  # removed, but a handle still holds them

    def add_namespace(self, path: str) -> FakeNetns:
        """A new namespace at `path` with `lo` up, as `ip netns add; ip link set lo up`."""
        if not path or path in self.namespaces:
            raise ValueError(f"namespace path {path!r} is empty or taken")
        self.namespaces[path] = ns = self._new_namespace(path)
        return ns

    def remove_namespace(self, path: str) -> None:
        """As `ip netns del`: the path goes now; the namespace, with its links and so
        their veth peers, once no handle holds it any more."""
        ns = self.namespaces.pop(path)
        ns.removed = True
        if ns.handles:
            self._held.append(ns)
        else:
            self._destroy(ns)

    def host(self) -> FakeNamespace:
        return self._handle(self.host_ns)

    def open(self, path: str) -> FakeNamespace:
        if path not in self.namespaces:
            raise NamespaceNotFound(path, "No such file or directory")
        return self._handle(self.namespaces[path])

    def settle(self) -> None:
        """Let carrier changes take effect everywhere (DAD, link-local addresses)."""
        for ns in [self.host_ns, *self.namespaces.values(), *self._held]:
            for link in ns.links.values():
                routing.settle(link)

    def release(self, ns: FakeNetns) -> None:
        """A handle on `ns` was closed."""
        ns.handles -= 1
        if ns.removed and not ns.handles:
            self._held.remove(ns)
            self._destroy(ns)

    def _new_namespace(self, path: str) -> FakeNetns:
        ns = FakeNetns(path)
        lo = ns.new_link("lo", kind="", mtu=LO_MTU, mac="00:00:00:00:00:00")
        routing.set_up(lo, True)
        return ns

    def _handle(self, ns: FakeNetns) -> FakeNamespace:
        ns.handles += 1
        return FakeNamespace(self, ns)

    def _destroy(self, ns: FakeNetns) -> None:
        for link in list(ns.links.values()):
            if link.name in ns.links:
                links.delete_link(link)
        self.settle()


class FakeNamespace:
    """A handle on one fake namespace. See `Namespace`."""

    def __init__(self, kernel: FakeKernel, ns: FakeNetns) -> None:
        self.kernel = kernel
        self._path = ns.path
        self._ns: FakeNetns | None = ns

    @property
    def path(self) -> str:
        return self._path

    @property
    def state(self) -> FakeNetns:
        """The namespace's state, for tests to inspect; `KernelError` once closed."""
        if self._ns is None:
            raise KernelError("namespace handle is closed")
        return self._ns

    def find_link(self, name: str) -> Link | None:
        link = self.state.links.get(name) if fits_ifname(name) else None
        return link.as_link() if link else None

    def list_links(self) -> list[Link]:
        return sorted((link.as_link() for link in self.state.links.values()),
                      key=lambda link: link.index)

    def add_bridge(self, name: str, *, mtu: int, mac: str) -> None:
        what = f"add bridge {name!r}"
        address = normalize_mac(mac, what=what)
        with _refused(lambda code: link_error(code, what, name)):
            self.state.check_new(name, mtu=mtu, mac=address)
            self.state.new_link(name, kind="bridge", mtu=mtu, mac=address)

    def add_veth(self, name: str, *, peer_name: str, peer_ns: Namespace, mtu: int) -> None:
        if not isinstance(peer_ns, FakeNamespace) or peer_ns.kernel is not self.kernel:
            raise TypeError(f"{peer_ns!r} is not a namespace of this FakeKernel")
        what = f"add veth {name!r} with peer {peer_name!r} in {peer_ns.path or 'the host'}"
        try:
            with _refused(lambda code: link_error(code, what, name)):
                self._add_veth(name, peer_name, peer_ns.state, mtu)
        except LinkExists:
            if self.find_link(name) is None:
                raise LinkExists(peer_name) from None  # the name taken is the peer's
            raise

    def _add_veth(self, name: str, peer_name: str, peer_ns: FakeNetns, mtu: int) -> None:
        peer_ns.check_new(peer_name, mtu=mtu)
        self.state.check_new(name, mtu=mtu)
        if peer_ns is self.state and peer_name == name:
            raise Errno(errno.EEXIST)
        peer = peer_ns.new_link(peer_name, kind="veth", mtu=mtu, mac=self.kernel.mac_factory())
        link = self.state.new_link(name, kind="veth", mtu=mtu, mac=self.kernel.mac_factory())
        link.peer, peer.peer = peer, link

    def delete_link(self, name: str) -> None:
        with _refused(lambda code: link_error(code, f"delete link {name!r}", name)):
            links.delete_link(self.state.link(name))
        self.kernel.settle()

    def set_link(
        self,
        name: str,
        *,
        up: bool | None = None,
        mtu: int | None = None,
        mac: str | None = None,
        master: str | None = None,
        alias: str | None = None,
    ) -> None:
        what = describe_set(name, up=up, mtu=mtu, mac=mac, master=master, alias=alias)
        address = None if mac is None else normalize_mac(mac, what=what)
        bridge = None if master is None else self._link(master)
        with _refused(lambda code: link_error(code, what, name)):
            link = self.state.link(name)
            links.set_link(link, mtu=mtu, mac=address, master=bridge)
            if alias is not None:
                link.alias = alias
            if up is not None:
                routing.set_up(link, up)
        self.kernel.settle()

    def list_addresses(self, name: str) -> list[KernelAddress]:
        return [KernelAddress(a.address, a.scope) for a in self._link(name).addresses]

    def add_address(self, name: str, address: IPInterface, *, nodad: bool = False) -> None:
        what = f"add address {address.with_prefixlen} to {name!r}"
        link = self._link(name)
        with _refused(lambda code: address_error(code, what, name, address)):
            routing.add_address(link, address, nodad=nodad)

    def delete_address(self, name: str, address: IPInterface) -> None:
        what = f"delete address {address.with_prefixlen} from {name!r}"
        link = self._link(name)
        with _refused(lambda code: address_error(code, what, name, address)):
            routing.delete_address(link, address)

    def list_routes(self, name: str) -> list[KernelRoute]:
        return [KernelRoute(r.dst, r.gw, r.scope) for r in routing.list_routes(self._link(name))]

    def add_route(self, name: str, dst: IPNetwork, *, gw: IPAddress | None = None) -> None:
        link = self._link(name)
        with _refused(lambda code: route_error(code, describe_route("add", name, dst, gw),
                                               name, dst)):
            routing.add_route(link, dst, gw)

    def delete_route(self, name: str, dst: IPNetwork, *, gw: IPAddress | None = None) -> None:
        link = self._link(name)
        with _refused(lambda code: route_error(code, describe_route("delete", name, dst, gw),
                                               name, dst)):
            routing.delete_route(link, dst, gw)

    def close(self) -> None:
        """Release the namespace; closing again does nothing."""
        if self._ns is not None:
            ns, self._ns = self._ns, None
            self.kernel.release(ns)

    def _link(self, name: str) -> FakeLink:
        link = self.state.links.get(name)
        if link is None:
            raise LinkNotFound(name)
        return link
