"""Properties of the ecs-ipam allocator (domain/ipam.py allocate/release), checked with
hypothesis against a small model of the specification:

- the next address is the first free host address after the subnet's cursor, in
  cyclic order (wrapping past the end to the start), and the cursor moves to every
  address allocated or released; so a released address comes back as late as possible;
- an owner holds at most one address, a retried ADD gets it back, and no address is
  ever held by two owners;
- the pool runs out at exactly the number of usable addresses, for every prefix from
  /20 to /30 and /116 to /126, with the gateway anywhere in the subnet.

The in-memory store runs the full budget; the SQLite store the same model on fewer
examples (one database file per example).
"""

from __future__ import annotations

import ipaddress
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from attrs import define, field
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_bridge.adapters.filelog import NullLog
from ecs_bridge.adapters.memory_store import MemoryStore
from ecs_bridge.adapters.sqlite_store import SqliteStore
from ecs_bridge.domain import ipam
from ecs_bridge.domain.allocation import AllocationStore, Attachment
from ecs_bridge.domain.errors import NO_ADDRESS, CniError
from ecs_bridge.domain.ipamconf import IpamConfig, parse_ipam_config
from ecs_bridge.domain.types import IPNetwork

QUICK = settings(max_examples=60, deadline=None)
SQLITE = settings(max_examples=8, deadline=None)


@define
class Pool:
    """A subnet with its gateway, and its config as ecs-ipam parses it."""

    subnet: IPNetwork
    gateway: int
    config: IpamConfig = field(init=False)

    def __attrs_post_init__(self) -> None:
        key = f"ipv{self.subnet.version}"
        self.config = parse_ipam_config({"ipam": {
            "type": "ecs-ipam", f"{key}-subnet": self.subnet.with_prefixlen,
            f"{key}-gateway": str(ipaddress.ip_address(self.gateway))}}, command="ADD")

    @property
    def hosts(self) -> list[int]:
        """The host addresses in order: not the network address, not IPv4's broadcast."""
        first = int(self.subnet.network_address) + 1
        last = int(self.subnet.broadcast_address) - (self.subnet.version == 4)
        return list(range(first, last + 1))

    @property
    def usable(self) -> int:
        return len(self.hosts) - 1  # the gateway is one of the hosts


@st.composite
def pools(draw: st.DrawFn, prefixes: tuple[int, int]) -> Pool:
    """A subnet of a random prefix at a random place of 10.0.0.0/8 (prefixes up to 32)
    or 2001:db8::/32, with its gateway on a random host address."""
    prefix = draw(st.integers(*prefixes))
    if prefix <= 32:
        base, space = ipaddress.ip_network("10.0.0.0/8"), 32
    else:
        base, space = ipaddress.ip_network("2001:db8::/32"), 128
    index = draw(st.integers(0, 2 ** (prefix - base.prefixlen) - 1))
    start = int(base.network_address) + (index << (space - prefix))
    subnet = ipaddress.ip_network((start, prefix))
    first = int(subnet.network_address) + 1
    last = int(subnet.broadcast_address) - (subnet.version == 4)
    return Pool(subnet=subnet, gateway=draw(st.integers(first, last)))


@define
class Model:
    """The specification of allocate and release, on integers."""

    pool: Pool
    held: dict[str, int] = field(factory=dict)
    cursor: int | None = None

    def add(self, owner: str) -> int | None:
        if owner in self.held:
            return self.held[owner]
        hosts = self.pool.hosts
        taken = {*self.held.values(), self.pool.gateway}
        start = 0 if self.cursor is None else hosts.index(self.cursor) + 1
        for address in hosts[start:] + hosts[:start]:  # after the cursor, then wrapped
            if address not in taken:
                self.held[owner], self.cursor = address, address
                return address
        return None  # no address left

    def delete(self, owner: str) -> int | None:
        address = self.held.pop(owner, None)
        if address is not None:
            self.cursor = address
        return address


