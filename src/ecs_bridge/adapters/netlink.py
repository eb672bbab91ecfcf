"""The kernel port over pyroute2's netlink `IPRoute`, for real hosts.

A namespace handle is a netlink socket created inside that namespace by
`netns_entry.connect_in` (the only code that enters a namespace) and handed to
`IPRoute(fileno=...)`; pyroute2's own `netns=` argument, which forks a child per
socket, is not used. pyroute2 costs about 90 ms to import, so it is imported on
first use only.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from ecs_bridge.adapters.kernel_common import (
    address_error,
    describe_route,
    describe_set,
    failure,
    fits_ifname,
    link_error,
    normalize_mac,
    route_error,
)
from ecs_bridge.adapters.netlink_msgs import (
    MAIN_TABLE,
    address_from_msg,
    link_from_msg,
    pyroute2,
    refused,
    route_from_msg,
)
from ecs_bridge.adapters.netns_entry import THREAD_NETNS, connect_in
from ecs_bridge.domain.errors import KernelError, LinkExists, LinkNotFound
from ecs_bridge.domain.ports import KernelAddress, KernelRoute, Link, Namespace
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork

__all__ = ["NetlinkKernel", "NetlinkNamespace"]

IFA_F_NODAD = 0x02
RT_SCOPE_LINK = 253
RT_SCOPE_NOWHERE = 255
"""In a delete request: match a route of any scope (as `ip route del` does)."""


class NetlinkNamespace:
    """One network namespace, through a netlink socket bound to it. See `Namespace`."""

    def __init__(self, path: str, ns_fd: int, ipr: Any) -> None:
        self._path = path
        self._ns_fd = ns_fd
        self._ipr = ipr

    @property
    def path(self) -> str:
        return self._path

    def fileno(self) -> int:
        """The namespace's file descriptor, into which veth peers are created."""
        self._nl()
        return self._ns_fd

    def find_link(self, name: str) -> Link | None:
        if not fits_ifname(name):
            return None  # no interface can have this name
        try:
            with refused(lambda code: link_error(code, f"look up link {name!r}", name)):
                return link_from_msg(self._nl().link("get", ifname=name)[0])
        except LinkNotFound:
            return None

    def list_links(self) -> list[Link]:
        with refused(lambda code: failure(code, "list links")):
            return [link_from_msg(msg) for msg in self._nl().link("dump")]

    def add_bridge(self, name: str, *, mtu: int, mac: str) -> None:
        what = f"add bridge {name!r}"
        address = normalize_mac(mac, what=what)
        with refused(lambda code: link_error(code, what, name)):
            self._nl().link("add", ifname=name, kind="bridge", mtu=mtu, address=address)

    def add_veth(self, name: str, *, peer_name: str, peer_ns: Namespace, mtu: int) -> None:
        if not isinstance(peer_ns, NetlinkNamespace):
            raise TypeError(f"{peer_ns!r} is not a NetlinkNamespace")
        what = f"add veth {name!r} with peer {peer_name!r} in {peer_ns.path or 'the host'}"
        peer = {"ifname": peer_name, "net_ns_fd": peer_ns.fileno(), "mtu": mtu}
        try:
            with refused(lambda code: link_error(code, what, name)):
                self._nl().link("add", ifname=name, kind="veth", mtu=mtu, peer=peer)
        except LinkExists:
            if self.find_link(name) is None:
                raise LinkExists(peer_name) from None  # the name taken is the peer's
            raise

    def delete_link(self, name: str) -> None:
        with refused(lambda code: link_error(code, f"delete link {name!r}", name)):
            self._nl().link("del", ifname=name)

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
        changes: dict[str, object] = {}
        if mac is not None:
            changes["address"] = normalize_mac(mac, what=what)
        if mtu is not None:
            changes["mtu"] = mtu
        if up is not None:
            changes["state"] = "up" if up else "down"
        if master is not None:
            changes["master"] = self._index(master)
        if alias is not None:
            changes["ifalias"] = alias
        with refused(lambda code: link_error(code, what, name)):
            self._nl().link("set", ifname=name, **changes)

    def list_addresses(self, name: str) -> list[KernelAddress]:
        index = self._index(name)
        with refused(lambda code: failure(code, f"list addresses of {name!r}")):
            return [address_from_msg(msg) for msg in self._nl().get_addr(index=index)]

    def add_address(self, name: str, address: IPInterface, *, nodad: bool = False) -> None:
        what = f"add address {address.with_prefixlen} to {name!r}"
        request: dict[str, object] = {
            "index": self._index(name),
            "address": str(address.ip),
            "prefixlen": address.network.prefixlen,
        }
        if nodad and address.version == 6:
            request["flags"] = IFA_F_NODAD
        with refused(lambda code: address_error(code, what, name, address)):
            self._nl().addr("add", **request)

    def delete_address(self, name: str, address: IPInterface) -> None:
        what = f"delete address {address.with_prefixlen} from {name!r}"
        index = self._index(name)
        with refused(lambda code: address_error(code, what, name, address)):
            self._nl().addr("del", index=index, address=str(address.ip),
                            prefixlen=address.network.prefixlen)

    def list_routes(self, name: str) -> list[KernelRoute]:
        index = self._index(name)
        routes: list[KernelRoute] = []
        with refused(lambda code: failure(code, f"list routes of {name!r}")):
            for family in (socket.AF_INET, socket.AF_INET6):
                msgs = self._nl().get_routes(family=family, table=MAIN_TABLE, oif=index)
                routes += [r for r in (route_from_msg(m, index) for m in msgs) if r is not None]
        return routes

    def add_route(self, name: str, dst: IPNetwork, *, gw: IPAddress | None = None) -> None:
        request = self._route(name, dst, gw)
        if gw is None and dst.version == 4:
            request["scope"] = RT_SCOPE_LINK  # on-link, as `ip route add ... dev` makes it
        what = describe_route("add", name, dst, gw)
        with refused(lambda code: route_error(code, what, name, dst)):
            self._nl().route("add", **request)

    def delete_route(self, name: str, dst: IPNetwork, *, gw: IPAddress | None = None) -> None:
        request = self._route(name, dst, gw)
        if dst.version == 4:
            request["scope"] = RT_SCOPE_NOWHERE  # any scope: prefix routes are scope link
        what = describe_route("delete", name, dst, gw)
        with refused(lambda code: route_error(code, what, name, dst)):
            self._nl().route("del", **request)

    def close(self) -> None:
        """Close the socket and the namespace fd; closing again does nothing."""
        if self._ipr is not None:
            ipr, self._ipr = self._ipr, None
            ipr.close()
            os.close(self._ns_fd)

    def _route(self, name: str, dst: IPNetwork, gw: IPAddress | None) -> dict[str, object]:
        request: dict[str, object] = {
            "dst": dst.with_prefixlen, "oif": self._index(name), "table": MAIN_TABLE,
        }
        if gw is not None:
            request["gateway"] = str(gw)
        return request

    def _index(self, name: str) -> int:
        """The index of interface `name`; `LinkNotFound` if there is none."""
        if not fits_ifname(name):
            raise LinkNotFound(name)
        with refused(lambda code: link_error(code, f"look up link {name!r}", name)):
            return int(self._nl().link("get", ifname=name)[0]["index"])

    def _nl(self) -> Any:
        if self._ipr is None:
            raise KernelError(f"namespace handle {self._path or 'host'!r} is closed")
        return self._ipr


class NetlinkKernel:
    """The `Kernel` port: `host()` is the calling thread's namespace, `open()` any other.

    It remembers the handles it made, so `close()` (or `with`) closes them all.
    """

    def __init__(self) -> None:
        self._handles: list[NetlinkNamespace] = []

    def host(self) -> NetlinkNamespace:
        ns_fd = os.open(THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
        return self._handle("", ns_fd, None)

    def open(self, path: str) -> NetlinkNamespace:
        ns_fd, sock = connect_in(path)
        return self._handle(path, ns_fd, sock.detach())

    def _handle(self, path: str, ns_fd: int, sock_fd: int | None) -> NetlinkNamespace:
        iproute = pyroute2()[0]
        try:
            ipr = iproute() if sock_fd is None else iproute(fileno=sock_fd)
        except BaseException:
            os.close(ns_fd)
            if sock_fd is not None:
                os.close(sock_fd)
            raise
        handle = NetlinkNamespace(path, ns_fd, ipr)
        self._handles.append(handle)
        return handle

    def close(self) -> None:
        """Close every handle this kernel opened."""
        for handle in self._handles:
            handle.close()
        self._handles.clear()

    def __enter__(self) -> NetlinkKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
