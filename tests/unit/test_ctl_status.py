"""`ecs-bridge-ctl status` on the fake kernel and the in-memory store: what it shows,
and every inconsistency it must report with exit status 1."""

from __future__ import annotations

import ipaddress
import json

from tests.unit.ctl_support import BRIDGE, FakeHost


def status(host: FakeHost, *extra: str) -> tuple[int, str]:
    run = host.ctl("status", "--bridge", BRIDGE, *extra)
    return run.exit_code, run.stdout


def problems(host: FakeHost) -> list[tuple[str, str]]:
    run = host.ctl("status", "--bridge", BRIDGE, "--json")
    return [(p["kind"], p["message"]) for p in json.loads(run.stdout)["problems"]]


def test_a_consistent_host_shows_bridge_veths_peers_and_allocations_and_exits_0() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    host.attach("c2", owner="task-2", families=("ipv4", "ipv6"))
    code, out = status(host)
    assert code == 0, out
    assert "bridge ecs-br0: up, mtu 1500" in out
    assert "169.254.172.1/22, 2001:db8:172::1/64" in out
    lines = out.splitlines()
    [c1] = [line.split() for line in lines if line.startswith("veth") and "c1/eth0" in line]
    assert c1[1:] == ["up", "1500", "c1/eth0", "eth0", "/run/netns/c1", "169.254.172.2/22",
                      "task-1"]
    assert any("2001:db8:172::2" in line and "task-2" in line for line in lines)
    assert "0 problem(s)" in out


def test_the_json_names_each_veths_attachment_peer_namespace_and_owner() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    report = json.loads(host.ctl("status", "--bridge", BRIDGE, "--json").stdout)
    assert report["bridge"]["addresses"] == ["169.254.172.1/22"]
    [veth] = report["veths"]
    assert veth["alias"] == "cni:c1/eth0"
    assert veth["attachment"] == {"containerID": "c1", "ifname": "eth0"}
    assert veth["peer"] == {"netns": "/run/netns/c1", "ifname": "eth0",
                            "addresses": ["169.254.172.2/22"]}
    assert veth["owners"] == ["task-1"]
    assert [(a["address"], a["owner"], a["gateway"]) for a in report["allocations"]] == [
        ("169.254.172.1", "", True), ("169.254.172.2", "task-1", False)]
    assert report["problems"] == []


def test_a_veth_whose_allocation_was_released_is_reported() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    host.attach("c2", owner="task-2")
    assert host.ctl("ipam", "release", "--id", "task-2").exit_code == 0
    code, out = status(host)
    assert code == 1
    [(kind, message)] = problems(host)
    assert kind == "veth-without-allocation"
    assert "cni:c2/eth0" in message
    assert "peer eth0 in /run/netns/c2" in message
    assert "veth-without-allocation" in out


def test_an_allocation_whose_container_interface_is_gone_is_reported() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    host.kernel.open("/run/netns/c1").delete_link("eth0")  # the pair goes with it
    code, _ = status(host)
    assert code == 1
    assert problems(host) == [("allocation-without-veth",
                               "169.254.172.2 of 'task-1' (c1/eth0) has no host veth on "
                               "'ecs-br0'")]


def test_a_bridge_address_that_is_not_the_gateway_is_reported() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    host.host().add_address(BRIDGE, ipaddress.ip_interface("169.254.99.1/24"))
    assert status(host)[0] == 1
    [(kind, message)] = problems(host)
    assert kind == "bridge-address-not-gateway"
    assert "169.254.99.1/24" in message
    assert "gateways: 169.254.172.1/22" in message


def test_a_bridge_that_lost_its_gateway_address_is_reported() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    host.host().delete_address(BRIDGE, ipaddress.ip_interface("169.254.172.1/22"))
    assert status(host)[0] == 1
    assert problems(host) == [("bridge-lacks-gateway",
                               "bridge 'ecs-br0' lacks the gateway 169.254.172.1/22 of "
                               "169.254.172.0/22 (1 address(es) allocated there)")]


def test_a_gateway_with_another_prefix_length_is_not_the_gateway() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    bridge = host.host()
    bridge.delete_address(BRIDGE, ipaddress.ip_interface("169.254.172.1/22"))
    bridge.add_address(BRIDGE, ipaddress.ip_interface("169.254.172.1/24"))
    assert {kind for kind, _ in problems(host)} == {"bridge-address-not-gateway",
                                                    "bridge-lacks-gateway"}


def test_a_missing_bridge_with_allocations_is_reported_with_each_allocation() -> None:
    host = FakeHost()
    host.hold("169.254.172.7", "task-7")
    code, out = status(host)
    assert code == 1
    assert "bridge ecs-br0: not found" in out
    assert [kind for kind, _ in problems(host)] == ["bridge-missing", "allocation-without-veth"]


def test_no_bridge_and_nothing_allocated_is_consistent() -> None:
    code, out = status(FakeHost())
    assert code == 0
    assert "bridge ecs-br0: not found" in out
    assert "0 problem(s)" in out


def test_a_veth_without_alias_is_matched_by_its_peers_address() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    [veth] = [link for link in host.host().list_links() if link.kind == "veth"]
    host.host().set_link(veth.name, alias="")  # as made before ecs-bridge marked veths
    assert status(host)[0] == 0
    assert json.loads(host.ctl("status", "--bridge", BRIDGE, "--json").stdout)[
        "veths"][0]["owners"] == ["task-1"]


def test_a_veth_in_a_namespace_known_by_no_path_shows_the_namespace_id() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    host.kernel.namespaces.pop("/run/netns/c1")  # only a process holds it, say
    report = json.loads(host.ctl("status", "--bridge", BRIDGE, "--json").stdout)
    [veth] = report["veths"]
    assert veth["peer"] is None
    assert veth["peerNetnsId"] == 0
    assert veth["owners"] == ["task-1"]  # its alias still names the attachment
    assert "nsid 0" in status(host)[1]
