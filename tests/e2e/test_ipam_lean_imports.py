"""`ecs-ipam` runs on every container start: a real run imports neither typer nor pyroute2,
and the exec shim in front of the helper imports nothing but the standard library.

The installed script is exec'd with PYTHONPROFILEIMPORTTIME=1 (`python -X importtime`),
which makes the interpreter list every module it imports on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import wait_for_helper
from tests.e2e.ipam_support import agent_config, run_ipam

HEAVY = ("typer", "pyroute2", "click", "rich")


def imported_modules(stderr: bytes) -> set[str]:
    names = set()
    for line in stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.parametrize("command", ["ADD", "CHECK", "DEL"])
def test_a_real_run_imports_neither_typer_nor_pyroute2(tmp_path: Path, command: str) -> None:
    config = agent_config("1.0.0")
    if command != "ADD":
        assert run_ipam(tmp_path, "ADD", config).returncode == 0
    run = run_ipam(tmp_path, command, config, PYTHONPROFILEIMPORTTIME="1",
                   ECS_BRIDGE_HELPER="off")
    assert run.returncode == 0, run
    modules = imported_modules(run.stderr)
    assert {"sqlite3", "ecs_bridge.cli.ipam_main", "ecs_bridge.adapters.sqlite_store"} <= modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_the_shim_in_front_of_a_warm_helper_imports_only_the_standard_library(
    tmp_path: Path,
) -> None:
    config = agent_config("1.0.0")
    assert run_ipam(tmp_path, "ADD", config).returncode == 0  # starts the helper
    wait_for_helper()
    run = run_ipam(tmp_path, "CHECK", config, PYTHONPROFILEIMPORTTIME="1")
    assert run.returncode == 0, run
    modules = imported_modules(run.stderr)
    assert "ecs_bridge.cli.shim" in modules
    ours = sorted(m for m in modules if m.startswith("ecs_bridge"))
    assert ours == ["ecs_bridge", "ecs_bridge.cli", "ecs_bridge.cli.shim"]
    assert not {m for m in modules if m.split(".")[0] in (*HEAVY, "attrs", "attr", "sqlite3")}
