"""Pure computations of what ADD configures: checked exhaustively without a kernel."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

from ecs_bridge.domain.errors import INVALID_ENV, IPAM_FAILURE, CniError
from ecs_bridge.domain.ports import SCOPE_UNIVERSE, KernelAddress
from ecs_bridge.domain.types import IPAddress, IPConfig, IPInterface, Result, Route

__all__ = [
    "ALIAS_PREFIX",
    "MAX_ALIAS_BYTES",
    "attachment_alias",
    "bridge_address",
    "bridge_mac",
    "chain_result",
    "conflicting_address",
    "container_mac",
    "container_routes",
    "gateway_routes",
    "host_veth_name",
    "parse_attachment_alias",
    "validate_ipam_result",
]

RandomBytes = Callable[[int], bytes]


ALIAS_PREFIX = "cni:"


MAX_ALIAS_BYTES = 255
"""The kernel's limit on an interface alias (IFALIASZ - 1); a longer one is ERANGE."""


def attachment_alias(container_id: str, ifname: str) -> str:
    """The alias marking a host veth with the attachment it serves: `cni:<id>/<ifname>`.

    Neither part can hold a `/` (CNI_CONTAINERID and CNI_IFNAME are validated). A
    container id too long for the kernel's alias is error 4, so ADD calls this before
    it changes anything."""
    alias = f"{ALIAS_PREFIX}{container_id}/{ifname}"
    if len(alias.encode()) > MAX_ALIAS_BYTES:
        limit = MAX_ALIAS_BYTES - len(f"{ALIAS_PREFIX}/{ifname}".encode())
        raise CniError(INVALID_ENV, f"CNI_CONTAINERID {container_id!r} is longer than "
                       f"{limit} bytes", "ecs-bridge marks the host veth with it in an "
                       f"interface alias of at most {MAX_ALIAS_BYTES} bytes")
    return alias


def parse_attachment_alias(alias: str) -> tuple[str, str] | None:
    """(containerID, ifname) from an alias `attachment_alias` made, else None."""
    if not alias.startswith(ALIAS_PREFIX):
        return None
    container_id, sep, ifname = alias[len(ALIAS_PREFIX):].rpartition("/")
    return (container_id, ifname) if sep and container_id and ifname else None


def chain_result(prev: Result | None, ours: Result) -> Result:
    """Our result added to the previous plugin's, as a chained ADD must print it:
    their interfaces first (our IP configs' indexes shift past them), then ours."""
    if prev is None:
        return ours
    shift = len(prev.interfaces)
    ips = tuple(
        ip if ip.interface is None else IPConfig(ip.address, ip.gateway, ip.interface + shift)
        for ip in ours.ips
    )
    return Result(
        interfaces=prev.interfaces + ours.interfaces,
        ips=prev.ips + ips,
        routes=prev.routes + ours.routes,
        dns=ours.dns if not ours.dns.is_empty() else prev.dns,
    )


def host_veth_name(random_bytes: RandomBytes) -> str:
    """`veth` and 8 lower-case hex digits, as the original names the host end."""
    return "veth" + random_bytes(4).hex()


def bridge_mac(random_bytes: RandomBytes) -> str:
    """A random, locally administered, unicast MAC: pinned so the bridge MAC never flaps."""
    raw = bytearray(random_bytes(6))
    raw[0] = (raw[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


def container_mac(ips: Sequence[IPConfig]) -> str | None:
    """`0a:58` and the four bytes of the first IPv4 address; None for IPv6-only."""
    v4 = next((ip.address.ip for ip in ips if ip.address.version == 4), None)
    if v4 is None:
        return None
    return ":".join(f"{b:02x}" for b in b"\x0a\x58" + v4.packed)


def validate_ipam_result(result: Result, plugin: str) -> None:
    """One or two IP configs (at most one per family), each with a gateway in its subnet."""
    if not result.ips:
        raise CniError(IPAM_FAILURE, f"IPAM plugin {plugin} returned no IP config")
    families = [ip.address.version for ip in result.ips]
    if len(families) > 2 or len(set(families)) != len(families):
        listed = ", ".join(ip.address.with_prefixlen for ip in result.ips)
        raise CniError(
            IPAM_FAILURE,
            f"IPAM plugin {plugin} returned {len(families)} IP configs ({listed})",
            "expected one per address family, at most two",
        )
    for ip in result.ips:
        if ip.gateway is None:
            raise CniError(
                IPAM_FAILURE,
                f"IPAM plugin {plugin} returned IP config {ip.address.with_prefixlen} "
                "without a gateway",
            )
        if ip.gateway not in ip.address.network or ip.gateway == ip.address.ip:
            raise CniError(
                IPAM_FAILURE,
                f"IPAM plugin {plugin} returned gateway {ip.gateway} that is not another "
                f"address of {ip.address.network}",
            )


def _gateway(ips: Sequence[IPConfig], version: int) -> IPAddress | None:
    return next((ip.gateway for ip in ips if ip.address.version == version), None)


def gateway_routes(ips: Sequence[IPConfig]) -> list[Route]:
    """A /32 or /128 host route to each gateway, via the gateway itself."""
    routes = []
    for ip in ips:
        assert ip.gateway is not None  # validate_ipam_result ran first
        routes.append(Route(dst=ipaddress.ip_network(ip.gateway), gw=ip.gateway))
    return routes


def container_routes(result: Result) -> list[Route]:
    """The IPAM routes (a route without `gw` goes via its family's gateway), then
    the gateway host routes. Routes of a family without an IP config are refused."""
    routes = []
    for route in result.routes:
        gw = route.gw or _gateway(result.ips, route.dst.version)
        if gw is None:
            raise CniError(
                IPAM_FAILURE,
                f"IPAM route to {route.dst} has no gateway and there is no "
                f"IPv{route.dst.version} gateway to use",
            )
        routes.append(Route(dst=route.dst, gw=gw))
    return routes + [r for r in gateway_routes(result.ips) if r not in routes]


def bridge_address(ip: IPConfig) -> IPInterface:
    """What the bridge must carry for this IP config: `gateway/prefix`."""
    assert ip.gateway is not None
    return ipaddress.ip_interface(f"{ip.gateway}/{ip.address.network.prefixlen}")


def conflicting_address(want: IPInterface, present: Sequence[KernelAddress]) -> IPInterface | None:
    """Another global address of the same family already on the bridge, if any.

    Link-scoped addresses (IPv6 fe80::/10) do not count.
    """
    for addr in present:
        same_family = addr.address.version == want.version
        if same_family and addr.scope == SCOPE_UNIVERSE and addr.address != want:
            return addr.address
    return None
