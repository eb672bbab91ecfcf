"""The fake kernel's rules for addresses, routes and link state, as Linux has them.

- An address on an up link makes its prefix route (IPv4: the network, scope link,
  none for /32; IPv6: the network, even a /128); deleting the address takes it
  away, and deleting a link's last IPv4 address flushes its IPv4 routes.
- A link going down loses all its routes and IPv6 addresses; coming up, its
  addresses' prefix routes return. Routes cannot be added out of a down link.
- A route via a gateway needs an on-link route of that link covering it (IPv4
  ENETUNREACH, IPv6 EHOSTUNREACH); IPv6 link-local gateways need none.
- A destination already in the table with the same metric, out of any link, via
  any gateway: EEXIST. Kernel routes use metric 0 (IPv4) and 256 (IPv6), static
  ones 0 and 1024, so an IPv6 static route may duplicate a prefix route.
- Once a link is up with carrier it gets its IPv6 link-local address and fe80::/64,
  and DAD ends (immediately here; about a second on Linux).
"""

from __future__ import annotations

import errno
import ipaddress

from ecs_bridge.adapters.fake_netstate import Errno, FakeAddress, FakeLink, FakeRoute
from ecs_bridge.domain.ports import SCOPE_HOST, SCOPE_LINK, SCOPE_UNIVERSE
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork

__all__ = [
    "add_address",
    "add_route",
    "delete_address",
    "delete_route",
    "list_routes",
    "scope_of",
    "set_up",
    "settle",
]

STATIC_METRIC = {4: 0, 6: 1024}
KERNEL_METRIC = {4: 0, 6: 256}
_LINKLOCAL = ipaddress.IPv6Network("fe80::/64")


def scope_of(address: IPInterface) -> int:
    """IPv6 scope follows the address; IPv4 is global unless asked otherwise."""
    if address.version == 6 and address.ip.is_link_local:
        return SCOPE_LINK
    if address.version == 6 and address.ip.is_loopback:
        return SCOPE_HOST
    return SCOPE_UNIVERSE


def add_address(link: FakeLink, address: IPInterface, *, nodad: bool) -> None:
    """EEXIST for the same IPv4 address and prefix, or the same IPv6 address."""
    if any(_same(present.address, address) for present in link.addresses):
        raise Errno(errno.EEXIST)
    link.addresses.append(FakeAddress(address, scope_of(address), nodad, link.carrier()))
    if link.up:
        _add_prefix_route(link, address)


def delete_address(link: FakeLink, address: IPInterface) -> None:
    """EADDRNOTAVAIL unless exactly this address and prefix is there."""
    match = [a for a in link.addresses if a.address.with_prefixlen == address.with_prefixlen]
    if not match:
        raise Errno(errno.EADDRNOTAVAIL)
    link.addresses.remove(match[0])
    if not any(a.address.network == address.network for a in link.addresses):
        prefix = _prefix_route(link, address)
        link.ns.routes = [r for r in link.ns.routes if r != prefix]
    if address.version == 4 and not any(a.address.version == 4 for a in link.addresses):
        _flush(link, version=4)  # the link's last IPv4 address: IPv4 is off on it


def add_route(link: FakeLink, dst: IPNetwork, gw: IPAddress | None) -> None:
    if gw is None or (gw.version == 6 and gw.is_link_local):
        if not link.up:
            raise Errno(errno.ENETDOWN)
    elif not _on_link(link, gw):
        raise Errno(errno.ENETUNREACH if gw.version == 4 else errno.EHOSTUNREACH)
    scope = SCOPE_LINK if gw is None and dst.version == 4 else SCOPE_UNIVERSE
    route = FakeRoute(link.index, dst, gw, scope, STATIC_METRIC[dst.version])
    if any(_clash(present, route) for present in link.ns.routes):
        raise Errno(errno.EEXIST)
    link.ns.routes.append(route)


