"""The ecs-ipam use cases: `allocate` (ADD), `release` (DEL) and `check` (CHECK).

Each runs in one store transaction, so a command takes effect entirely or not
at all, and concurrent plugin processes never hand out one address twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import evolve

from ecs_bridge.domain.allocation import (
    GATEWAY_OWNER,
    Allocation,
    AllocationStore,
    Attachment,
    StoreTransaction,
)
from ecs_bridge.domain.errors import (
    ADDRESS_CONFLICT,
    ALLOCATION_MISSING,
    INVALID_CONFIG,
    NO_ADDRESS,
    NOT_AVAILABLE,
    CniError,
)
from ecs_bridge.domain.ipamconf import FamilyConfig, IpamConfig
from ecs_bridge.domain.types import IPAddress, IPConfig, IPNetwork, Result

if TYPE_CHECKING:  # the kernel port's classes cost import time on every container start
    from ecs_bridge.domain.ports import Logger

__all__ = ["allocate", "check", "collect", "owner_of", "release", "status"]


def owner_of(config: IpamConfig, container_id: str) -> str:
    """`ipam.id` if the config has one, else the CNI container id (`` if neither)."""
    return config.id or container_id


def allocate(
    store: AllocationStore, config: IpamConfig, who: Attachment, *, now: float, log: Logger
) -> Result:
    """ADD: one address per configured family (IPv4 first), all or none."""
    if not who.owner:
        raise CniError(INVALID_CONFIG, "ADD needs an owner: ipam.id or CNI_CONTAINERID")
    with store.transaction() as tx:
        ips = tuple(_allocate_in(tx, family, who, now=now) for family in config.families)
    for ip in ips:
        log.info(f"holding {ip.address} for {who.owner}", gateway=ip.gateway)
    return Result(ips=ips, routes=config.routes)


def _allocate_in(
    tx: StoreTransaction, family: FamilyConfig, who: Attachment, *, now: float
) -> IPConfig:
    # 1. Reserve the gateway; a container holding it is a conflict.
    _reserve_gateway(tx, family, now=now)
    # 4. An owner holds at most one address per family: a retried ADD gets it back.
    held = next((a for a in tx.held_by(who.owner) if a.address.version == family.version), None)
    if held is not None:
        ip = _reuse(held, family, who.owner)
        if (held.container_id, held.ifname, held.network) != (
                who.container_id, who.ifname, who.network):
            # The retried ADD is the attachment now: GC must judge it by that one.
            tx.delete(held.address)
            tx.insert(evolve(held, container_id=who.container_id, ifname=who.ifname,
                             network=who.network))
        return ip
    if family.address is not None:
        # 2. The exact address asked for, if nobody holds it.
        address = _take_exact(tx, family.address)
    else:
        # 3. The next free address after the subnet's cursor; the cursor follows.
        address = _next_free(tx, family)
        tx.set_cursor(family.subnet, address)
    tx.insert(Allocation(address=address, subnet=family.subnet, owner=who.owner,
                         container_id=who.container_id, ifname=who.ifname,
                         network=who.network, since=now))
    return IPConfig(address=family.interface(address), gateway=family.gateway)


def _reserve_gateway(tx: StoreTransaction, family: FamilyConfig, *, now: float) -> None:
    holder = tx.holder(family.gateway)
    if holder is None:
        tx.insert(Allocation(address=family.gateway, subnet=family.subnet,
                             owner=GATEWAY_OWNER, gateway=True, since=now))
    elif not holder.gateway:
        raise CniError(ADDRESS_CONFLICT,
                       f"gateway {family.gateway} of {family.subnet} is held by id "
                       f"{holder.owner!r}")


def _reuse(held: Allocation, family: FamilyConfig, owner: str) -> IPConfig:
    if family.address is not None and held.address != family.address:
        raise CniError(ADDRESS_CONFLICT,
                       f"id {owner!r} holds {held.address}, not the requested "
                       f"ipam.ipv{family.version}-address {family.address}",
                       "release it (DEL) before asking for another address")
    if held.address not in family.subnet:
        raise CniError(ADDRESS_CONFLICT,
                       f"id {owner!r} holds {held.address}, outside "
                       f"ipam.ipv{family.version}-subnet {family.subnet}",
                       "release it (DEL) before asking for an address in another subnet")
    return IPConfig(address=family.interface(held.address), gateway=family.gateway)


def _take_exact(tx: StoreTransaction, address: IPAddress) -> IPAddress:
    holder = tx.holder(address)
    if holder is not None:
        whom = "the gateway" if holder.gateway else f"id {holder.owner!r}"
        raise CniError(ADDRESS_CONFLICT, f"address {address} is already held by {whom}")
    return address


def _next_free(tx: StoreTransaction, family: FamilyConfig) -> IPAddress:
    first, last = family.first, family.last
    cursor = tx.cursor(family.subnet)
    found: IPAddress | None
    if cursor is None or not int(first) <= int(cursor) < int(last):
        found = tx.lowest_free(first, last)
    else:
        found = tx.lowest_free(cursor + 1, last) or tx.lowest_free(first, cursor)
    if found is None:
        size = int(last) - int(first) + 1
        raise CniError(NO_ADDRESS,
                       f"no available address in ipam.ipv{family.version}-subnet {family.subnet}",
                       f"all {size} host addresses are held (the gateway is one of them)")
    return found


def release(
    store: AllocationStore, config: IpamConfig, who: Attachment, *, log: Logger
) -> list[Allocation]:
    """DEL: free the config's exact addresses, and every address the owner holds in the
    families that have none. Releasing nothing is success. Returns what was freed."""
    exact = {f.version: f.address for f in config.families if f.address is not None}
    # 1. Something must name what to release.
    if not who.owner and not exact:
        raise CniError(INVALID_CONFIG,
                       "DEL cannot tell what to release: no ipam.id, no ipam.ipv4-address or "
                       "ipam.ipv6-address, and CNI_CONTAINERID is empty")
    with store.transaction() as tx:
        # 2. The exact addresses, unless a gateway's or (when an owner is known) another's.
        chosen = [a for a in map(tx.holder, exact.values()) if a and _releasable(a, who.owner)]
        # 3. By owner: what it holds in the other families.
        if who.owner:
            chosen += [a for a in tx.held_by(who.owner) if a.address.version not in exact]
        # 4. Free them; each subnet's cursor moves to the address freed.
        for allocation in chosen:
            tx.delete(allocation.address)
            tx.set_cursor(allocation.subnet, allocation.address)
    for allocation in chosen:
        log.info(f"released {allocation.address} of {allocation.owner}")
    if not chosen:
        log.info(f"nothing to release for {who.owner or sorted(map(str, exact.values()))}")
    return chosen


def _releasable(allocation: Allocation, owner: str) -> bool:
    return not allocation.gateway and (not owner or allocation.owner == owner)


def check(store: AllocationStore, config: IpamConfig, who: Attachment) -> None:
    """CHECK: the owner holds an address in every configured subnet (the exact one, if
    the config asks for one)."""
    if not who.owner:
        raise CniError(INVALID_CONFIG, "CHECK needs an owner: ipam.id or CNI_CONTAINERID")
    with store.transaction() as tx:
        held = tx.held_by(who.owner)
    for family in config.families:
        mine = [a.address for a in held if a.address in family.subnet]
        if not mine:
            raise CniError(ALLOCATION_MISSING,
                           f"id {who.owner!r} holds no address in "
                           f"ipam.ipv{family.version}-subnet {family.subnet}")
        if family.address is not None and family.address not in mine:
            raise CniError(ALLOCATION_MISSING,
                           f"id {who.owner!r} holds {mine[0]}, not "
                           f"ipam.ipv{family.version}-address {family.address}")


def collect(
    store: AllocationStore, network: str, subnets: set[IPNetwork],
    valid: set[tuple[str, str]], *, log: Logger,
) -> list[Allocation]:
    """GC: release what this network holds in `subnets` for attachments that are not
    `valid` (container id, ifname). Gateways stay; an allocation made without an
    ifname matches a valid attachment of its container on any ifname."""
    live_containers = {container for container, _ in valid}

    def stale(a: Allocation) -> bool:
        if a.gateway or a.network != network or a.subnet not in subnets:
            return False
        if not a.ifname:
            return a.container_id not in live_containers
        return (a.container_id, a.ifname) not in valid

    with store.transaction() as tx:
        chosen = [a for a in tx.every_allocation() if stale(a)]
        for allocation in chosen:
            tx.delete(allocation.address)
            tx.set_cursor(allocation.subnet, allocation.address)
    for allocation in chosen:
        log.info(f"GC released {allocation.address} of {allocation.owner}",
                 stale=f"{allocation.container_id}/{allocation.ifname}")
    return chosen


def status(store: AllocationStore, config: IpamConfig) -> None:
    """STATUS: an ADD could succeed: every configured pool has a free address."""
    with store.transaction() as tx:
        for family in config.families:
            if tx.lowest_free(family.first, family.last) is None:
                raise CniError(NOT_AVAILABLE,
                               f"ipam.ipv{family.version}-subnet {family.subnet} has no free "
                               "address left", "release addresses (DEL, or GC) to make room")
