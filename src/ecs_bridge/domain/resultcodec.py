"""The CNI result on the wire, in every specification version.

0.1.0 and 0.2.0 print one `ip4` and one `ip6` object with their own routes;
0.3.0 to 0.4.0 print `interfaces`, `ips` (with `version`) and `routes`; 1.0.0
and later drop `version`. `decode` reads any of these shapes (as libcni does,
by the result's own `cniVersion`, falling back to the config's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecs_bridge.domain import fields
from ecs_bridge.domain.errors import DECODE_FAILURE, INCOMPATIBLE_VERSION, CniError
from ecs_bridge.domain.types import DNS, Interface, IPConfig, Result, Route
from ecs_bridge.domain.versions import SUPPORTED_VERSIONS, at_least

__all__ = ["decode", "encode"]


def encode(result: Result, version: str) -> dict[str, Any]:
    """The result as the JSON object of specification `version`."""
    if not at_least(version, "0.3.0"):
        return _encode_legacy(result, version)
    out: dict[str, Any] = {"cniVersion": version}
    if result.interfaces:
        out["interfaces"] = [_encode_interface(i) for i in result.interfaces]
    out["ips"] = [_encode_ip(ip, with_version=not at_least(version, "1.0.0")) for ip in result.ips]
    if result.routes:
        out["routes"] = [_encode_route(r) for r in result.routes]
    out["dns"] = _encode_dns(result.dns)
    return out


def _encode_interface(iface: Interface) -> dict[str, Any]:
    out: dict[str, Any] = {"name": iface.name}
    if iface.mac:
        out["mac"] = iface.mac
    if iface.sandbox:
        out["sandbox"] = iface.sandbox
    return out


def _encode_ip(ip: IPConfig, *, with_version: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if with_version:
        out["version"] = str(ip.address.version)
    out["address"] = ip.address.with_prefixlen
    if ip.gateway is not None:
        out["gateway"] = str(ip.gateway)
    if ip.interface is not None:
        out["interface"] = ip.interface
    return out


def _encode_route(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {"dst": route.dst.with_prefixlen}
    if route.gw is not None:
        out["gw"] = str(route.gw)
    return out


def _encode_dns(dns: DNS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if dns.nameservers:
        out["nameservers"] = list(dns.nameservers)
    if dns.domain:
        out["domain"] = dns.domain
    if dns.search:
        out["search"] = list(dns.search)
    if dns.options:
        out["options"] = list(dns.options)
    return out


def _encode_legacy(result: Result, version: str) -> dict[str, Any]:
    out: dict[str, Any] = {"cniVersion": version}
    for family in (4, 6):
        ip = next((ip for ip in result.ips if ip.address.version == family), None)
        if ip is None:
            continue
        entry: dict[str, Any] = {"ip": ip.address.with_prefixlen}
        if ip.gateway is not None:
            entry["gateway"] = str(ip.gateway)
        routes = [_encode_route(r) for r in result.routes if r.dst.version == family]
        if routes:
            entry["routes"] = routes
        out[f"ip{family}"] = entry
    if "ip4" not in out and "ip6" not in out:
        raise CniError(
            INCOMPATIBLE_VERSION, "cannot convert: no valid IP addresses", f"to version {version}"
        )
    out["dns"] = _encode_dns(result.dns)
    return out


def decode(raw: object, config_version: str, *, where: str = "result") -> Result:
    """A result JSON object of any supported version, as a `Result`."""
    obj = _object(raw, where)
    version = obj.get("cniVersion") or config_version
    if version not in SUPPORTED_VERSIONS:
        raise CniError(INCOMPATIBLE_VERSION, f"unsupported CNI result version {version!r}")
    try:
        if at_least(version, "0.3.0"):
            return _decode_current(obj, where)
        return _decode_legacy(obj, where)
    except CniError as exc:
        raise CniError(DECODE_FAILURE, f"cannot decode {where}", str(exc)) from None


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CniError(DECODE_FAILURE, f"{where} is not a JSON object", repr(value)[:80])
    return value


def _decode_current(obj: Mapping[str, Any], where: str) -> Result:
    interfaces = []
    for i, raw in enumerate(fields.opt_list(obj, "interfaces", f"{where}.interfaces")):
        item = _object(raw, f"{where}.interfaces[{i}]")
        interfaces.append(
            Interface(
                name=fields.opt_str(item, "name", f"{where}.interfaces[{i}].name") or "",
                mac=fields.opt_str(item, "mac", f"{where}.interfaces[{i}].mac") or "",
                sandbox=fields.opt_str(item, "sandbox", f"{where}.interfaces[{i}].sandbox") or "",
            )
        )
    ips = []
    for i, raw in enumerate(fields.opt_list(obj, "ips", f"{where}.ips")):
        item = _object(raw, f"{where}.ips[{i}]")
        at = f"{where}.ips[{i}]"
        address = fields.parse_interface(item.get("address"), f"{at}.address")
        gateway = item.get("gateway")
        ips.append(
            IPConfig(
                address=address,
                gateway=None
                if gateway in (None, "")
                else fields.parse_address(gateway, f"{at}.gateway", version=address.version),
                interface=fields.opt_int(item, "interface", f"{at}.interface"),
            )
        )
    routes = [
        _decode_route(raw, f"{where}.routes[{i}]")
        for i, raw in enumerate(fields.opt_list(obj, "routes", f"{where}.routes"))
    ]
    return Result(
        interfaces=tuple(interfaces),
        ips=tuple(ips),
        routes=tuple(routes),
        dns=_decode_dns(obj.get("dns"), f"{where}.dns"),
    )


def _decode_legacy(obj: Mapping[str, Any], where: str) -> Result:
    ips, routes = [], []
    for family in (4, 6):
        raw = obj.get(f"ip{family}")
        if raw is None:
            continue
        at = f"{where}.ip{family}"
        item = _object(raw, at)
        address = fields.parse_interface(item.get("ip"), f"{at}.ip", version=family)
        gateway = item.get("gateway")
        ips.append(
            IPConfig(
                address=address,
                gateway=None
                if gateway in (None, "")
                else fields.parse_address(gateway, f"{at}.gateway", version=family),
            )
        )
        routes += [
            _decode_route(r, f"{at}.routes[{i}]")
            for i, r in enumerate(fields.opt_list(item, "routes", f"{at}.routes"))
        ]
    return Result(ips=tuple(ips), routes=tuple(routes), dns=_decode_dns(obj.get("dns"), "dns"))


def _decode_route(raw: object, where: str) -> Route:
    item = _object(raw, where)
    dst = fields.parse_network(item.get("dst"), f"{where}.dst")
    gw = item.get("gw")
    return Route(
        dst=dst,
        gw=None
        if gw in (None, "")
        else fields.parse_address(gw, f"{where}.gw", version=dst.version),
    )


def _decode_dns(raw: object, where: str) -> DNS:
    if raw is None:
        return DNS()
    obj = _object(raw, where)

    def strings(key: str) -> tuple[str, ...]:
        values = fields.opt_list(obj, key, f"{where}.{key}")
        if not all(isinstance(v, str) for v in values):
            raise fields.invalid(f"{where}.{key} must be an array of strings")
        return tuple(values)

    return DNS(
        nameservers=strings("nameservers"),
        domain=fields.opt_str(obj, "domain", f"{where}.domain") or "",
        search=strings("search"),
        options=strings("options"),
    )
