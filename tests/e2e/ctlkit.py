"""Running the installed `ecs-bridge-ctl` inside a namespace playing the host, with the
IPAM database and the plugins' log under the test's tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.bridgekit import bridge_config
from tests.e2e.conftest import BIN_DIR, Netns

CTL = BIN_DIR / "ecs-bridge-ctl"


def ctl_env(tmp_path: Path) -> dict[str, str]:
    """PATH, the database and the log; and this session's helper settings, if any, so
    plugins started here never meet a helper of other code."""
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "IPAM_DB_PATH": str(tmp_path / "data" / "eni-ipam.db"),
            "ECS_CNI_LOG_FILE": str(tmp_path / "plugins.log"),
            **{k: v for k, v in os.environ.items() if k.startswith("ECS_BRIDGE_HELPER")}}


def ctl(host: Netns, tmp_path: Path, *args: str, stdin: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`ip netns exec HOST ecs-bridge-ctl ARGS`."""
    return subprocess.run(["ip", "netns", "exec", host.name, str(CTL), *args], input=stdin,
                          env=ctl_env(tmp_path), capture_output=True, text=True,
                          timeout=timeout)


def write_config(tmp_path: Path, owner: str, **ipam: Any) -> Path:
    """The README's config with `ipam.id` = `owner`, in a file."""
    config = bridge_config()
    config["ipam"] = {**config["ipam"], "id": owner, **ipam}
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{owner}.conf"
    path.write_text(json.dumps(config))
    return path


def attach(host: Netns, ctr: Netns, tmp_path: Path, owner: str,
           container_id: str) -> dict[str, Any]:
    """`ecs-bridge-ctl add` of `ctr` for `owner`; its result."""
    run = ctl(host, tmp_path, "add", "--conf", str(write_config(tmp_path, owner)),
              "--netns", ctr.name, "--container-id", container_id, "--json")
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def status(host: Netns, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    run = ctl(host, tmp_path, "status", "--bridge", "ecs-br0", "--json")
    assert run.returncode in (0, 1), run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    return run.returncode, report
