"""The AllocationStore contract, written once and held by both the in-memory and the
SQLite store: the in-memory store is only a fair stand-in while this passes for both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecs_bridge.domain.allocation import Allocation, AllocationStore
from ecs_bridge.domain.errors import ADDRESS_CONFLICT, CniError
from ecs_bridge.domain.types import IPAddress
from tests.unit.ipam_support import STORE_KINDS, alloc, ip, net, open_store


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AllocationStore]:
    yield from open_store(request.param, tmp_path)


def test_an_empty_store_holds_nothing(store: AllocationStore) -> None:
    with store.transaction() as tx:
        assert tx.holder(ip("10.0.0.2")) is None
        assert tx.held_by("o") == []
        assert tx.cursor(net("10.0.0.0/24")) is None
        assert tx.lowest_free(ip("10.0.0.1"), ip("10.0.0.254")) == ip("10.0.0.1")


def test_an_allocation_reads_back_field_for_field(store: AllocationStore) -> None:
    a4 = alloc("10.0.0.2", "10.0.0.0/24", "task", container_id="c1", ifname="eth0",
               network="net", since=1700000000.25)
    a6 = alloc("fd00::5", "fd00::/64", "task", since=3.5)
    gw = alloc("10.0.0.1", "10.0.0.0/24", "", gateway=True)
    with store.transaction() as tx:
        for a in (a6, a4, gw):
            tx.insert(a)
    with store.transaction() as tx:
        assert tx.holder(ip("10.0.0.2")) == a4
        assert tx.holder(ip("fd00::5")) == a6
        assert tx.holder(ip("10.0.0.1")) == gw


def test_held_by_lists_only_that_owner_ipv4_first_in_address_order(
    store: AllocationStore,
) -> None:
    with store.transaction() as tx:
        for address, owner in [("fd00::9", "a"), ("10.0.0.9", "a"), ("10.0.0.3", "a"),
                               ("fd00::1", "a"), ("10.0.0.4", "b")]:
            tx.insert(alloc(address, "fd00::/64" if ":" in address else "10.0.0.0/24", owner))
    with store.transaction() as tx:
        assert [str(a.address) for a in tx.held_by("a")] == [
            "10.0.0.3", "10.0.0.9", "fd00::1", "fd00::9"]
        assert [str(a.address) for a in tx.held_by("b")] == ["10.0.0.4"]


def test_every_allocation_lists_all_owners_and_gateways_ipv4_first(
    store: AllocationStore,
) -> None:
    with store.transaction() as tx:
        for address, owner in [("fd00::9", "a"), ("10.0.0.9", "b"), ("10.0.0.1", "")]:
            tx.insert(alloc(address, "fd00::/64" if ":" in address else "10.0.0.0/24", owner))
    with store.transaction() as tx:
        assert [(str(a.address), a.owner) for a in tx.every_allocation()] == [
            ("10.0.0.1", ""), ("10.0.0.9", "b"), ("fd00::9", "a")]


def test_lowest_free_skips_a_run_of_held_addresses(store: AllocationStore) -> None:
    with store.transaction() as tx:
        for last_octet in (1, 2, 3, 5):
            tx.insert(alloc(f"10.0.0.{last_octet}", "10.0.0.0/24"))
        assert tx.lowest_free(ip("10.0.0.1"), ip("10.0.0.254")) == ip("10.0.0.4")
        assert tx.lowest_free(ip("10.0.0.5"), ip("10.0.0.254")) == ip("10.0.0.6")
        assert tx.lowest_free(ip("10.0.0.7"), ip("10.0.0.254")) == ip("10.0.0.7")


def test_lowest_free_is_none_when_the_whole_range_is_held(store: AllocationStore) -> None:
    with store.transaction() as tx:
        for last_octet in (1, 2, 3):
            tx.insert(alloc(f"10.0.0.{last_octet}", "10.0.0.0/24"))
        assert tx.lowest_free(ip("10.0.0.1"), ip("10.0.0.3")) is None
        assert tx.lowest_free(ip("10.0.0.2"), ip("10.0.0.2")) is None
        assert tx.lowest_free(ip("10.0.0.2"), ip("10.0.0.4")) == ip("10.0.0.4")


def test_lowest_free_counts_across_byte_boundaries(store: AllocationStore) -> None:
    with store.transaction() as tx:
        tx.insert(alloc("10.0.0.255", "10.0.0.0/22"))
        tx.insert(alloc("fd00::ffff", "fd00::/64"))
        assert tx.lowest_free(ip("10.0.0.255"), ip("10.0.3.254")) == ip("10.0.1.0")
        assert tx.lowest_free(ip("fd00::ffff"), ip("fd00::ffff:ffff")) == ip("fd00::1:0")


def test_families_never_mix(store: AllocationStore) -> None:
    # ::a00:2 has the same low 32 bits as 10.0.0.2; neither hides the other.
    with store.transaction() as tx:
        tx.insert(alloc("::a00:2", "::/96"))
        assert tx.holder(ip("10.0.0.2")) is None
        assert tx.lowest_free(ip("10.0.0.2"), ip("10.0.0.9")) == ip("10.0.0.2")
        tx.insert(alloc("10.0.0.3", "10.0.0.0/24"))
        assert tx.lowest_free(ip("::a00:3"), ip("::a00:9")) == ip("::a00:3")


def test_inserting_a_held_address_is_refused(store: AllocationStore) -> None:
    with store.transaction() as tx:
        tx.insert(alloc("10.0.0.2", "10.0.0.0/24", "a"))
    with pytest.raises(CniError) as caught, store.transaction() as tx:
        tx.insert(alloc("10.0.0.2", "10.0.0.0/24", "b"))
    assert caught.value.code == ADDRESS_CONFLICT
    with store.transaction() as tx:
        holder = tx.holder(ip("10.0.0.2"))
        assert holder is not None
        assert holder.owner == "a"


def test_delete_frees_and_deleting_a_free_address_does_nothing(store: AllocationStore) -> None:
    with store.transaction() as tx:
        tx.insert(alloc("10.0.0.2", "10.0.0.0/24"))
        tx.insert(alloc("10.0.0.3", "10.0.0.0/24"))
    with store.transaction() as tx:
        tx.delete(ip("10.0.0.2"))
        tx.delete(ip("10.0.0.2"))
        tx.delete(ip("10.0.0.77"))
    with store.transaction() as tx:
        assert tx.holder(ip("10.0.0.2")) is None
        assert tx.holder(ip("10.0.0.3")) is not None
        assert tx.lowest_free(ip("10.0.0.2"), ip("10.0.0.9")) == ip("10.0.0.2")


def test_each_subnet_has_its_own_cursor(store: AllocationStore) -> None:
    with store.transaction() as tx:
        tx.set_cursor(net("fd00:1::/120"), ip("fd00:1::7"))
        tx.set_cursor(net("fd00:2::/120"), ip("fd00:2::3"))
        tx.set_cursor(net("10.0.0.0/24"), ip("10.0.0.9"))
    with store.transaction() as tx:
        tx.set_cursor(net("10.0.0.0/24"), ip("10.0.0.4"))
    with store.transaction() as tx:
        assert tx.cursor(net("fd00:1::/120")) == ip("fd00:1::7")
        assert tx.cursor(net("fd00:2::/120")) == ip("fd00:2::3")
        assert tx.cursor(net("10.0.0.0/24")) == ip("10.0.0.4")
        assert tx.cursor(net("10.0.0.0/25")) is None


def test_a_transaction_that_raises_leaves_nothing_behind(store: AllocationStore) -> None:
    with store.transaction() as tx:
        tx.insert(alloc("10.0.0.2", "10.0.0.0/24", "keep"))

    def change_then_fail() -> None:
        with store.transaction() as tx:
            tx.insert(alloc("10.0.0.3", "10.0.0.0/24", "lost"))
            tx.delete(ip("10.0.0.2"))
            tx.set_cursor(net("10.0.0.0/24"), ip("10.0.0.3"))
            assert tx.holder(ip("10.0.0.3")) is not None  # a transaction sees its own writes
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        change_then_fail()
    with store.transaction() as tx:
        assert tx.holder(ip("10.0.0.3")) is None
        assert tx.holder(ip("10.0.0.2")) is not None
        assert tx.cursor(net("10.0.0.0/24")) is None


class _Rollback(Exception):
    """Raised to end a transaction without keeping its writes."""


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(held=st.sets(st.integers(0, 40), max_size=30), bounds=st.tuples(
    st.integers(0, 45), st.integers(0, 45)), version=st.sampled_from([4, 6]))
def test_lowest_free_agrees_with_a_brute_force_oracle(
    store: AllocationStore, held: set[int], bounds: tuple[int, int], version: int
) -> None:
    base, subnet = (ip("10.0.0.200"), "10.0.0.0/16") if version == 4 else (
        ip("fd00::fff0"), "fd00::/64")
    low, high = sorted(bounds)
    expected = next((base + o for o in range(low, high + 1) if o not in held), None)
    found: list[IPAddress | None] = []
    try:
        with store.transaction() as tx:  # rolled back: each example starts empty
            for offset in held:
                tx.insert(Allocation(address=base + offset, subnet=net(subnet), owner="o"))
            found.append(tx.lowest_free(base + low, base + high))
            raise _Rollback
    except _Rollback:
        pass
    assert found == [expected]
