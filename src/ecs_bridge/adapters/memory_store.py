"""An in-memory `AllocationStore` for unit tests: dicts and sorted lists, one process.

It passes the same contract tests as the SQLite store. A transaction works on a
copy that replaces the state only when the block ends normally.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from contextlib import contextmanager

from attrs import define, field

from ecs_bridge.domain.allocation import Allocation
from ecs_bridge.domain.errors import ADDRESS_CONFLICT, CniError
from ecs_bridge.domain.types import IPAddress, IPNetwork

__all__ = ["MemoryStore", "MemoryTransaction"]


@define
class _State:
    by_address: dict[tuple[int, int], Allocation] = field(factory=dict)
    order: dict[int, list[int]] = field(factory=lambda: {4: [], 6: []})
    """Per family, the held addresses as sorted integers."""
    cursors: dict[str, IPAddress] = field(factory=dict)

    def copy(self) -> _State:
        return _State(dict(self.by_address), {k: list(v) for k, v in self.order.items()},
                      dict(self.cursors))


class MemoryTransaction:
    def __init__(self, state: _State) -> None:
        self._s = state

    def holder(self, address: IPAddress) -> Allocation | None:
        return self._s.by_address.get((address.version, int(address)))

    def held_by(self, owner: str) -> list[Allocation]:
        found = [a for a in self._s.by_address.values() if a.owner == owner]
        return sorted(found, key=lambda a: (a.address.version, int(a.address)))

    def every_allocation(self) -> list[Allocation]:
        return sorted(self._s.by_address.values(),
                      key=lambda a: (a.address.version, int(a.address)))

    def lowest_free(self, first: IPAddress, last: IPAddress) -> IPAddress | None:
        held = self._s.order[first.version]
        candidate, end = int(first), int(last)
        i = bisect.bisect_left(held, candidate)
        while i < len(held) and held[i] == candidate and candidate <= end:
            candidate, i = candidate + 1, i + 1
        return first + (candidate - int(first)) if candidate <= end else None

    def insert(self, allocation: Allocation) -> None:
        key = (allocation.address.version, int(allocation.address))
        if key in self._s.by_address:
            raise CniError(ADDRESS_CONFLICT, f"address {allocation.address} is already held")
        self._s.by_address[key] = allocation
        bisect.insort(self._s.order[key[0]], key[1])

    def delete(self, address: IPAddress) -> None:
        key = (address.version, int(address))
        if self._s.by_address.pop(key, None) is not None:
            self._s.order[key[0]].remove(key[1])

    def cursor(self, subnet: IPNetwork) -> IPAddress | None:
        return self._s.cursors.get(subnet.with_prefixlen)

    def set_cursor(self, subnet: IPNetwork, address: IPAddress) -> None:
        self._s.cursors[subnet.with_prefixlen] = address


class MemoryStore:
    def __init__(self) -> None:
        self._state = _State()

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        work = self._state.copy()
        yield MemoryTransaction(work)
        self._state = work
