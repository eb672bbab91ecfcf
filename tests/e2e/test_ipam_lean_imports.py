"""`ecs-ipam` runs on every container start: a real run imports neither typer nor pyroute2.

The installed script is exec'd with PYTHONPROFILEIMPORTTIME=1 (`python -X importtime`),
which makes the interpreter list every module it imports on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    run = run_ipam(tmp_path, command, config, PYTHONPROFILEIMPORTTIME="1")
    assert run.returncode == 0, run
    modules = imported_modules(run.stderr)
    assert {"sqlite3", "ecs_bridge.cli.ipam_main", "ecs_bridge.adapters.sqlite_store"} <= modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
