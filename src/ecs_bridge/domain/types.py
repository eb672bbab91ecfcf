"""Value types shared by both plugins: interfaces, IP configs, routes, the result."""

from __future__ import annotations

import ipaddress
from typing import TypeAlias

from attrs import field, frozen

__all__ = [
    "DNS",
    "IPAddress",
    "IPConfig",
    "IPInterface",
    "IPNetwork",
    "Interface",
    "Result",
    "Route",
    "family_of",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface: TypeAlias = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


def family_of(value: IPAddress | IPInterface | IPNetwork) -> int:
    """4 or 6."""
    return value.version


@frozen
class Route:
    """A route for the container: destination and an optional next hop."""

    dst: IPNetwork
    gw: IPAddress | None = None


@frozen
class IPConfig:
    """One address with its prefix, its gateway, and the result interface it is on."""

    address: IPInterface
    gateway: IPAddress | None = None
    interface: int | None = None


@frozen
class Interface:
    """An interface of the result; `sandbox` is set for the container's end."""

    name: str
    mac: str = ""
    sandbox: str = ""


@frozen
class DNS:
    nameservers: tuple[str, ...] = ()
    domain: str = ""
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.nameservers or self.domain or self.search or self.options)


@frozen
class Result:
    """A CNI result, independent of the wire version it is printed in."""

    interfaces: tuple[Interface, ...] = field(default=())
    ips: tuple[IPConfig, ...] = field(default=())
    routes: tuple[Route, ...] = field(default=())
    dns: DNS = field(factory=DNS)
