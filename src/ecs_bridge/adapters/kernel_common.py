"""What both kernel adapters share: how a refused request is reported, and MAC syntax.

The netlink adapter and the fake kernel turn an errno into the domain's errors
through these functions only, so the contract tests can hold both to the same
exception types and the same messages.
"""

from __future__ import annotations

import errno
import os
import re

from ecs_bridge.domain.errors import (
    AddressExists,
    KernelError,
    LinkExists,
    LinkNotFound,
    RouteExists,
)
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork

__all__ = [
    "IFNAMSIZ",
    "address_error",
    "describe_route",
    "describe_set",
    "failure",
    "fits_ifname",
    "link_error",
    "normalize_mac",
    "route_error",
]

IFNAMSIZ = 16
"""The kernel's buffer for an interface name, the terminating NUL included."""

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def failure(code: int, what: str) -> KernelError:
    """`cannot <what>: <strerror> (errno <code>)`: the errno the domain has no type for."""
    return KernelError(f"cannot {what}", f"{os.strerror(code)} (errno {code})")


def link_error(code: int, what: str, name: str) -> KernelError:
    """A refused link request: ENODEV is `LinkNotFound`, EEXIST `LinkExists`."""
    if code == errno.ENODEV:
        return LinkNotFound(name)
    if code == errno.EEXIST:
        return LinkExists(name)
    return failure(code, what)


def address_error(code: int, what: str, link: str, address: IPInterface) -> KernelError:
    """A refused address request: ENODEV is `LinkNotFound`, EEXIST `AddressExists`."""
    if code == errno.ENODEV:
        return LinkNotFound(link)
    if code == errno.EEXIST:
        return AddressExists(link, address.with_prefixlen)
    return failure(code, what)


def route_error(code: int, what: str, link: str, dst: IPNetwork) -> KernelError:
    """A refused route request: ENODEV is `LinkNotFound`, EEXIST `RouteExists`."""
    if code == errno.ENODEV:
        return LinkNotFound(link)
    if code == errno.EEXIST:
        return RouteExists(link, str(dst))
    return failure(code, what)


def fits_ifname(name: str) -> bool:
    """Whether the kernel could hold an interface of this name at all (length only)."""
    return 0 < len(name.encode()) < IFNAMSIZ


def normalize_mac(mac: str, *, what: str) -> str:
    """`mac` lower-cased; `KernelError` (EINVAL) unless it is six colon-separated octets."""
    lowered = mac.strip().lower()
    if not _MAC.fullmatch(lowered):
        raise KernelError(f"cannot {what}", f"invalid MAC address {mac!r}")
    return lowered


def describe_set(name: str, *, up: bool | None, mtu: int | None, mac: str | None,
                 master: str | None, alias: str | None = None) -> str:
    """`set up True, mtu 1500 on link 'eth0'`: the changes asked for, for messages."""
    asked = (("up", up), ("mtu", mtu), ("mac", mac), ("master", master), ("alias", alias))
    changes = ", ".join(f"{key} {value}" for key, value in asked if value is not None)
    return f"set {changes or 'nothing'} on link {name!r}"


def describe_route(verb: str, name: str, dst: IPNetwork, gw: IPAddress | None) -> str:
    """`add route to 10.0.0.0/8 via 10.0.0.1 on 'eth0'`, for messages."""
    via = f" via {gw}" if gw is not None else ""
    return f"{verb} route to {dst}{via} on {name!r}"
