"""pyroute2 at arm's length: its import (on first use), its errors, its messages.

pyroute2 is untyped; every value read from a message is converted here into the
kernel port's values, so nothing typed `Any` leaves this module except the
`IPRoute` class itself.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ecs_bridge.domain.errors import KernelError
from ecs_bridge.domain.ports import KernelAddress, KernelRoute, Link
from ecs_bridge.domain.types import IPAddress, IPNetwork

__all__ = [
    "MAIN_TABLE",
    "address_from_msg",
    "link_from_msg",
    "pyroute2",
    "refused",
    "route_from_msg",
]

IFF_UP = 0x1
MAIN_TABLE = 254
RTN_UNICAST = 1
_MULTICAST6 = ipaddress.IPv6Network("ff00::/8")


@functools.cache
def pyroute2() -> tuple[Any, type[Exception]]:
    """pyroute2's `IPRoute` and `NetlinkError`, imported on first use."""
    from pyroute2.iproute.linux import IPRoute  # noqa: PLC0415 - costly import, paid on use
    from pyroute2.netlink.exceptions import NetlinkError  # noqa: PLC0415

    return IPRoute, NetlinkError


@contextmanager
def refused(convert: Callable[[int], KernelError]) -> Iterator[None]:
    """Turn a refused request (NetlinkError, OSError) into `convert(errno)`."""
    try:
        yield
    except pyroute2()[1] as exc:
        raise convert(int(getattr(exc, "code", errno.EIO))) from None
    except OSError as exc:
        raise convert(exc.errno or errno.EIO) from None


def link_from_msg(msg: Any) -> Link:
    """An RTM_NEWLINK message as a `Link` (kind from IFLA_LINKINFO, up from IFF_UP)."""
    info = msg.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    master = msg.get_attr("IFLA_MASTER")
    peer = msg.get_attr("IFLA_LINK") if kind == "veth" else None
    return Link(
        name=str(msg.get_attr("IFLA_IFNAME")),
        index=int(msg["index"]),
        kind=str(kind or ""),
        mtu=int(msg.get_attr("IFLA_MTU")),
        mac=str(msg.get_attr("IFLA_ADDRESS") or "00:00:00:00:00:00").lower(),
        up=bool(int(msg["flags"]) & IFF_UP),
        master=int(master) if master else None,
        peer_index=int(peer) if peer else None,
        alias=str(msg.get_attr("IFLA_IFALIAS") or ""),
    )


def address_from_msg(msg: Any) -> KernelAddress:
    """An RTM_NEWADDR message as a `KernelAddress` (IFA_LOCAL where present: the
    local end, which IFA_ADDRESS is not on a point-to-point link)."""
    addr = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    return KernelAddress(
        address=ipaddress.ip_interface(f"{addr}/{int(msg['prefixlen'])}"),
        scope=int(msg["scope"]),
    )


def route_from_msg(msg: Any, oif: int) -> KernelRoute | None:
    """An RTM_NEWROUTE message as a `KernelRoute`, or None unless it is a unicast
    route of the main table out of `oif` (local, broadcast, multicast are not)."""
    table = msg.get_attr("RTA_TABLE") or msg["table"]
    if int(table) != MAIN_TABLE or int(msg["type"]) != RTN_UNICAST:
        return None
    if msg.get_attr("RTA_OIF") != oif:
        return None
    dst = _network(int(msg["family"]), msg.get_attr("RTA_DST"), int(msg["dst_len"]))
    if isinstance(dst, ipaddress.IPv6Network) and dst.subnet_of(_MULTICAST6):
        return None
    gw = msg.get_attr("RTA_GATEWAY")
    gateway: IPAddress | None = ipaddress.ip_address(str(gw)) if gw else None
    return KernelRoute(dst=dst, gw=gateway, scope=int(msg["scope"]))


def _network(family: int, dst: Any, length: int) -> IPNetwork:
    if dst is None:  # a default route
        if family == socket.AF_INET:
            return ipaddress.IPv4Network((0, length))
        return ipaddress.IPv6Network((0, length))
    return ipaddress.ip_network(f"{dst}/{length}")
