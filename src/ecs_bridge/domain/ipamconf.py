"""The `ipam` object of a network config, parsed and validated for ecs-ipam.

Every error is code 7 (invalid network config) and quotes the key and the value.
Unknown keys are ignored. On DEL the `ipam` object may be missing, empty or
without subnets: the owner's addresses are then released by id.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from ecs_bridge.domain import fields
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork, Route

__all__ = ["MAX_PREFIX", "FamilyConfig", "IpamConfig", "parse_ipam_config"]

MAX_PREFIX = {4: 30, 6: 126}
"""The longest prefix that leaves a gateway and one container address."""


@frozen
class FamilyConfig:
    """The pool, gateway, exact address and routes of one address family."""

    subnet: IPNetwork
    gateway: IPAddress
    address: IPAddress | None = None
    """The exact address asked for (`ipv4-address` / `ipv6-address`), if any. Its prefix
    length is not checked: the result carries the subnet's."""
    routes: tuple[Route, ...] = ()

    @property
    def version(self) -> int:
        return self.subnet.version

    @property
    def first(self) -> IPAddress:
        """The first host address: the one after the network address."""
        return self.subnet.network_address + 1

    @property
    def last(self) -> IPAddress:
        """The last host address: before the broadcast for IPv4, the very last for IPv6."""
        end = self.subnet.broadcast_address
        return end - 1 if self.version == 4 else end

    def interface(self, address: IPAddress) -> IPInterface:
        """`address` with the subnet's prefix length, as the result carries it."""
        return ipaddress.ip_interface((address, self.subnet.prefixlen))


@frozen
class IpamConfig:
    type: str
    """The plugin name (`ecs-ipam`); `` only for an empty `ipam` on DEL."""
    id: str
    """`ipam.id`, or `` when absent: the container id then names the owner."""
    families: tuple[FamilyConfig, ...] = ()
    """IPv4 first."""

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes of the result: IPv4's, then IPv6's."""
        return tuple(route for family in self.families for route in family.routes)


def parse_ipam_config(config: Mapping[str, Any], *, command: str) -> IpamConfig:
    """The `ipam` object of `config`; subnets are required except on DEL."""
    ipam = fields.opt_object(config, "ipam", "ipam")
    if not ipam:
        if command == "DEL":
            return IpamConfig(type="", id="")
        what = "missing" if ipam is None else "empty"
        raise fields.invalid(f'IPAM config {what}: the network config needs an "ipam" object')
    plugin = fields.opt_str(ipam, "type", "ipam.type")
    if not plugin:
        raise fields.invalid(f'ipam.type {plugin!r} is missing or empty: it names the plugin')
    families = tuple(f for f in (_family(ipam, 4), _family(ipam, 6)) if f is not None)
    if not families and command != "DEL":
        raise fields.invalid(
            "ipam needs ipam.ipv4-subnet or ipam.ipv6-subnet (or both): found neither"
        )
    return IpamConfig(type=plugin, id=fields.opt_str(ipam, "id", "ipam.id") or "",
                      families=families)


def _family(ipam: Mapping[str, Any], version: int) -> FamilyConfig | None:
    key = f"ipv{version}"
    raw_subnet = ipam.get(f"{key}-subnet")
    if raw_subnet is None:
        others = [k for k in ("address", "gateway", "routes") if ipam.get(f"{key}-{k}") is not None]
        if others:
            raise fields.invalid(f"ipam.{key}-{others[0]} is set but ipam.{key}-subnet is missing")
        return None
    subnet = _subnet(raw_subnet, version)
    gateway = _gateway(ipam, subnet)
    return FamilyConfig(
        subnet=subnet,
        gateway=gateway,
        address=_address(ipam, subnet, gateway),
        routes=_routes(ipam, version),
    )


def _subnet(raw: object, version: int) -> IPNetwork:
    where = f"ipam.ipv{version}-subnet"
    subnet = fields.parse_network(raw, where, version=version)
    if subnet.prefixlen > MAX_PREFIX[version]:
        raise fields.invalid(
            f"{where} {str(raw)!r} is too small to allocate from",
            f"the prefix length must be at most /{MAX_PREFIX[version]}",
        )
    return subnet


def _gateway(ipam: Mapping[str, Any], subnet: IPNetwork) -> IPAddress:
    where = f"ipam.ipv{subnet.version}-gateway"
    raw = ipam.get(f"ipv{subnet.version}-gateway")
    if raw is None:
        return subnet.network_address + 1
    gateway = fields.parse_address(raw, where, version=subnet.version)
    _check_host(gateway, subnet, where=where, text=str(raw))
    return gateway


def _address(ipam: Mapping[str, Any], subnet: IPNetwork, gateway: IPAddress) -> IPAddress | None:
    where = f"ipam.ipv{subnet.version}-address"
    raw = ipam.get(f"ipv{subnet.version}-address")
    if raw is None:
        return None
    address = fields.parse_interface(raw, where, version=subnet.version).ip
    _check_host(address, subnet, where=where, text=str(raw))
    if address == gateway:
        raise fields.invalid(f"{where} {str(raw)!r} is the gateway of ipam.ipv{subnet.version}"
                             f"-subnet {subnet.with_prefixlen!r}")
    return address


def _check_host(address: IPAddress, subnet: IPNetwork, *, where: str, text: str) -> None:
    name = f"ipam.ipv{subnet.version}-subnet {subnet.with_prefixlen!r}"
    problem = ""
    if address not in subnet:
        problem = f"is not in {name}"
    elif address == subnet.network_address:
        problem = f"is the network address of {name}"
    elif subnet.version == 4 and address == subnet.broadcast_address:
        problem = f"is the broadcast address of {name}"
    if problem:
        raise fields.invalid(f"{where} {text!r} {problem}")


def _routes(ipam: Mapping[str, Any], version: int) -> tuple[Route, ...]:
    where = f"ipam.ipv{version}-routes"
    routes = []
    for i, raw in enumerate(fields.opt_list(ipam, f"ipv{version}-routes", where)):
        item = fields.require_object(raw, f"{where}[{i}]")
        if item.get("dst") is None:
            raise fields.invalid(f"{where}[{i}] {item!r} has no \"dst\"")
        dst = fields.parse_network(item["dst"], f"{where}[{i}].dst", version=version)
        gw = item.get("gw")
        routes.append(Route(dst=dst, gw=None if gw in (None, "") else
                            fields.parse_address(gw, f"{where}[{i}].gw", version=version)))
    return tuple(routes)
