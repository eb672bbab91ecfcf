"""The files the installed plugins write, run as a runtime with umask 0 would run them:
the IPAM database and every directory made for it are root's alone, the log is never
world-writable, and a world-writable log is tightened, not refused."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.e2e.bridgekit import bridge_config, cni_env
from tests.e2e.chaos import feed, finish, start
from tests.e2e.conftest import Netns, PluginRun

MODES = {"resident helper": {}, "one process per call": {"ECS_BRIDGE_HELPER": "off"}}


def mode_of(path: Path) -> str:
    return oct(stat.S_IMODE(path.lstat().st_mode))


def bridge_with_umask_0(cni_bin: Path, host: Netns, env: dict[str, str]) -> PluginRun:
    """ecs-bridge started by a shell whose umask is 0 (the runtime's umask is inherited)."""
    shell = cni_bin / "umask0-ecs-bridge"
    shell.write_text(f"#!/bin/sh\numask 0\nexec {cni_bin / 'ecs-bridge'}\n")
    shell.chmod(0o755)
    proc = start(shell, env=env, netns=host)
    feed(proc, json.dumps(bridge_config()).encode())
    return finish(proc, timeout=60)


@pytest.mark.parametrize("mode", MODES)
def test_under_umask_0_the_database_its_directories_and_the_log_are_private(
    mode: str, host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    db = state / "var" / "lib" / "ecs" / "eni-ipam.db"
    log = state / "ecs-cni-bridge-plugin.log"
    env = {**cni_env(container_ns, tmp_path, cni_bin), "IPAM_DB_PATH": str(db),
           "ECS_CNI_LOG_FILE": str(log), **MODES[mode]}

    added = bridge_with_umask_0(cni_bin, host_ns, env)

    assert added.returncode == 0, added.stdout
    made = sorted((str(p.relative_to(state)), mode_of(p)) for p in state.rglob("*"))
    assert made == [
        ("ecs-cni-bridge-plugin.log", "0o640"),
        ("var", "0o700"), ("var/lib", "0o700"), ("var/lib/ecs", "0o700"),
        ("var/lib/ecs/eni-ipam.db", "0o600"),  # (-wal and -shm go with the last close)
    ]


def test_a_world_writable_log_is_tightened_and_still_written(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path,
) -> None:
    log = tmp_path / "plugins.log"
    log.write_text("before\n")
    log.chmod(0o666)
    env = {**cni_env(container_ns, tmp_path, cni_bin), "ECS_CNI_LOG_FILE": str(log)}
    added = bridge_with_umask_0(cni_bin, host_ns, env)
    assert added.returncode == 0, added.stdout
    assert mode_of(log) == "0o664"
    lines = log.read_text().splitlines()
    assert lines[0] == "before"
    assert any("ADD succeeded" in line for line in lines[1:])
