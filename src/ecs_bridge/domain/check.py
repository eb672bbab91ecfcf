"""CHECK: is what ADD built still there? Compared against `prevResult` and the config.

Every finding names the object and what is wrong with it. Extra routes or
addresses added later (by a chained plugin, say) are tolerated, as the
specification asks; only what `prevResult` lists must be present.
"""

from __future__ import annotations

from contextlib import closing

from attrs import frozen

from ecs_bridge.domain import plan
from ecs_bridge.domain.bridge import Attachment
from ecs_bridge.domain.errors import CHECK_FAILED, INVALID_CONFIG, CniError
from ecs_bridge.domain.netconf import BridgeConfig
from ecs_bridge.domain.ports import IpamDelegate, Kernel, Link, Namespace
from ecs_bridge.domain.types import Interface, Result

__all__ = ["Finding", "check", "inspect"]


@frozen
class Finding:
    what: str
    """The object: `container interface 'eth0'`, `bridge 'ecs-br0'`, ..."""
    problem: str

    def __str__(self) -> str:
        return f"{self.what}: {self.problem}"


def check(
    config: BridgeConfig, where: Attachment, prev: Result | None, *, kernel: Kernel,
    ipam: IpamDelegate,
) -> None:
    """Raise CHECK_FAILED listing every finding, after the IPAM plugin's own CHECK."""
    if prev is None:
        raise CniError(INVALID_CONFIG, "Required prevResult missing",
                       "CHECK compares the host against the ADD result in prevResult")
    findings = inspect(config, where, prev, kernel=kernel)
    if findings:
        raise CniError(CHECK_FAILED, str(findings[0]),
                       "; ".join(str(f) for f in findings[1:]))
    ipam.check()


def inspect(config: BridgeConfig, where: Attachment, prev: Result, *,
            kernel: Kernel) -> list[Finding]:
    """Everything that differs from `prev`, container side first; [] when all is well."""
    with closing(kernel.host()) as host, closing(kernel.open(where.netns)) as container:
        return _inspect(config, where, prev, host=host, container=container)


def _inspect(config: BridgeConfig, where: Attachment, prev: Result, *, host: Namespace,
             container: Namespace) -> list[Finding]:
    entry = _container_entry(prev, where)
    if entry is None:
        return [Finding("prevResult", f"lists no interface {where.ifname!r} "
                        f"with sandbox {where.netns!r}")]
    what = f"container interface {where.ifname!r}"
    link = container.find_link(where.ifname)
    if link is None:
        return [Finding(what, f"not found in {where.netns}")]
    findings = _link_findings(what, link, expected_mac=entry.mac, kind="veth")
    findings += _container_config(container, where.ifname, prev, what)
    findings += _host_side(host, config, prev, link)
    return findings


def _container_entry(prev: Result, where: Attachment) -> Interface | None:
    for iface in prev.interfaces:
        if iface.name == where.ifname and iface.sandbox in ("", where.netns):
            return iface
    return None


def _link_findings(what: str, link: Link, *, expected_mac: str, kind: str) -> list[Finding]:
    findings = []
    if link.kind != kind:
        findings.append(Finding(what, f"is a {link.kind or 'device'}, not a {kind}"))
    if not link.up:
        findings.append(Finding(what, "is down"))
    if expected_mac and link.mac != expected_mac.lower():
        findings.append(Finding(what, f"has MAC {link.mac}, prevResult says {expected_mac}"))
    return findings


def _container_config(container: Namespace, ifname: str, prev: Result,
                      what: str) -> list[Finding]:
    findings = []
    present = {a.address for a in container.list_addresses(ifname)}
    for ip in prev.ips:
        if ip.address not in present:
            findings.append(Finding(what, f"lacks address {ip.address.with_prefixlen}"))
    routes = {(r.dst, r.gw) for r in container.list_routes(ifname)}
    for route in prev.routes:
        if (route.dst, route.gw) not in routes and not (
            route.gw is None and any(dst == route.dst for dst, _ in routes)
        ):
            via = f" via {route.gw}" if route.gw else ""
            findings.append(Finding(what, f"lacks route to {route.dst}{via}"))
    return findings


def _host_side(host: Namespace, config: BridgeConfig, prev: Result,
               container_link: Link) -> list[Finding]:
    what = f"bridge {config.bridge!r}"
    bridge = host.find_link(config.bridge)
    if bridge is None:
        return [Finding(what, "not found")]
    prev_bridge = next((i for i in prev.interfaces if i.name == config.bridge), None)
    findings = _link_findings(what, bridge, expected_mac=prev_bridge.mac if prev_bridge else "",
                              kind="bridge")
    present = {a.address for a in host.list_addresses(config.bridge)}
    for ip in prev.ips:
        if ip.gateway is not None and plan.bridge_address(ip) not in present:
            findings.append(Finding(what, f"lacks gateway address "
                                    f"{plan.bridge_address(ip).with_prefixlen}"))
    peers = [link for link in host.list_links()
             if link.index == container_link.peer_index and link.kind == "veth"]
    if not peers:
        findings.append(Finding("host veth", f"peer of {container_link.name!r} not found"))
        return findings
    host_veth = peers[0]
    findings += _link_findings(f"host veth {host_veth.name!r}", host_veth, expected_mac="",
                               kind="veth")
    if host_veth.master != bridge.index:
        findings.append(Finding(f"host veth {host_veth.name!r}",
                                f"is not attached to bridge {config.bridge!r}"))
    return findings
