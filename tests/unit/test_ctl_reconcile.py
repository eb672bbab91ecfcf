"""The operator's rules, without a CLI: who a veth serves, what GC may release, and where
the namespaces to search are."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from ecs_bridge.adapters.netns_paths import other_namespaces
from ecs_bridge.domain import plan, reconcile
from ecs_bridge.domain.inventory import BridgeState, HostVeth, Peer, Survey
from ecs_bridge.domain.ports import Link
from tests.unit.ipam_support import alloc

BRIDGE = Link(name="ecs-br0", index=2, kind="bridge", mtu=1500, mac="02:00:00:00:00:01",
              up=True)
GATEWAY = alloc("169.254.172.1", "169.254.172.0/22", "", gateway=True)


def veth(index: int, *, alias: str = "", bridge: str = "ecs-br0",
         peer: Peer | None = None) -> HostVeth:
    link = Link(name=f"veth{index}", index=index, kind="veth", mtu=1500,
                mac="02:00:00:00:01:00", up=True, master=2, peer_index=2, alias=alias)
    return HostVeth(link=link, bridge=bridge, attachment=plan.parse_attachment_alias(alias),
                    peer=peer)


def survey(*veths: HostVeth) -> Survey:
    return Survey(bridges=(BridgeState(BRIDGE, (ipaddress.ip_interface("169.254.172.1/22"),)),),
                  veths=veths)


def test_an_allocation_recorded_without_ifname_is_served_on_any_ifname() -> None:
    held = [alloc("169.254.172.2", "169.254.172.0/22", "task", container_id="c1", ifname="")]
    assert reconcile.owners_served(veth(3, alias="cni:c1/eth1"), held) == {"task"}
    assert reconcile.owners_served(veth(3, alias="cni:c2/eth1"), held) == set()


def test_a_veth_serves_by_alias_or_by_its_peers_address_but_never_a_gateway() -> None:
    held = [GATEWAY,
            alloc("169.254.172.2", "169.254.172.0/22", "a", container_id="c1", ifname="eth0"),
            alloc("169.254.172.3", "169.254.172.0/22", "b", container_id="c2", ifname="eth0")]
    peer = Peer("/run/netns/x", "eth0", (ipaddress.ip_interface("169.254.172.3/22"),
                                         ipaddress.ip_interface("169.254.172.1/22")))
    assert reconcile.owners_served(veth(3, alias="cni:c1/eth0", peer=peer), held) == {"a", "b"}


def test_gc_spares_kept_and_young_owners_and_names_veths_it_cannot_place() -> None:
    now = 10_000.0
    held = [GATEWAY,
            alloc("169.254.172.2", "169.254.172.0/22", "old", container_id="c1", since=1.0),
            alloc("169.254.172.3", "169.254.172.0/22", "young", container_id="c2",
                  since=now - 5),
            alloc("169.254.172.4", "169.254.172.0/22", "kept", container_id="c3", since=1.0)]
    lost, foreign = veth(3), veth(4, bridge="docker0")
    gc = reconcile.gc_plan(survey(lost, foreign), held, keep={"c3"}, now=now, min_age=60)
    assert [owner for owner, _ in gc.release] == ["old"]
    assert [a.owner for a in gc.young] == ["young"]
    assert [a.owner for a in gc.kept] == ["kept"]
    assert gc.unknown == (lost,)  # on the gateway's bridge; docker0's is not our business


def test_namespaces_are_listed_once_each_named_ones_first(tmp_path: Path) -> None:
    run, proc = tmp_path / "netns", tmp_path / "proc"
    run.mkdir()
    for name in ("b", "a"):
        (run / name).write_text(name)
    for pid, target in (("12", run / "a"), ("7", None), ("self", None)):
        (proc / pid / "ns").mkdir(parents=True)
        if target is None:
            (proc / pid / "ns" / "net").write_text(pid)
        else:
            os.link(target, proc / pid / "ns" / "net")  # the same namespace as run/a
    assert other_namespaces(str(run), str(proc)) == [
        str(run / "a"), str(run / "b"), str(proc / "7" / "ns" / "net")]
    assert other_namespaces(str(tmp_path / "none"), str(tmp_path / "none")) == []
