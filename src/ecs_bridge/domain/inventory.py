"""What the host has attached to its bridges, read through the kernel port: the
operator's view (`ecs-bridge-ctl status`, `ipam gc`), never used by the plugins.

A host veth made by ecs-bridge carries the alias `cni:<containerID>/<ifname>`
(`plan.attachment_alias`), which names its attachment. Its peer, the container's
end, is in the namespace whose id (`ip netns list-id`) the host veth names, at the
host veth's peer index. Ids are the host namespace's names for other namespaces;
interface indexes alone are not enough, as every fresh namespace numbers from 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from attrs import evolve, frozen

from ecs_bridge.domain import plan
from ecs_bridge.domain.errors import KernelError
from ecs_bridge.domain.ports import SCOPE_UNIVERSE, Kernel, Link, Namespace
from ecs_bridge.domain.types import IPInterface

__all__ = ["BridgeState", "HostVeth", "NetnsIds", "Peer", "Survey", "resolve_peers", "survey"]


class NetnsIds(Protocol):
    """Namespace ids as the host namespace knows them (`ip netns list-id`)."""

    def of_peers(self) -> dict[int, int]:
        """For each host interface whose other end is in another namespace (a veth's
        peer), by interface index: the id of that namespace."""
        ...

    def of(self, path: str) -> int | None:
        """The id of the namespace at `path`; None when the host has given it none (no
        veth spans the two) or `path` is gone."""
        ...


@frozen
class Peer:
    """The container end of a host veth, where it was found."""

    netns: str
    """The namespace's path; `` for the host's own namespace."""
    ifname: str
    addresses: tuple[IPInterface, ...]
    """Its global addresses."""


@frozen
class HostVeth:
    link: Link
    bridge: str
    """The bridge it is a port of; `` for none."""
    attachment: tuple[str, str] | None
    """(containerID, ifname) from its `cni:` alias; None without one."""
    peer: Peer | None = None
    """None until `resolve_peers` found it (or when it found nothing)."""
    peer_nsid: int | None = None
    """The id of the peer's namespace, as the host knows it; None until `resolve_peers`,
    or when the peer is in the host namespace itself."""

    @property
    def name(self) -> str:
        return self.link.name


@frozen
class BridgeState:
    link: Link
    addresses: tuple[IPInterface, ...]
    """Its global addresses (IPv6 link-local ones left out)."""


@frozen
class Survey:
    """Every bridge and every veth of the host namespace."""

    bridges: tuple[BridgeState, ...]
    veths: tuple[HostVeth, ...]

    def bridge(self, name: str) -> BridgeState | None:
        return next((b for b in self.bridges if b.link.name == name), None)

    def ports_of(self, bridge: str) -> list[HostVeth]:
        return [v for v in self.veths if v.bridge == bridge]


def survey(kernel: Kernel) -> Survey:
    """Read the host namespace: its bridges with their addresses, its veths."""
    host = kernel.host()
    try:
        links = host.list_links()
        by_index = {link.index: link for link in links}
        bridges = tuple(BridgeState(link, _global_addresses(host, link.name))
                        for link in links if link.kind == "bridge")
        veths = []
        for link in links:
            if link.kind != "veth":
                continue
            master = by_index.get(link.master) if link.master is not None else None
            veths.append(HostVeth(
                link=link,
                bridge=master.name if master is not None and master.kind == "bridge" else "",
                attachment=plan.parse_attachment_alias(link.alias)))
        return Survey(bridges=bridges, veths=tuple(veths))
    finally:
        host.close()


def resolve_peers(kernel: Kernel, ids: NetnsIds, veths: Sequence[HostVeth],
                  namespaces: Iterable[str]) -> list[HostVeth]:
    """`veths` with the id of their peer's namespace, and their peer where it was found:
    in the host namespace, or in the one of `namespaces` whose id is the peer's."""
    peer_ids = ids.of_peers()
    wanted = {peer_ids[v.link.index] for v in veths if v.link.index in peer_ids}
    paths: dict[int, str] = {}
    for candidate in namespaces:
        if wanted <= paths.keys():
            break
        nsid = ids.of(candidate)
        if nsid is not None and nsid in wanted:
            paths.setdefault(nsid, candidate)
    placed = []
    for veth in veths:
        nsid = peer_ids.get(veth.link.index)
        path: str | None = "" if nsid is None else paths.get(nsid)
        peer = None if path is None else _peer_in(kernel, path, veth)
        placed.append(evolve(veth, peer=peer, peer_nsid=nsid))
    return placed


def _peer_in(kernel: Kernel, path: str, veth: HostVeth) -> Peer | None:
    """The veth at the host veth's peer index in the namespace at `path` (`` the host)."""
    try:
        ns = kernel.open(path) if path else kernel.host()
    except KernelError:
        return None  # gone since it was listed
    try:
        for link in ns.list_links():
            if link.kind == "veth" and link.index == veth.link.peer_index \
                    and link.peer_index == veth.link.index:
                return Peer(path, link.name, _global_addresses(ns, link.name))
        return None
    except KernelError:
        return None
    finally:
        ns.close()


def _global_addresses(ns: Namespace, name: str) -> tuple[IPInterface, ...]:
    return tuple(a.address for a in ns.list_addresses(name) if a.scope == SCOPE_UNIVERSE)
