"""ADD: gateway reservation, the cursor and its wrap-around, exhaustion, exact addresses,
retried ADDs and dual-stack. Each test runs on both stores."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_bridge.adapters.filelog import NullLog
from ecs_bridge.domain import ipam
from ecs_bridge.domain.allocation import AllocationStore, Attachment
from ecs_bridge.domain.errors import ADDRESS_CONFLICT, NO_ADDRESS, CniError
from ecs_bridge.domain.ipamconf import IpamConfig
from tests.unit.ipam_support import STORE_KINDS, ip, open_store
from tests.unit.ipam_support import ipam_config as config


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AllocationStore]:
    yield from open_store(request.param, tmp_path)


def add(store: AllocationStore, cfg: IpamConfig, owner: str) -> list[str]:
    result = ipam.allocate(store, cfg, Attachment(owner, container_id=f"c-{owner}",
                                                  ifname="eth0", network="net"),
                           now=1000.0, log=NullLog())
    return [str(c.address) for c in result.ips]


def delete(store: AllocationStore, cfg: IpamConfig, owner: str) -> list[str]:
    freed = ipam.release(store, cfg, Attachment(owner), log=NullLog())
    return [str(a.address) for a in freed]


V4_28 = config(ipv4_subnet="10.0.0.0/28")


def test_addresses_are_handed_out_in_order_after_the_gateway(store: AllocationStore) -> None:
    assert [add(store, V4_28, f"t{i}") for i in range(3)] == [
        ["10.0.0.2/28"], ["10.0.0.3/28"], ["10.0.0.4/28"]]


def test_a_gateway_inside_the_range_is_never_handed_out(store: AllocationStore) -> None:
    cfg = config(ipv4_subnet="10.0.0.0/29", ipv4_gateway="10.0.0.3")
    got = [add(store, cfg, f"t{i}")[0] for i in range(5)]
    assert got == ["10.0.0.1/29", "10.0.0.2/29", "10.0.0.4/29", "10.0.0.5/29", "10.0.0.6/29"]


@pytest.mark.parametrize(("subnet", "usable"), [
    ("10.0.0.0/30", 1), ("10.0.0.0/29", 5), ("fd00::/126", 2), ("fd00::/125", 6)])
def test_the_pool_runs_out_at_exactly_the_usable_count(
    store: AllocationStore, subnet: str, usable: int
) -> None:
    key = "ipv4_subnet" if "." in subnet else "ipv6_subnet"
    cfg = config(**{key: subnet})
    got = {add(store, cfg, f"t{i}")[0] for i in range(usable)}
    assert len(got) == usable
    with pytest.raises(CniError) as caught:
        add(store, cfg, "one-too-many")
    assert caught.value.code == NO_ADDRESS
    assert subnet in caught.value.msg


def test_a_released_address_is_reused_last_after_wrapping_around(
    store: AllocationStore,
) -> None:
    cfg = config(ipv4_subnet="10.0.0.0/29")  # hosts .1-.6, gateway .1
    for owner in "abc":
        add(store, cfg, owner)  # .2 .3 .4
    assert delete(store, cfg, "b") == ["10.0.0.3"]
    # The cursor moved to .3: the next ADDs go on after .4, wrap, and reach .3 last.
    assert [add(store, cfg, o)[0] for o in "def"] == ["10.0.0.5/29", "10.0.0.6/29", "10.0.0.3/29"]


def test_the_cursor_follows_the_last_release_not_the_lowest(store: AllocationStore) -> None:
    for owner in "abcde":
        add(store, V4_28, owner)  # .2-.6
    delete(store, V4_28, "d")  # .5
    delete(store, V4_28, "b")  # .3, cursor now .3
    assert add(store, V4_28, "f") == ["10.0.0.5/28"]


def test_subnets_have_separate_cursors(store: AllocationStore) -> None:
    one = config(ipv6_subnet="fd00:1::/120")
    two = config(ipv6_subnet="fd00:2::/120")
    assert add(store, one, "a") == ["fd00:1::2/120"]
    assert add(store, one, "b") == ["fd00:1::3/120"]
    assert add(store, two, "c") == ["fd00:2::2/120"]
    assert add(store, one, "d") == ["fd00:1::4/120"]


def test_a_retried_add_returns_the_held_address_and_takes_nothing_new(
    store: AllocationStore,
) -> None:
    assert add(store, V4_28, "a") == ["10.0.0.2/28"]
    assert add(store, V4_28, "a") == ["10.0.0.2/28"]
    assert add(store, V4_28, "b") == ["10.0.0.3/28"]


def test_a_retried_add_from_a_new_container_moves_the_address_to_it_for_gc(
    store: AllocationStore,
) -> None:
    first = Attachment("a", container_id="old-pause", ifname="eth0", network="net")
    again = Attachment("a", container_id="new-pause", ifname="eth1", network="net")
    ipam.allocate(store, V4_28, first, now=1000.0, log=NullLog())
    ipam.allocate(store, V4_28, again, now=2000.0, log=NullLog())
    with store.transaction() as tx:
        [held] = tx.held_by("a")
    assert (str(held.address), held.container_id, held.ifname) == ("10.0.0.2", "new-pause",
                                                                    "eth1")
    assert held.since == 1000.0
    freed = ipam.collect(store, "net", {V4_28.families[0].subnet}, {("new-pause", "eth1")},
                         log=NullLog())
    assert freed == []


def test_an_exact_address_is_given_and_does_not_move_the_cursor(
    store: AllocationStore,
) -> None:
    exact = config(ipv4_subnet="10.0.0.0/28", ipv4_address="10.0.0.9/28")
    assert add(store, exact, "a") == ["10.0.0.9/28"]
    assert add(store, exact, "a") == ["10.0.0.9/28"]
    assert add(store, V4_28, "b") == ["10.0.0.2/28"]


@pytest.mark.parametrize(("first_owner", "address", "needle"), [
    ("other", "10.0.0.9/28", "already held by id 'other'"),
    ("a", "10.0.0.10/28", "id 'a' holds 10.0.0.9, not the requested"),
])
def test_an_exact_address_conflict_is_error_103(
    store: AllocationStore, first_owner: str, address: str, needle: str
) -> None:
    add(store, config(ipv4_subnet="10.0.0.0/28", ipv4_address="10.0.0.9/28"), first_owner)
    with pytest.raises(CniError) as caught:
        add(store, config(ipv4_subnet="10.0.0.0/28", ipv4_address=address), "a")
    assert caught.value.code == ADDRESS_CONFLICT
    assert needle in caught.value.msg


def test_a_gateway_held_by_a_container_is_error_103(store: AllocationStore) -> None:
    add(store, V4_28, "a")  # 10.0.0.2
    needle = "gateway 10.0.0.2 of 10.0.0.0/28 is held by id 'a'"
    with pytest.raises(CniError, match=re.escape(needle)):
        add(store, config(ipv4_subnet="10.0.0.0/28", ipv4_gateway="10.0.0.2"), "b")


def test_an_owner_holding_an_address_of_another_subnet_is_error_103(
    store: AllocationStore,
) -> None:
    add(store, V4_28, "a")
    with pytest.raises(CniError, match=re.escape("outside ipam.ipv4-subnet 10.1.0.0/24")) as caught:
        add(store, config(ipv4_subnet="10.1.0.0/24"), "a")
    assert caught.value.code == ADDRESS_CONFLICT


def test_dual_stack_returns_ipv4_first_with_gateways_and_routes_in_order(
    store: AllocationStore,
) -> None:
    cfg = config(ipv6_subnet="fd00::/120", ipv4_subnet="10.0.0.0/28",
                 ipv6_routes=[{"dst": "fd00:ec2::254/128"}],
                 ipv4_routes=[{"dst": "169.254.170.2/32"}])
    result = ipam.allocate(store, cfg, Attachment("a"), now=0.0, log=NullLog())
    assert [(str(c.address), str(c.gateway)) for c in result.ips] == [
        ("10.0.0.2/28", "10.0.0.1"), ("fd00::2/120", "fd00::1")]
    assert [str(r.dst) for r in result.routes] == ["169.254.170.2/32", "fd00:ec2::254/128"]
    assert result.interfaces == ()
    assert all(c.interface is None for c in result.ips)


def test_a_failing_family_takes_back_the_other_one(store: AllocationStore) -> None:
    cfg = config(ipv4_subnet="10.0.0.0/28", ipv6_subnet="fd00::/126")
    add(store, config(ipv6_subnet="fd00::/126"), "x")
    add(store, config(ipv6_subnet="fd00::/126"), "y")  # the IPv6 pool is now full
    with pytest.raises(CniError):
        add(store, cfg, "a")
    assert add(store, V4_28, "b") == ["10.0.0.2/28"]  # "a" got no IPv4 either


def test_the_allocation_records_who_and_when(store: AllocationStore) -> None:
    add(store, V4_28, "task")
    with store.transaction() as tx:
        held = tx.holder(ip("10.0.0.2"))
        gateway = tx.holder(ip("10.0.0.1"))
    assert held is not None
    assert (held.owner, held.container_id, held.ifname, held.network, held.since) == (
        "task", "c-task", "eth0", "net", 1000.0)
    assert gateway is not None
    assert gateway.gateway
    assert gateway.owner == ""


def test_add_without_an_owner_is_refused(store: AllocationStore) -> None:
    with pytest.raises(CniError, match=re.escape("ipam.id or CNI_CONTAINERID")):
        add(store, V4_28, "")


def test_the_owner_is_the_ipam_id_else_the_container_id() -> None:
    assert ipam.owner_of(config(ipv4_subnet="10.0.0.0/28", id="task"), "ctr") == "task"
    assert ipam.owner_of(V4_28, "ctr") == "ctr"