def delete_route(link: FakeLink, dst: IPNetwork, gw: IPAddress | None) -> None:
    """The lowest-metric route to `dst` out of `link` (via `gw` if given); else ESRCH."""
    match = sorted(
        (r for r in link.ns.routes
         if r.oif == link.index and r.dst == dst and (gw is None or r.gw == gw)),
        key=lambda r: r.metric,
    )
    if not match:
        raise Errno(errno.ESRCH)
    link.ns.routes.remove(match[0])


def list_routes(link: FakeLink) -> list[FakeRoute]:
    routes = [r for r in link.ns.routes if r.oif == link.index]
    return sorted(routes, key=lambda r: (r.dst.version, r.dst, r.metric, str(r.gw)))


def set_up(link: FakeLink, up: bool) -> None:
    """Down: routes and IPv6 addresses go. Up: the addresses' prefix routes return."""
    if up == link.up:
        return
    link.up = up
    if not up:
        _flush(link, version=None)
        link.addresses = [a for a in link.addresses if a.address.version == 4]
        link.linklocal_done = False
        return
    if link.loopback:
        _loopback_addresses(link)
    for present in link.addresses:
        _add_prefix_route(link, present.address)


def settle(link: FakeLink) -> None:
    """Carrier's consequences: DAD ends, and the link-local address and route appear."""
    if not link.carrier() or link.loopback:
        return
    for present in link.addresses:
        present.dad_done = True
    if not link.linklocal_done:
        link.linklocal_done = True
        address = ipaddress.IPv6Interface(f"{_eui64(link.mac)}/64")
        if not any(_same(a.address, address) for a in link.addresses):
            link.addresses.append(FakeAddress(address, SCOPE_LINK, dad_done=True))
        _add_prefix_route(link, address)


def _same(a: IPInterface, b: IPInterface) -> bool:
    if a.version == 4:
        return a.with_prefixlen == b.with_prefixlen
    return a.ip == b.ip


def _prefix_route(link: FakeLink, address: IPInterface) -> FakeRoute | None:
    if address.version == 4 and address.network.prefixlen == 32:
        return None
    scope = SCOPE_LINK if address.version == 4 else SCOPE_UNIVERSE
    return FakeRoute(link.index, address.network, None, scope, KERNEL_METRIC[address.version],
                     "kernel")


def _add_prefix_route(link: FakeLink, address: IPInterface) -> None:
    if link.loopback:
        return  # the kernel puts loopback prefixes in the local table, not main
    route = _prefix_route(link, address)
    if route is not None and route not in link.ns.routes:
        link.ns.routes.append(route)


def _flush(link: FakeLink, *, version: int | None) -> None:
    link.ns.routes = [
        r for r in link.ns.routes
        if r.oif != link.index or (version is not None and r.dst.version != version)
    ]


def _on_link(link: FakeLink, gw: IPAddress) -> bool:
    """An on-link route of `link` covers `gw` (IPv4: scope link, as a gateway needs)."""
    return any(
        r.oif == link.index and r.gw is None and gw in r.dst
        and (gw.version == 6 or r.scope >= SCOPE_LINK)
        for r in link.ns.routes
    )


def _clash(present: FakeRoute, new: FakeRoute) -> bool:
    """One route per destination and metric in the table, whatever its link or gateway."""
    return present.dst == new.dst and present.metric == new.metric


def _loopback_addresses(link: FakeLink) -> None:
    if not any(a.address.version == 4 for a in link.addresses):
        link.addresses.append(FakeAddress(ipaddress.IPv4Interface("127.0.0.1/8"), SCOPE_HOST))
    link.addresses.append(FakeAddress(ipaddress.IPv6Interface("::1/128"), SCOPE_HOST, True))


def _eui64(mac: str) -> ipaddress.IPv6Address:
    octets = bytearray.fromhex(mac.replace(":", ""))
    octets[0] ^= 0x02
    iid = bytes(octets[:3]) + b"\xff\xfe" + bytes(octets[3:])
    return ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid)
