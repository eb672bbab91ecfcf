"""Running the installed `ecs-ipam` as a runtime does, on a database under tmp_path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.e2e.conftest import BIN_DIR, PluginRun, exec_plugin

ECS_IPAM = BIN_DIR / "ecs-ipam"
SUBNET = "169.254.172.0/22"


def agent_config(version: str = "0.3.0", **ipam: Any) -> dict[str, Any]:
    """The config the ECS agent sends (keys as sent), with `ipam` keys overridden."""
    return {
        "bridge": "ecs-bridge", "cniVersion": version, "forceAddress": False,
        "hairpinMode": False, "ipMasq": False, "isDefaultGateway": False, "isGateway": False,
        "mtu": 0, "name": "network-name", "type": "ecs-bridge",
        "ipam": {"id": "0a:1b:2c:3d:4e:5f", "ipv4-routes": [{"dst": "169.254.170.2/32"}],
                 "ipv4-subnet": SUBNET, "type": "ecs-ipam", **ipam},
    }


def cni_env(tmp_path: Path, command: str, **extra: str) -> dict[str, str]:
    """The variables of an ADD by the ECS agent, with the database and log under tmp_path."""
    return {
        "CNI_COMMAND": command, "CNI_CONTAINERID": "pause-ctr-1",
        "CNI_NETNS": "/host/proc/4242/ns/net", "CNI_IFNAME": "ecs-eth0",
        "CNI_ARGS": "", "CNI_PATH": str(BIN_DIR),
        "IPAM_DB_PATH": str(tmp_path / "data" / "eni-ipam.db"),
        "ECS_CNI_LOG_FILE": str(tmp_path / "ipam.log"),
        **extra,
    }


def run_ipam(tmp_path: Path, command: str, config: Any, **env: str) -> PluginRun:
    return exec_plugin(ECS_IPAM, env=cni_env(tmp_path, command, **env), stdin=config)


def agent_del(tmp_path: Path, config: Any) -> PluginRun:
    """DEL as the ECS agent sends it to ecs-ipam directly: no container id, no netns."""
    return run_ipam(tmp_path, "DEL", config, CNI_CONTAINERID="",
                    CNI_NETNS="/host/proc//ns/net", CNI_PATH="")


def error_of(run: PluginRun) -> dict[str, Any]:
    """The CNI error object of a failed run (exit status non-zero)."""
    assert run.returncode != 0, run
    out: dict[str, Any] = json.loads(run.stdout)
    assert isinstance(out["code"], int)
    return out


def db_rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