def add(store: AllocationStore, pool: Pool, owner: str) -> int | None:
    """ecs-ipam ADD for `owner`: its address, or None when the pool is exhausted."""
    try:
        result = ipam.allocate(store, pool.config, Attachment(owner, container_id=owner),
                               now=0.0, log=NullLog())
    except CniError as exc:
        error = exc
    else:
        (ip,) = result.ips
        assert ip.address.network == pool.subnet
        assert ip.gateway == ipaddress.ip_address(pool.gateway)
        return int(ip.address.ip)
    assert error.code == NO_ADDRESS, error
    assert pool.subnet.with_prefixlen in error.msg
    return None


def delete(store: AllocationStore, pool: Pool, owner: str) -> int | None:
    freed = ipam.release(store, pool.config, Attachment(owner), log=NullLog())
    assert len(freed) <= 1
    return int(freed[0].address) if freed else None


def held(store: AllocationStore) -> dict[str, int]:
    with store.transaction() as tx:
        return {a.owner: int(a.address) for a in tx.every_allocation() if not a.gateway}


@contextmanager
def sqlite_store() -> Iterator[SqliteStore]:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore.open(str(Path(directory) / "ipam.db"))
        try:
            yield store
        finally:
            store.close()


OPS = st.lists(st.tuples(st.sampled_from(["ADD", "DEL"]), st.integers(0, 9)), max_size=60)
"""ADDs and DELs by ten owners, in any order (a small pool fills and wraps often)."""
SMALL = pools((26, 30)) | pools((122, 126))


def run_against_model(store: AllocationStore, pool: Pool,
                      ops: list[tuple[str, int]]) -> None:
    model = Model(pool)
    for command, n in ops:
        owner = f"task-{n}"
        if command == "ADD":
            assert add(store, pool, owner) == model.add(owner), (command, owner)
        else:
            assert delete(store, pool, owner) == model.delete(owner), (command, owner)
        now = held(store)
        assert now == model.held
        assert len(set(now.values())) == len(now)  # never one address for two owners
        assert pool.gateway not in now.values()


@QUICK
@given(pool=SMALL, ops=OPS)
def test_allocation_follows_the_cursor_wraps_and_never_hands_out_an_address_twice(
    pool: Pool, ops: list[tuple[str, int]],
) -> None:
    run_against_model(MemoryStore(), pool, ops)


@SQLITE
@given(pool=SMALL, ops=OPS)
def test_the_sqlite_store_allocates_exactly_as_the_model_too(
    pool: Pool, ops: list[tuple[str, int]],
) -> None:
    with sqlite_store() as store:
        run_against_model(store, pool, ops)


@QUICK
@given(pool=SMALL, data=st.data())
def test_released_addresses_come_back_last_released_last(
    pool: Pool, data: st.DataObject,
) -> None:
    store = MemoryStore()
    owners = [f"task-{n}" for n in range(pool.usable)]
    for owner in owners:
        assert add(store, pool, owner) is not None
    leaving = data.draw(st.lists(st.sampled_from(owners), min_size=1, unique=True))
    released = [a for a in (delete(store, pool, owner) for owner in leaving) if a is not None]
    assert len(released) == len(leaving)
    again = [add(store, pool, f"new-{n}") for n in range(len(leaving))]
    # From the last address released, onwards and round: it is the last to come back.
    order = [a for a in pool.hosts if a in released]
    last = order.index(released[-1])
    assert again == order[last + 1:] + order[:last + 1]
    assert add(store, pool, "one-too-many") is None


@pytest.mark.parametrize("prefix", [*range(20, 31), *range(116, 127)])
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_the_pool_runs_out_at_exactly_the_usable_count_for_every_prefix(
    prefix: int, data: st.DataObject,
) -> None:
    pool = data.draw(pools((prefix, prefix)))
    store = MemoryStore()
    got = [add(store, pool, f"task-{n}") for n in range(pool.usable)]
    assert sorted(a or 0 for a in got) == [a for a in pool.hosts if a != pool.gateway]
    assert add(store, pool, "one-too-many") is None
    assert delete(store, pool, "task-0") == got[0]
    assert add(store, pool, "one-more") == got[0]  # the only one free, however far round
