"""The ECS agent's own calls (spec/ecs-agent.md), unchanged, on real namespaces."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bridgekit import allocations, cni_env, global_addrs, link, run_bridge, veths_on
from tests.e2e.conftest import BIN_DIR, Netns, exec_plugin

AGENT_ADD: dict[str, Any] = {
    "bridge": "ecs-bridge", "cniVersion": "0.3.0", "forceAddress": False, "hairpinMode": False,
    "ipMasq": False, "isDefaultGateway": False, "isGateway": False, "mtu": 0,
    "name": "network-name", "type": "ecs-bridge",
    "ipam": {"id": "0a:1b:2c:3d:4e:5f", "ipv4-routes": [{"dst": "169.254.170.2/32"}],
             "ipv4-subnet": "169.254.172.0/22", "type": "ecs-ipam"},
}


def _agent_env(ctr: Netns, tmp_path: Path, cni_bin: Path, command: str) -> dict[str, str]:
    env = cni_env(ctr, tmp_path, cni_bin, command=command, ifname="ecs-eth0",
                  container_id="pause-0123456789abcdef")
    env["CNI_ARGS"] = ""
    return env


def test_the_agents_add_then_bridge_del_then_ipam_del_by_id(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = _agent_env(container_ns, tmp_path, cni_bin, "ADD")
    db = Path(env["IPAM_DB_PATH"])
    added = run_bridge(cni_bin, host_ns, env, AGENT_ADD)
    assert added.returncode == 0, added.stdout
    result = added.json()
    assert result["ips"][0]["address"] == "169.254.172.2/22"  # what the agent reads
    assert link(container_ns, "ecs-eth0")["mtu"] == 1500  # type: ignore[index]
    assert global_addrs(host_ns, "ecs-bridge") == ["169.254.172.1/22"]

    # The agent's bridge DEL: same config with "ipam": {} -> veth gone, allocation kept.
    bridge_del = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "DEL"},
                            {**AGENT_ADD, "ipam": {}})
    assert (bridge_del.returncode, bridge_del.stdout) == (0, b"")
    assert link(container_ns, "ecs-eth0") is None
    assert veths_on(host_ns, "ecs-bridge") == []
    assert any("0a:1b:2c:3d:4e:5f" in map(str, r) for r in allocations(db))

    # Its direct ecs-ipam DEL by id: empty container id, a netns path that does not exist.
    ipam_env = {**env, "CNI_COMMAND": "DEL", "CNI_CONTAINERID": "",
                "CNI_NETNS": "/host/proc//ns/net"}
    ipam_config = {**AGENT_ADD, "type": "ecs-ipam"}
    released = exec_plugin(cni_bin / "ecs-ipam", env=ipam_env, stdin=ipam_config)
    assert (released.returncode, released.stdout) == (0, b""), released.stdout
    assert not any("0a:1b:2c:3d:4e:5f" in map(str, r) for r in allocations(db))
    again = exec_plugin(cni_bin / "ecs-ipam", env=ipam_env, stdin=ipam_config)
    assert (again.returncode, again.stdout) == (0, b"")


@pytest.mark.parametrize("plugin", ["ecs-bridge", "ecs-ipam"])
@pytest.mark.parametrize("flag", ["--capabilities", "-capabilities"])
def test_capabilities_as_the_agent_probes_at_start_up(plugin: str, flag: str) -> None:
    proc = subprocess.run([str(BIN_DIR / plugin), flag], capture_output=True, env={})
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"capabilities": ["awsvpc-network-mode"]}
