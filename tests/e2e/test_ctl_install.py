"""`ecs-bridge-ctl install`: the launchers it writes serve a runtime that execs them with
nothing in the environment but the CNI variables (and where to keep the database)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.e2e.bridgekit import allocations, bridge_config, link, veths_on
from tests.e2e.conftest import Netns
from tests.e2e.ctlkit import CTL

IP = shutil.which("ip") or "/usr/sbin/ip"


def bare_env(**cni: str) -> dict[str, str]:
    """Only what is given, plus this session's helper settings (if any), so plugins
    never meet a helper of other code."""
    return {**cni, **{k: v for k, v in os.environ.items() if k.startswith("ECS_BRIDGE_HELPER")}}


def test_installed_plugins_answer_version_and_run_add_and_del_with_a_bare_environment(
    host_ns: Netns, container_ns: Netns, tmp_path: Path,
) -> None:
    bin_dir = tmp_path / "opt" / "cni" / "bin"
    installed = subprocess.run([str(CTL), "install", "--cni-bin-dir", str(bin_dir)],
                               capture_output=True, text=True, timeout=60)
    assert installed.returncode == 0, installed.stderr
    assert sorted(p.name for p in bin_dir.iterdir()) == ["ecs-bridge", "ecs-ipam"]

    for name in ("ecs-bridge", "ecs-ipam"):
        run = subprocess.run([str(bin_dir / name)], env=bare_env(CNI_COMMAND="VERSION"),
                             input=b'{"cniVersion": "1.0.0"}', capture_output=True,
                             timeout=60, cwd="/")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["cniVersion"] == "1.0.0"

    db = tmp_path / "data" / "eni-ipam.db"
    cni = {"CNI_CONTAINERID": "c1", "CNI_NETNS": container_ns.path, "CNI_IFNAME": "eth0",
           "CNI_PATH": str(bin_dir), "IPAM_DB_PATH": str(db)}
    config = json.dumps(bridge_config()).encode()

    def run_bridge(command: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([IP, "netns", "exec", host_ns.name, str(bin_dir / "ecs-bridge")],
                              env=bare_env(CNI_COMMAND=command, **cni), input=config,
                              capture_output=True, timeout=60, cwd="/")

    added = run_bridge("ADD")
    assert added.returncode == 0, added.stdout + added.stderr
    assert json.loads(added.stdout)["ips"][0]["address"] == "169.254.172.2/22"
    assert link(container_ns, "eth0") is not None
    assert len(veths_on(host_ns, "ecs-br0")) == 1
    assert any("task-1" in map(str, row) for row in allocations(db))

    deleted = run_bridge("DEL")
    assert (deleted.returncode, deleted.stdout) == (0, b""), deleted.stderr
    assert link(container_ns, "eth0") is None
    assert veths_on(host_ns, "ecs-br0") == []
    assert not any("task-1" in map(str, row) for row in allocations(db))
