"""Allocations of ecs-ipam and the port of the store that keeps them.

An allocation ties one address to its owner. The owner is `ipam.id` when the
config has one (the ECS agent sends the task's ENI MAC), else the container id
of the CNI call, which lets ecs-ipam serve configs from runtimes that send no
`id`. Gateways are held too, by a reservation whose owner is `` and whose
`gateway` flag is set, so that no container is ever handed a gateway address.

The use cases in `domain.ipam` run every step of one command inside one
`AllocationStore.transaction()`; the store makes that all-or-nothing and
exclusive against every other process using the same store.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from attrs import frozen

from ecs_bridge.domain.types import IPAddress, IPNetwork

__all__ = ["GATEWAY_OWNER", "Allocation", "AllocationStore", "Attachment", "StoreTransaction"]

GATEWAY_OWNER = ""
"""The owner of a gateway reservation; no container owner is ever empty."""


@frozen
class Attachment:
    """Who asks: the owner, and the CNI call's container id, ifname and network name."""

    owner: str
    container_id: str = ""
    ifname: str = ""
    network: str = ""


@frozen
class Allocation:
    """One held address, with the subnet it was allocated from."""

    address: IPAddress
    subnet: IPNetwork
    owner: str
    gateway: bool = False
    """True for a gateway reservation (owner `GATEWAY_OWNER`)."""
    container_id: str = ""
    ifname: str = ""
    network: str = ""
    since: float = 0.0
    """When the address was taken, in seconds since the Unix epoch (UTC)."""


class StoreTransaction(Protocol):
    """The operations available inside one transaction. They see the transaction's own
    writes; nothing is visible to other processes before the transaction commits.

    IPv4 and IPv6 addresses never compare equal: `holder(10.0.0.1)` does not find
    `::a00:1`.
    """

    def holder(self, address: IPAddress) -> Allocation | None:
        """The allocation holding `address`, or None if it is free."""
        ...

    def held_by(self, owner: str) -> list[Allocation]:
        """Every allocation of `owner`, IPv4 first, each family in address order."""
        ...

    def every_allocation(self) -> list[Allocation]:
        """All allocations, gateways included, IPv4 first, in address order. This reads
        the whole table: for GC and operators, never for ADD or DEL."""
        ...

    def lowest_free(self, first: IPAddress, last: IPAddress) -> IPAddress | None:
        """The lowest address from `first` to `last` (inclusive, one family) that no
        allocation holds, or None. Costs in proportion to the held addresses just
        after `first`, never to all allocations."""
        ...

    def insert(self, allocation: Allocation) -> None:
        """Hold a free address. Inserting a held address is a bug and raises."""
        ...

    def delete(self, address: IPAddress) -> None:
        """Free `address`; freeing a free address does nothing."""
        ...

    def cursor(self, subnet: IPNetwork) -> IPAddress | None:
        """The last address allocated or released in `subnet`, or None before the first."""
        ...

    def set_cursor(self, subnet: IPNetwork, address: IPAddress) -> None:
        """Move the cursor of `subnet`; each subnet has its own."""
        ...


class AllocationStore(Protocol):
    """Where allocations live between plugin processes."""

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        """One exclusive write transaction: it commits when the block ends normally and
        rolls back entirely when the block raises (or the process dies inside it).

        Raises `CniError` code 11 (TRY_AGAIN) when the store stays locked by another
        process past the store's timeout, code 5 (IO_FAILURE) when it cannot be read
        or written.
        """
        ...
