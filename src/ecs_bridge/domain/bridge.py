"""The ecs-bridge use cases: ADD and DEL, as the numbered steps of spec/ecs-bridge.md.

ADD registers an undo for each change it makes to the host and runs them in
reverse if any later step fails, so a failed ADD leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, closing

from attrs import frozen

from ecs_bridge.domain import plan
from ecs_bridge.domain.errors import (
    BRIDGE_CONFLICT,
    INVALID_ENV,
    AddressExists,
    CniError,
    LinkExists,
    LinkNotFound,
    NamespaceNotFound,
    RouteExists,
)
from ecs_bridge.domain.netconf import BridgeConfig
from ecs_bridge.domain.ports import IpamDelegate, Kernel, Link, Logger, Namespace
from ecs_bridge.domain.types import Interface, IPConfig, IPInterface, Result, Route

__all__ = ["Attachment", "add", "delete"]

VETH_NAME_TRIES = 10
BRIDGE_TRIES = 3


@frozen
class Attachment:
    """Where the container is: `CNI_NETNS`, `CNI_IFNAME` (and `CNI_CONTAINERID` for logs)."""

    netns: str
    ifname: str
    container_id: str = ""


def add(
    config: BridgeConfig,
    where: Attachment,
    *,
    kernel: Kernel,
    ipam: IpamDelegate,
    log: Logger,
    random_bytes: Callable[[int], bytes],
) -> Result:
    alias = plan.attachment_alias(where.container_id, where.ifname)  # too long: error 4
    # A missing namespace fails here, before any change.
    with closing(kernel.host()) as host, closing(kernel.open(where.netns)) as container:
        return _add(config, where, alias=alias, host=host, container=container, ipam=ipam,
                    log=log, random_bytes=random_bytes)


def _add(
    config: BridgeConfig,
    where: Attachment,
    *,
    alias: str,
    host: Namespace,
    container: Namespace,
    ipam: IpamDelegate,
    log: Logger,
    random_bytes: Callable[[int], bytes],
) -> Result:
    # Two undo stacks: the container's (IPAM release, veth) unwinds first, then the
    # bridge's (gateway address, bridge), which checks that no other port uses them.
    with ExitStack() as bridge_undo, ExitStack() as undo:
        if container.find_link(where.ifname) is not None:
            raise _ifname_taken(where)
        # 1. The bridge, created if absent (brought up once the checks below pass).
        bridge = ensure_bridge(host, config, undo=bridge_undo, random_bytes=random_bytes)
        # 4. Addresses from the IPAM plugin, released again if a later step fails.
        # Asked before the veth exists (the original asks after): a bad result or a
        # bridge carrying another address then fails before a port ever touches the
        # bridge, which changes a foreign bridge in ways no undo restores (its MAC).
        result = ipam.add()
        undo.callback(_release, ipam, log)
        plan.validate_ipam_result(result, config.ipam_type)
        routes = plan.container_routes(result)
        wanted = [plan.bridge_address(ip) for ip in result.ips]
        # 6. (early, so a conflict fails before any port touches the bridge) the
        # gateway addresses on the bridge; 2-3. the veth pair, host end on the bridge.
        host_veth: Link | None = None
        for attempt in range(BRIDGE_TRIES):
            try:
                for want in wanted:
                    claim_bridge_address(host, config.bridge, want, undo=bridge_undo)
                bring_up(host, config, bridge, undo=bridge_undo)
                if host_veth is None:
                    host_veth = setup_veth(host, container, config, where, undo=undo,
                                           random_bytes=random_bytes)
                host.set_link(host_veth.name, master=config.bridge, up=True, alias=alias)
                break
            except LinkNotFound as exc:
                if exc.name != config.bridge or attempt == BRIDGE_TRIES - 1:
                    raise
                # A concurrent ADD that failed removed the bridge it had just made
                # before we attached to it: make it again.
                bridge = ensure_bridge(host, config, undo=bridge_undo,
                                       random_bytes=random_bytes)
        assert host_veth is not None
        # 5. The container side: MAC, addresses, routes, no prefix routes.
        container_mac = configure_container(container, where.ifname, result.ips, routes)
        bridge = host.find_link(config.bridge) or bridge
        undo.pop_all()  # success: keep everything
        bridge_undo.pop_all()
    log.info("ADD configured", bridge=config.bridge, hostVeth=host_veth.name,
             ips=",".join(ip.address.with_prefixlen for ip in result.ips))
    # 7. The result: [bridge, host veth, container veth], every IP on interface 2.
    return Result(
        interfaces=(
            Interface(name=bridge.name, mac=bridge.mac),
            Interface(name=host_veth.name, mac=host_veth.mac),
            Interface(name=where.ifname, mac=container_mac, sandbox=where.netns),
        ),
        ips=tuple(IPConfig(address=ip.address, gateway=ip.gateway, interface=2)
                  for ip in result.ips),
        routes=tuple(routes),
        dns=result.dns,
    )


def ensure_bridge(
    host: Namespace, config: BridgeConfig, *, undo: ExitStack,
    random_bytes: Callable[[int], bytes],
) -> Link:
    """The bridge named in the config. Another ADD creating it at the same time is fine."""
    link = host.find_link(config.bridge)
    if link is None:
        try:
            host.add_bridge(config.bridge, mtu=config.mtu, mac=plan.bridge_mac(random_bytes))
            undo.callback(_remove_bridge_if_unused, host, config.bridge)
        except LinkExists:
            pass  # lost the race to a concurrent ADD: use theirs
        link = host.find_link(config.bridge)
        if link is None:
            raise CniError(BRIDGE_CONFLICT, f"bridge {config.bridge!r} vanished while creating it")
    if link.kind != "bridge":
        kind = link.kind or "device"
        raise CniError(
            BRIDGE_CONFLICT, f"{config.bridge!r} already exists but is not a bridge (a {kind})"
        )
    return link


def _ifname_taken(where: Attachment) -> CniError:
    return CniError(INVALID_ENV,
                    f"CNI_IFNAME {where.ifname!r} already exists in CNI_NETNS {where.netns!r}")


def bring_up(host: Namespace, config: BridgeConfig, bridge: Link, *, undo: ExitStack) -> None:
    if not bridge.up:
        host.set_link(config.bridge, up=True)
        undo.callback(_down_bridge_if_unused, host, config.bridge)


def setup_veth(
    host: Namespace, container: Namespace, config: BridgeConfig, where: Attachment, *,
    undo: ExitStack, random_bytes: Callable[[int], bytes],
) -> Link:
    """A veth pair: `CNI_IFNAME` in the container (up), `vethXXXXXXXX` on the host."""
    for _ in range(VETH_NAME_TRIES):
        name = plan.host_veth_name(random_bytes)
        try:
            host.add_veth(name, peer_name=where.ifname, peer_ns=container, mtu=config.mtu)
            break
        except LinkExists:
            if container.find_link(where.ifname) is not None:
                raise _ifname_taken(where) from None
    else:
        raise CniError(BRIDGE_CONFLICT, f"no free host veth name after {VETH_NAME_TRIES} tries")
    undo.callback(_delete_link, host, name)
    container.set_link(where.ifname, up=True)
    link = host.find_link(name)
    if link is None:
        raise LinkNotFound(name)
    return link


def configure_container(
    container: Namespace, ifname: str, ips: tuple[IPConfig, ...], routes: list[Route]
) -> str:
    """Set MAC, addresses and routes; drop routes without a gateway. Returns the MAC."""
    mac = plan.container_mac(ips)
    if mac is not None:
        container.set_link(ifname, mac=mac)
    for ip in ips:
        container.add_address(ifname, ip.address, nodad=ip.address.version == 6)
    for route in routes:
        try:
            container.add_route(ifname, route.dst, gw=route.gw)
        except RouteExists:
            pass
    # The kernel's prefix routes of these addresses go: the container reaches only
    # what it was given routes for. (The IPv6 link-local route fe80::/64, which the
    # kernel adds whenever carrier comes up, is left alone, so the outcome does
    # not depend on that race.)
    prefixes = {ip.address.network for ip in ips}
    for present in container.list_routes(ifname):
        if present.gw is None and present.dst in prefixes:
            container.delete_route(ifname, present.dst)
    link = container.find_link(ifname)
    return link.mac if link is not None else (mac or "")


def claim_bridge_address(
    host: Namespace, bridge: str, want: IPInterface, *, undo: ExitStack
) -> None:
    """`gateway/prefix` on the bridge: present is fine, absent is added, and another
    global address of the family is an error.

    Added first and checked after: on every ADD but a bridge's first, the add answers
    "exists" and nothing is listed, so an ADD costs the same with 1 or 1,000 ports
    (listing a bridge's addresses dumps every address of the namespace, two per
    port). A conflicting address found after adding takes ours away again."""
    try:
        host.add_address(bridge, want, nodad=want.version == 6)
    except AddressExists:
        return  # put there by an earlier ADD, which checked for conflicts
    other = plan.conflicting_address(want, host.list_addresses(bridge))
    if other is not None:
        host.delete_address(bridge, want)
        raise CniError(
            BRIDGE_CONFLICT,
            f"bridge {bridge!r} already has IPv{want.version} address "
            f"{other.with_prefixlen}, different from the gateway {want.with_prefixlen}",
        )
    undo.callback(_remove_address_if_unused, host, bridge, want)


def delete(
    config: BridgeConfig, where: Attachment, *, kernel: Kernel, ipam: IpamDelegate | None,
    log: Logger,
) -> None:
    """Release the addresses (a failure is logged, not fatal), then delete the container
    end of the veth (the pair goes with it). Whatever is already gone counts as done."""
    if ipam is not None:
        _release(ipam, log)
    if not where.netns:
        return
    try:
        container = kernel.open(where.netns)
    except NamespaceNotFound:
        log.info("DEL: namespace already gone", netns=where.netns)
        return
    with closing(container):
        try:
            container.delete_link(where.ifname)
        except LinkNotFound:
            log.info("DEL: interface already gone", ifname=where.ifname)


def _release(ipam: IpamDelegate, log: Logger) -> None:
    try:
        ipam.delete()
    except CniError as exc:
        log.warning(f"IPAM DEL failed, continuing: {exc}", code=exc.code)


def _delete_link(ns: Namespace, name: str) -> None:
    try:
        ns.delete_link(name)
    except LinkNotFound:
        pass


def _ports_of(host: Namespace, bridge: str) -> list[Link]:
    link = host.find_link(bridge)
    if link is None:
        return []
    return [other for other in host.list_links() if other.master == link.index]


def _remove_bridge_if_unused(host: Namespace, bridge: str) -> None:
    # Undo of a bridge this ADD created, unless a concurrent ADD attached to it since.
    if not _ports_of(host, bridge):
        _delete_link(host, bridge)


def _down_bridge_if_unused(host: Namespace, bridge: str) -> None:
    if not _ports_of(host, bridge):
        host.set_link(bridge, up=False)


def _remove_address_if_unused(host: Namespace, bridge: str, address: IPInterface) -> None:
    if not _ports_of(host, bridge):
        host.delete_address(bridge, address)
