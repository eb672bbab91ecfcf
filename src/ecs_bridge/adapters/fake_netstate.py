"""The fake kernel's state, open to inspection by tests, and its rules for links.

Each rule copies what Linux does (checked by the kernel contract tests against the
real one): names at most 15 bytes without `/`, `:` or blanks (ERANGE, EINVAL), MTU
68-65535 (EINVAL), unicast non-zero MACs (EADDRNOTAVAIL), a master that is a bridge
(EOPNOTSUPP) and not the link itself (ELOOP), a veth pair created and deleted as a
whole, and a bridge whose MTU follows its smallest port until set by hand. A
refused request raises `Errno` with the code the kernel answers.
"""

from __future__ import annotations

import errno

from attrs import Factory, define, frozen

from ecs_bridge.adapters.kernel_common import IFNAMSIZ
from ecs_bridge.domain.ports import Link
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork

__all__ = [
    "DEFAULT_BRIDGE_MTU",
    "MAX_MTU",
    "MIN_MTU",
    "Errno",
    "FakeAddress",
    "FakeLink",
    "FakeNetns",
    "FakeRoute",
]

MIN_MTU = 68
MAX_MTU = 65535
DEFAULT_BRIDGE_MTU = 1500
"""What a bridge's MTU falls back to when its last port leaves (ETH_DATA_LEN)."""


class Errno(Exception):
    """A request the fake kernel refuses, with the errno Linux would answer."""

    def __init__(self, code: int) -> None:
        super().__init__(code, errno.errorcode.get(code, "?"))
        self.code = code


@define
class FakeAddress:
    address: IPInterface
    scope: int
    nodad: bool = False
    dad_done: bool = False
    """Duplicate address detection finished (the fake's DAD ends once the link has carrier)."""

    @property
    def tentative(self) -> bool:
        """An IPv6 address still under DAD, as `ip addr` flags it `tentative`."""
        return self.address.version == 6 and not (self.nodad or self.dad_done)


@frozen
class FakeRoute:
    """A main-table route; `proto` is `kernel` for those an address or link-local made."""

    oif: int
    dst: IPNetwork
    gw: IPAddress | None
    scope: int
    metric: int
    proto: str = "static"


@define(eq=False)
class FakeLink:
    ns: FakeNetns
    name: str
    index: int
    kind: str
    mtu: int
    mac: str
    up: bool = False
    master: FakeLink | None = None
    peer: FakeLink | None = None
    addresses: list[FakeAddress] = Factory(list)
    alias: str = ""
    mtu_pinned: bool = False
    """A bridge whose MTU was set by hand no longer follows its ports' MTU."""
    linklocal_done: bool = False
    """The IPv6 link-local address was made since the link last came up with carrier."""

    @property
    def loopback(self) -> bool:
        return self.name == "lo" and self.kind == ""

    def ports(self) -> list[FakeLink]:
        return [link for link in self.ns.links.values() if link.master is self]

    def carrier(self) -> bool:
        """Up, and for a veth its peer up too, for a bridge a port with carrier."""
        if not self.up:
            return False
        if self.kind == "veth":
            return self.peer is not None and self.peer.up
        if self.kind == "bridge":
            return any(port.carrier() for port in self.ports())
        return True

    def as_link(self) -> Link:
        return Link(
            name=self.name, index=self.index, kind=self.kind, mtu=self.mtu, mac=self.mac,
            up=self.up, master=self.master.index if self.master else None,
            peer_index=self.peer.index if self.peer else None, alias=self.alias,
        )


@define(eq=False)
class FakeNetns:
    path: str
    links: dict[str, FakeLink] = Factory(dict)
    routes: list[FakeRoute] = Factory(list)
    next_index: int = 1
    handles: int = 0
    """Open handles: a removed namespace lives on until the last one is closed."""
    removed: bool = False

    def link(self, name: str) -> FakeLink:
        """The link named `name`; ENODEV if there is none."""
        if name not in self.links:
            raise Errno(errno.ENODEV)
        return self.links[name]

    def new_link(self, name: str, *, kind: str, mtu: int, mac: str) -> FakeLink:
        """A new link, down, with the next free index. No checks: see `check_new`."""
        link = FakeLink(ns=self, name=name, index=self.next_index, kind=kind, mtu=mtu, mac=mac)
        self.next_index += 1
        self.links[name] = link
        return link

    def check_new(self, name: str, *, mtu: int, mac: str | None = None) -> None:
        check_ifname(name)
        if name in self.links:
            raise Errno(errno.EEXIST)
        check_mtu(mtu)
        if mac is not None:
            check_mac(mac)

    def forget(self, link: FakeLink) -> None:
        """Remove `link` alone: its routes, its ports' and its bridge's ties to it."""
        for port in link.ports():
            port.master = None
        bridge, link.master = link.master, None
        if bridge is not None:
            follow_ports(bridge)
        self.routes = [route for route in self.routes if route.oif != link.index]
        del self.links[link.name]


def delete_link(link: FakeLink) -> None:
    """Delete `link`; a veth takes its peer with it, wherever that is."""
    link.ns.forget(link)
    if link.peer is not None and link.peer.name in link.peer.ns.links:
        link.peer.ns.forget(link.peer)


def set_link(link: FakeLink, *, mtu: int | None, mac: str | None,
             master: FakeLink | None) -> None:
    """Check every change first, then make them (`up` is the caller's: see fake_routing)."""
    if mac is not None:
        check_mac(mac)
    if mtu is not None:
        check_mtu(mtu)
    if master is not None:
        check_master(link, master)
        link.master = master
        follow_ports(master)
    if mac is not None:
        link.mac = mac
    if mtu is not None:
        link.mtu = mtu
        link.mtu_pinned = link.kind == "bridge"
        if link.master is not None:
            follow_ports(link.master)


def follow_ports(bridge: FakeLink) -> None:
    """A bridge's MTU is its smallest port's (1500 without ports) unless set by hand."""
    if not bridge.mtu_pinned:
        bridge.mtu = min((port.mtu for port in bridge.ports()), default=DEFAULT_BRIDGE_MTU)


def check_ifname(name: str) -> None:
    if len(name.encode()) >= IFNAMSIZ:
        raise Errno(errno.ERANGE)
    if not name or name in (".", "..") or any(c in "/:" or c.isspace() for c in name):
        raise Errno(errno.EINVAL)


def check_mtu(mtu: int) -> None:
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise Errno(errno.EINVAL)


def check_mac(mac: str) -> None:
    octets = bytes.fromhex(mac.replace(":", ""))
    if octets[0] & 1 or not any(octets):
        raise Errno(errno.EADDRNOTAVAIL)


def check_master(link: FakeLink, master: FakeLink) -> None:
    if master is link:
        raise Errno(errno.ELOOP)
    if master.kind != "bridge":
        raise Errno(errno.EOPNOTSUPP)
