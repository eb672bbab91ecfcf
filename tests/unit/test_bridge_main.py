"""ecs-bridge's wiring: when ecs-ipam runs in-process, and when it is exec'd."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ecs_bridge.cli import bridge_main


def test_this_installations_ecs_ipam_runs_in_process(tmp_path: Path) -> None:
    own = Path(sys.executable).parent / "ecs-ipam"
    link = tmp_path / "ecs-ipam"
    link.symlink_to(own)
    runner = bridge_main._own_ipam(str(link))
    assert runner is not None
    env = {"CNI_COMMAND": "VERSION"}
    status, out = runner(env, b'{"cniVersion": "0.4.0"}')
    assert status == 0
    assert json.loads(out)["cniVersion"] == "0.4.0"


def test_any_other_executable_is_exec_d(tmp_path: Path) -> None:
    other = tmp_path / "ecs-ipam"
    other.write_text("#!/bin/sh\n")
    assert bridge_main._own_ipam(str(other)) is None
    assert bridge_main._own_ipam("/usr/lib/cni/host-local") is None
