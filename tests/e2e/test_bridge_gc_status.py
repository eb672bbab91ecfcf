"""CNI 1.1.0 GC and STATUS, exec'd directly (libcni 1.1 predates them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.e2e.bridgekit import (
    allocations,
    bridge_config,
    cni_env,
    ipv4_ipam,
    link,
    run_bridge,
    veths_on,
)
from tests.e2e.conftest import Netns, exec_plugin


def _attach(cni_bin: Path, host: Netns, ctr: Netns, tmp_path: Path, n: int) -> None:
    env = cni_env(ctr, tmp_path, cni_bin, container_id=f"ctr-{n}")
    config = bridge_config(version="1.1.0", ipam=ipv4_ipam(id=f"task-{n}"))
    added = run_bridge(cni_bin, host, env, config)
    assert added.returncode == 0, added.stdout


def _owners(db: Path) -> set[str]:
    return {str(v) for row in allocations(db) for v in row if str(v).startswith("task-")}


def test_gc_collects_stale_attachments_and_touches_nothing_valid(
    host_ns: Netns, make_netns: Callable[[str], Netns], cni_bin: Path, tmp_path: Path
) -> None:
    containers = [make_netns(f"gc{n}") for n in range(4)]
    for n, ctr in enumerate(containers):
        _attach(cni_bin, host_ns, ctr, tmp_path, n)
    db = tmp_path / "ipam" / "ipam.db"
    assert _owners(db) == {"task-0", "task-1", "task-2", "task-3"}
    valid = [{"containerID": "ctr-0", "ifname": "eth0"},
             {"containerID": "ctr-2", "ifname": "eth0"}]
    env = {"CNI_COMMAND": "GC", "CNI_PATH": str(cni_bin),
           "IPAM_DB_PATH": str(db), "ECS_CNI_LOG_FILE": str(tmp_path / "gc.log")}
    config = {**bridge_config(version="1.1.0"), "cni.dev/valid-attachments": valid}

    collected = exec_plugin(cni_bin / "ecs-bridge", env=env, stdin=config, netns=host_ns)

    assert (collected.returncode, collected.stdout) == (0, b""), collected.stderr
    assert _owners(db) == {"task-0", "task-2"}
    assert len(veths_on(host_ns, "ecs-br0")) == 2
    assert [link(c, "eth0") is not None for c in containers] == [True, False, True, False]
    again = exec_plugin(cni_bin / "ecs-bridge", env=env, stdin=config, netns=host_ns)
    assert again.returncode == 0
    assert _owners(db) == {"task-0", "task-2"}


def test_status_succeeds_while_an_add_can_succeed_and_says_why_not_otherwise(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin, command="STATUS")
    tiny = ipv4_ipam(**{"ipv4-subnet": "169.254.172.0/30"})  # one host address + gateway
    config = bridge_config(version="1.1.0", ipam=tiny)
    ok = run_bridge(cni_bin, host_ns, env, config)
    assert (ok.returncode, ok.stdout) == (0, b"")
    added = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "ADD"}, config)
    assert added.returncode == 0, added.stdout
    full = run_bridge(cni_bin, host_ns, env, config)
    assert full.returncode == 1
    error = full.json()
    assert error["code"] == 50
    assert "169.254.172.0/30" in error["msg"]


def test_status_reports_an_unusable_database_with_code_50(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin, command="STATUS")
    db = Path(env["IPAM_DB_PATH"])
    db.parent.mkdir(mode=0o700)
    db.write_bytes(b"this is not a database" * 100)
    status = run_bridge(cni_bin, host_ns, env, bridge_config(version="1.1.0"))
    assert status.returncode == 1
    assert status.json()["code"] == 50
    assert str(db) in status.json()["msg"] + status.json().get("details", "")
