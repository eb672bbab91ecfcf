"""Allocations held against attachments present: who is live, what is inconsistent,
what an operator's GC may release. Pure: `inventory` reads the kernel, the store
gives the allocations.

The rule. An owner (`ipam.id`, else the container id) is *live* when a host veth
serves it: the veth's alias `cni:<containerID>/<ifname>` names the container id and
ifname one of the owner's allocations recorded (an allocation recorded without an
ifname matches any), or the veth's peer carries one of the owner's addresses (which
also covers veths made before ecs-bridge marked them). Liveness is per owner, not
per address: an ADD retried by the same owner under another container id gets the
address it held back, still recorded under the first container id. Gateway
reservations are never stale.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from attrs import frozen

from ecs_bridge.domain.allocation import Allocation
from ecs_bridge.domain.inventory import HostVeth, Survey
from ecs_bridge.domain.types import IPInterface

__all__ = [
    "ALLOCATION_WITHOUT_VETH",
    "BRIDGE_ADDRESS_NOT_GATEWAY",
    "BRIDGE_LACKS_GATEWAY",
    "BRIDGE_MISSING",
    "VETH_WITHOUT_ALLOCATION",
    "GcPlan",
    "Problem",
    "describe_veth",
    "gc_plan",
    "live_owners",
    "owners_served",
    "problems",
]

ALLOCATION_WITHOUT_VETH = "allocation-without-veth"
VETH_WITHOUT_ALLOCATION = "veth-without-allocation"
BRIDGE_ADDRESS_NOT_GATEWAY = "bridge-address-not-gateway"
BRIDGE_LACKS_GATEWAY = "bridge-lacks-gateway"
BRIDGE_MISSING = "bridge-missing"


@frozen
class Problem:
    kind: str
    """One of the `*_WITHOUT_*`, `BRIDGE_*` constants."""
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@frozen
class GcPlan:
    release: tuple[tuple[str, tuple[Allocation, ...]], ...]
    """(owner, its allocations) of every stale owner, in address order."""
    young: tuple[Allocation, ...]
    """Unattached, but an owner's allocation is younger than the minimum age (an ADD
    may be in flight: IPAM answers before the veth exists)."""
    kept: tuple[Allocation, ...]
    """Unattached, but named by `keep`."""
    unknown: tuple[HostVeth, ...]
    """Veths on a bridge carrying a gateway, with no alias and no peer found: whose
    they are cannot be told, so some stale-looking owner may be theirs."""


def owners_served(veth: HostVeth, allocations: Sequence[Allocation]) -> set[str]:
    """The owners whose attachment `veth` is, by its alias or its peer's addresses."""
    carried = {a.ip for a in veth.peer.addresses} if veth.peer is not None else set()
    owners = set()
    for a in allocations:
        named = veth.attachment is not None and a.container_id == veth.attachment[0] \
            and a.ifname in (veth.attachment[1], "")
        if not a.gateway and (named or a.address in carried):
            owners.add(a.owner)
    return owners


def live_owners(veths: Sequence[HostVeth], allocations: Sequence[Allocation]) -> set[str]:
    return {owner for veth in veths for owner in owners_served(veth, allocations)}


def describe_veth(veth: HostVeth) -> str:
    """`vethXXXXXXXX (cni:c1/eth0, peer eth0 in /run/netns/x)`, for messages."""
    alias = veth.link.alias or "no cni: alias"
    if veth.peer is not None:
        peer = f"peer {veth.peer.ifname} in {veth.peer.netns or 'the host namespace'}"
    elif veth.peer_nsid is not None:
        peer = f"peer in namespace id {veth.peer_nsid}, found under no path"
    else:
        peer = "peer not found"
    return f"{veth.name} ({alias}, {peer})"


def problems(bridge: str, survey: Survey, allocations: Sequence[Allocation]) -> list[Problem]:
    """What does not add up between `bridge`, its ports and the allocations."""
    held = [a for a in allocations if not a.gateway]
    state = survey.bridge(bridge)
    if state is None:
        if not held:
            return []  # nothing set up: nothing inconsistent
        return [Problem(BRIDGE_MISSING, f"bridge {bridge!r} not found, yet {len(held)} "
                        "address(es) are allocated"),
                *(Problem(ALLOCATION_WITHOUT_VETH, f"{_alloc(a)} has no host veth")
                  for a in held)]
    found: list[Problem] = []
    ports = survey.ports_of(bridge)
    for veth in ports:
        if not owners_served(veth, held):
            found.append(Problem(VETH_WITHOUT_ALLOCATION,
                                 f"host veth {describe_veth(veth)} serves no allocation"))
    live = live_owners(ports, held)
    found += [Problem(ALLOCATION_WITHOUT_VETH, f"{_alloc(a)} has no host veth on {bridge!r}")
              for a in held if a.owner not in live]
    gateways = {(g.address, g.subnet.prefixlen) for g in allocations if g.gateway}
    for address in state.addresses:
        if (address.ip, address.network.prefixlen) not in gateways:
            shown = ", ".join(sorted(f"{ip}/{p}" for ip, p in gateways)) or "none"
            found.append(Problem(BRIDGE_ADDRESS_NOT_GATEWAY,
                                 f"bridge {bridge!r} has {address.with_prefixlen}, which is "
                                 f"not a gateway in the database (gateways: {shown})"))
    found += _missing_gateways(bridge, state.addresses, allocations)
    return found


def _missing_gateways(bridge: str, present: Sequence[IPInterface],
                      allocations: Sequence[Allocation]) -> list[Problem]:
    found = []
    on_bridge = {a.with_prefixlen for a in present}
    for subnet in sorted({a.subnet for a in allocations if not a.gateway},
                         key=lambda s: (s.version, s)):
        wanted = [f"{g.address}/{subnet.prefixlen}" for g in allocations
                  if g.gateway and g.subnet == subnet]
        if wanted and not on_bridge.intersection(wanted):
            users = sum(1 for a in allocations if a.subnet == subnet and not a.gateway)
            found.append(Problem(BRIDGE_LACKS_GATEWAY,
                                 f"bridge {bridge!r} lacks the gateway {wanted[0]} of "
                                 f"{subnet} ({users} address(es) allocated there)"))
    return found


def gc_plan(survey: Survey, allocations: Sequence[Allocation], *, keep: Collection[str],
            now: float, min_age: float) -> GcPlan:
    """What GC may release: owners no veth of the host serves (on any bridge), unless
    kept or young. `survey` should have the peers of alias-less veths resolved."""
    held = [a for a in allocations if not a.gateway]
    live = live_owners(survey.veths, held)
    by_owner: dict[str, list[Allocation]] = {}
    for a in held:
        if a.owner not in live:
            by_owner.setdefault(a.owner, []).append(a)
    release, young, kept = [], [], []
    for owner, mine in by_owner.items():
        if owner in keep or any(a.container_id in keep for a in mine if a.container_id):
            kept += mine
        elif any(now - a.since < min_age for a in mine):
            young += mine
        else:
            release.append((owner, tuple(mine)))
    gateway_ips = {g.address for g in allocations if g.gateway}
    ours = {b.link.name for b in survey.bridges
            if any(a.ip in gateway_ips for a in b.addresses)}
    unknown = tuple(v for v in survey.veths
                    if v.bridge in ours and v.attachment is None and v.peer is None)
    return GcPlan(release=tuple(release), young=tuple(young), kept=tuple(kept),
                  unknown=unknown)


def _alloc(a: Allocation) -> str:
    who = f"{a.container_id}/{a.ifname}" if a.container_id else "no container recorded"
    return f"{a.address} of {a.owner!r} ({who})"
