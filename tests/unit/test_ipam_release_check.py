"""DEL (by id, by address, idempotent) and CHECK, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_bridge.adapters.filelog import NullLog
from ecs_bridge.domain import ipam
from ecs_bridge.domain.allocation import AllocationStore, Attachment
from ecs_bridge.domain.errors import ALLOCATION_MISSING, INVALID_CONFIG, CniError
from ecs_bridge.domain.ipamconf import IpamConfig, parse_ipam_config
from tests.unit.ipam_support import STORE_KINDS, ip, net, open_store
from tests.unit.ipam_support import ipam_config as config


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AllocationStore]:
    yield from open_store(request.param, tmp_path)


DUAL = config(ipv4_subnet="10.0.0.0/28", ipv6_subnet="fd00::/120")
NO_IPAM = parse_ipam_config({}, command="DEL")


def add(store: AllocationStore, cfg: IpamConfig, owner: str) -> list[str]:
    result = ipam.allocate(store, cfg, Attachment(owner), now=0.0, log=NullLog())
    return [str(c.address.ip) for c in result.ips]


def delete(store: AllocationStore, cfg: IpamConfig, owner: str) -> list[str]:
    return [str(a.address) for a in ipam.release(store, cfg, Attachment(owner), log=NullLog())]


def holders(store: AllocationStore, *addresses: str) -> list[str | None]:
    with store.transaction() as tx:
        found = [tx.holder(ip(a)) for a in addresses]
    return [None if a is None else a.owner for a in found]


def test_del_by_id_frees_every_address_of_the_owner_and_nothing_else(
    store: AllocationStore,
) -> None:
    add(store, DUAL, "a")
    add(store, DUAL, "b")
    assert delete(store, NO_IPAM, "a") == ["10.0.0.2", "fd00::2"]
    assert holders(store, "10.0.0.2", "fd00::2", "10.0.0.3", "fd00::3") == [None, None, "b", "b"]


def test_del_twice_and_del_of_an_unknown_id_succeed_releasing_nothing(
    store: AllocationStore,
) -> None:
    add(store, DUAL, "a")
    assert delete(store, DUAL, "a") != []
    assert delete(store, DUAL, "a") == []
    assert delete(store, DUAL, "never-seen") == []


def test_del_by_exact_address_without_an_owner(store: AllocationStore) -> None:
    exact = config(ipv4_subnet="10.0.0.0/28", ipv4_address="10.0.0.9/28")
    add(store, exact, "a")
    assert delete(store, exact, "") == ["10.0.0.9"]
    assert holders(store, "10.0.0.9") == [None]


def test_del_by_exact_address_spares_another_owners_address(store: AllocationStore) -> None:
    exact = config(ipv4_subnet="10.0.0.0/28", ipv4_address="10.0.0.9/28")
    add(store, exact, "a")
    assert delete(store, exact, "b") == []
    assert holders(store, "10.0.0.9") == ["a"]


def test_del_with_an_exact_ipv4_address_frees_the_owners_ipv6_by_id(
    store: AllocationStore,
) -> None:
    cfg = config(ipv4_subnet="10.0.0.0/28", ipv4_address="10.0.0.9/28", ipv6_subnet="fd00::/120")
    add(store, cfg, "a")
    assert delete(store, cfg, "a") == ["10.0.0.9", "fd00::2"]


def test_the_gateway_reservation_survives_every_del(store: AllocationStore) -> None:
    add(store, DUAL, "a")
    delete(store, DUAL, "a")
    delete(store, config(ipv4_subnet="10.0.0.0/28", ipv4_address="10.0.0.2/28",
                         ipv4_gateway="10.0.0.14"), "")
    assert holders(store, "10.0.0.1", "fd00::1") == ["", ""]


def test_release_moves_the_cursor_of_the_subnet_the_address_came_from(
    store: AllocationStore,
) -> None:
    add(store, DUAL, "a")
    add(store, DUAL, "b")
    delete(store, NO_IPAM, "a")
    with store.transaction() as tx:
        assert tx.cursor(net("10.0.0.0/28")) == ip("10.0.0.2")
        assert tx.cursor(net("fd00::/120")) == ip("fd00::2")


def test_del_naming_nothing_to_release_is_error_7(store: AllocationStore) -> None:
    with pytest.raises(CniError) as caught:
        delete(store, NO_IPAM, "")
    assert caught.value.code == INVALID_CONFIG
    assert "no ipam.id" in caught.value.msg
    assert "CNI_CONTAINERID is empty" in caught.value.msg


def test_check_passes_when_the_owner_holds_an_address_in_each_subnet(
    store: AllocationStore,
) -> None:
    add(store, DUAL, "a")
    ipam.check(store, DUAL, Attachment("a"))


@pytest.mark.parametrize(("cfg", "needle"), [
    (DUAL, "id 'b' holds no address in ipam.ipv4-subnet 10.0.0.0/28"),
    (config(ipv4_subnet="10.0.0.0/28", ipv6_subnet="fd00:1::/120"),
     "id 'a' holds no address in ipam.ipv6-subnet fd00:1::/120"),
    (config(ipv4_subnet="10.0.0.0/28", ipv4_address="10.0.0.5/28"),
     "id 'a' holds 10.0.0.2, not ipam.ipv4-address 10.0.0.5"),
])
def test_check_fails_naming_the_owner_and_the_subnet(
    store: AllocationStore, cfg: IpamConfig, needle: str
) -> None:
    add(store, DUAL, "a")
    owner = needle.split("'")[1]
    with pytest.raises(CniError) as caught:
        ipam.check(store, cfg, Attachment(owner))
    assert caught.value.code == ALLOCATION_MISSING
    assert needle in caught.value.msg


def test_check_after_del_fails(store: AllocationStore) -> None:
    add(store, DUAL, "a")
    delete(store, DUAL, "a")
    with pytest.raises(CniError, match="holds no address"):
        ipam.check(store, DUAL, Attachment("a"))
