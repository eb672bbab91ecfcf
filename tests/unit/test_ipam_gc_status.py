"""ecs-ipam GC (release what no valid attachment holds) and STATUS (could an ADD succeed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_bridge.adapters.filelog import NullLog
from ecs_bridge.domain import ipam
from ecs_bridge.domain.allocation import AllocationStore, Attachment
from ecs_bridge.domain.errors import NOT_AVAILABLE, CniError
from ecs_bridge.domain.gc import valid_attachments
from tests.unit.ipam_support import STORE_KINDS, open_store
from tests.unit.ipam_support import ipam_config as config

V4 = config(ipv4_subnet="10.0.0.0/29")
SUBNETS = {V4.families[0].subnet}


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AllocationStore]:
    yield from open_store(request.param, tmp_path)


def attach(store: AllocationStore, owner: str, container: str, ifname: str = "eth0",
           network: str = "net") -> None:
    ipam.allocate(store, V4, Attachment(owner, container, ifname, network), now=1.0,
                  log=NullLog())


def owners(store: AllocationStore) -> list[str]:
    with store.transaction() as tx:
        return [a.owner for a in tx.every_allocation()]


def test_gc_releases_only_what_no_valid_attachment_holds(store: AllocationStore) -> None:
    attach(store, "a", "ca")
    attach(store, "b", "cb")
    attach(store, "c", "cc", ifname="eth1")
    freed = ipam.collect(store, "net", SUBNETS, {("ca", "eth0"), ("cc", "eth0")},
                         log=NullLog())
    assert sorted(a.owner for a in freed) == ["b", "c"]
    assert owners(store) == ["", "a"]  # the gateway reservation stays


def test_gc_leaves_other_networks_and_subnets_alone(store: AllocationStore) -> None:
    attach(store, "a", "ca", network="other-net")
    assert ipam.collect(store, "net", SUBNETS, set(), log=NullLog()) == []
    assert ipam.collect(store, "other-net", set(), set(), log=NullLog()) == []
    assert owners(store) == ["", "a"]


def test_an_allocation_made_without_ifname_is_live_while_its_container_is(
    store: AllocationStore,
) -> None:
    attach(store, "a", "ca", ifname="")
    assert ipam.collect(store, "net", SUBNETS, {("ca", "eth7")}, log=NullLog()) == []
    assert [a.owner for a in ipam.collect(store, "net", SUBNETS, set(), log=NullLog())] == ["a"]


def test_status_passes_until_the_pool_is_full(store: AllocationStore) -> None:
    for n in range(5):  # a /29 has 6 host addresses, one is the gateway
        ipam.status(store, V4)
        attach(store, f"o{n}", f"c{n}")
    with pytest.raises(CniError) as err:
        ipam.status(store, V4)
    assert err.value.code == NOT_AVAILABLE
    assert "10.0.0.0/29" in err.value.msg


@pytest.mark.parametrize("key", ["cni.dev/valid-attachments", "cni.dev/attachments"])
def test_valid_attachments_are_read_under_either_key(key: str) -> None:
    config_ = {key: [{"containerID": "c1", "ifname": "eth0"}]}
    assert valid_attachments(config_) == {("c1", "eth0")}


@pytest.mark.parametrize("bad", [
    {"cni.dev/valid-attachments": "c1"},
    {"cni.dev/valid-attachments": [["c1", "eth0"]]},
    {"cni.dev/valid-attachments": [{"containerID": "c1"}]},
])
def test_malformed_valid_attachments_are_a_config_error(bad: dict[str, object]) -> None:
    with pytest.raises(CniError) as err:
        valid_attachments(bad)
    assert err.value.code == 7
