"""ecs-bridge ADD and DEL on real namespaces, exec'd as a runtime does, checked with `ip -j`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bridgekit import (
    CREDENTIALS,
    allocations,
    bridge_config,
    cni_env,
    container_mac_for,
    global_addrs,
    ipv4_ipam,
    ipv6_ipam,
    link,
    routes,
    run_bridge,
    udp_reaches_host,
    veths_on,
)
from tests.e2e.conftest import Netns

SCENARIOS: dict[str, dict[str, Any]] = {
    "ipv4": {
        "ipam": ipv4_ipam(),
        "addrs": ["169.254.172.2/22"],
        "gateways": ["169.254.172.1/22"],
        "routes": {(CREDENTIALS, "169.254.172.1"), ("169.254.172.1/32", "169.254.172.1")},
    },
    "ipv6": {
        "ipam": ipv6_ipam(),
        "addrs": ["2001:db8:172::2/64"],
        "gateways": ["2001:db8:172::1/64"],
        "routes": {("2001:db8:170::2/128", "2001:db8:172::1"),
                   ("2001:db8:172::1/128", "2001:db8:172::1")},
    },
    "dual-stack": {
        "ipam": {**ipv4_ipam(), **ipv6_ipam()},
        "addrs": ["169.254.172.2/22", "2001:db8:172::2/64"],
        "gateways": ["169.254.172.1/22", "2001:db8:172::1/64"],
        "routes": {(CREDENTIALS, "169.254.172.1"), ("169.254.172.1/32", "169.254.172.1"),
                   ("2001:db8:170::2/128", "2001:db8:172::1"),
                   ("2001:db8:172::1/128", "2001:db8:172::1")},
    },
    "ipv4-link-local-with-ipv6-default": {
        "ipam": {**ipv4_ipam(), "ipv6-subnet": "2001:db8:172::/64",
                 "ipv6-routes": [{"dst": "::/0"}]},
        "addrs": ["169.254.172.2/22", "2001:db8:172::2/64"],
        "gateways": ["169.254.172.1/22", "2001:db8:172::1/64"],
        "routes": {(CREDENTIALS, "169.254.172.1"), ("169.254.172.1/32", "169.254.172.1"),
                   ("::/0", "2001:db8:172::1"), ("2001:db8:172::1/128", "2001:db8:172::1")},
    },
}


def _assert_attached(host: Netns, ctr: Netns, scenario: dict[str, Any], mtu: int) -> None:
    bridge = link(host, "ecs-br0")
    assert bridge is not None
    assert bridge["linkinfo"]["info_kind"] == "bridge"
    assert "UP" in bridge["flags"]
    assert bridge["mtu"] == mtu
    assert global_addrs(host, "ecs-br0") == sorted(scenario["gateways"])
    [veth] = veths_on(host, "ecs-br0")
    assert veth["ifname"].startswith("veth")
    assert len(veth["ifname"]) == 12
    assert "UP" in veth["flags"]
    assert veth["mtu"] == mtu
    eth0 = link(ctr, "eth0")
    assert eth0 is not None
    assert "UP" in eth0["flags"]
    assert eth0["mtu"] == mtu
    assert global_addrs(ctr, "eth0") == sorted(scenario["addrs"])
    v4 = [a for a in scenario["addrs"] if "." in a]
    if v4:
        assert eth0["address"] == container_mac_for(v4[0].split("/")[0])
    assert routes(ctr, "eth0") == scenario["routes"]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_add_attaches_the_container_and_del_detaches_it(
    name: str, host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    scenario = SCENARIOS[name]
    config = bridge_config(ipam=scenario["ipam"], mtu=1400)
    env = cni_env(container_ns, tmp_path, cni_bin)

    added = run_bridge(cni_bin, host_ns, env, config)
    assert added.returncode == 0, added.stdout + added.stderr
    _assert_attached(host_ns, container_ns, scenario, 1400)
    result = added.json()
    assert [ip["address"] for ip in result["ips"]] == scenario["addrs"]
    assert result["interfaces"][2] == {
        "name": "eth0", "mac": link(container_ns, "eth0")["address"],  # type: ignore[index]
        "sandbox": container_ns.path,
    }
    for gateway in scenario["gateways"]:
        assert udp_reaches_host(host_ns, container_ns, gateway.split("/")[0])

    db = Path(env["IPAM_DB_PATH"])
    assert any("task-1" in map(str, row) for row in allocations(db))
    deleted = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "DEL"}, config)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert deleted.stdout == b""
    assert link(container_ns, "eth0") is None
    assert veths_on(host_ns, "ecs-br0") == []
    assert not any("task-1" in map(str, row) for row in allocations(db))
    assert link(host_ns, "ecs-br0") is not None


def test_add_reuses_an_existing_bridge_and_keeps_its_mtu(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    host_ns.ip("link", "add", "ecs-br0", "mtu", "1500", "type", "bridge")
    before = link(host_ns, "ecs-br0")
    env = cni_env(container_ns, tmp_path, cni_bin)
    added = run_bridge(cni_bin, host_ns, env, bridge_config(mtu=1500))
    assert added.returncode == 0, added.stdout
    after = link(host_ns, "ecs-br0")
    assert after is not None
    assert before is not None
    assert after["ifindex"] == before["ifindex"]
    _assert_attached(host_ns, container_ns, SCENARIOS["ipv4"], 1500)


def test_add_accepts_a_bridge_already_carrying_the_gateway_address(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    host_ns.ip("link", "add", "ecs-br0", "type", "bridge")
    host_ns.ip("addr", "add", "169.254.172.1/22", "dev", "ecs-br0")
    env = cni_env(container_ns, tmp_path, cni_bin)
    added = run_bridge(cni_bin, host_ns, env, bridge_config())
    assert added.returncode == 0, added.stdout
    _assert_attached(host_ns, container_ns, SCENARIOS["ipv4"], 1500)
    assert udp_reaches_host(host_ns, container_ns, "169.254.172.1")


def test_add_refuses_a_bridge_carrying_another_address_and_leaves_no_trace(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    host_ns.ip("link", "add", "ecs-br0", "type", "bridge")
    host_ns.ip("addr", "add", "169.254.100.1/24", "dev", "ecs-br0")
    env = cni_env(container_ns, tmp_path, cni_bin)
    before = (host_ns.snapshot(), container_ns.snapshot())
    added = run_bridge(cni_bin, host_ns, env, bridge_config())
    assert added.returncode == 1
    error = added.json()
    assert error["code"] == 104
    assert "169.254.100.1/24" in error["msg"]
    assert (host_ns.snapshot(), container_ns.snapshot()) == before
    assert not any("task-1" in map(str, row) for row in allocations(Path(env["IPAM_DB_PATH"])))


@pytest.mark.parametrize("mode", ["in-process", "exec"])
def test_ecs_ipam_answers_the_same_in_process_and_exec_d(
    mode: str, host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin)
    if mode == "exec":
        env["ECS_BRIDGE_IPAM_EXEC"] = "1"
    added = run_bridge(cni_bin, host_ns, env, bridge_config())
    assert added.returncode == 0, added.stdout
    _assert_attached(host_ns, container_ns, SCENARIOS["ipv4"], 1500)
    bad = bridge_config(ipam=ipv4_ipam(id="task-2", **{"ipv4-address": "169.254.172.2/22"}))
    refused = run_bridge(cni_bin, host_ns, {**env, "CNI_IFNAME": "eth1"}, bad)
    assert refused.returncode == 1
    assert refused.json()["code"] == 103
    assert "169.254.172.2" in refused.json()["msg"]
    deleted = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "DEL"}, bridge_config())
    assert deleted.returncode == 0
    assert not any("task-1" in map(str, row) for row in allocations(Path(env["IPAM_DB_PATH"])))
