"""`ecs-bridge-ctl install`: launchers that run from a CNI bin directory with nothing
in the environment (VERSION needs no root, so this runs unprivileged)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ecs_bridge.cli.ctl.install import PLUGINS, entry_point, launcher
from tests.unit.ctl_support import FakeHost, run_ctl

ROOT = Path(__file__).resolve().parents[2]


def install(target: Path, *extra: str) -> tuple[int, str, str]:
    context = FakeHost().context()
    run = run_ctl(context, "install", "--cni-bin-dir", str(target), *extra)
    return run.exit_code, run.stdout, run.stderr


def test_a_launcher_runs_what_the_installed_console_script_runs() -> None:
    for name in PLUGINS:
        [script] = importlib.metadata.entry_points(group="console_scripts", name=name)
        module, function = script.value.split(":")
        assert launcher(name, "/usr/bin/python3").splitlines()[-2:] == [
            f"from {module} import {function}", f"sys.exit({function}())"]


def test_the_console_scripts_are_the_ones_pyproject_declares() -> None:
    # a stale `make install` would leave launchers running old entry points
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {name: entry_point(name) for name in PLUGINS} == {
        name: scripts[name] for name in PLUGINS}


def test_install_writes_executable_launchers_and_proves_they_run(tmp_path: Path) -> None:
    target = tmp_path / "opt" / "cni" / "bin"
    code, out, err = install(target)
    assert code == 0, err
    for name in PLUGINS:
        path = target / name
        assert path.stat().st_mode & 0o777 == 0o755
        assert path.read_text().splitlines()[0] == f"#!{sys.executable} -I"
        assert any(line.split()[:2] == [name, str(path)] and "runs, version" in line
                   for line in out.splitlines())


def test_an_installed_plugin_runs_with_an_empty_environment_from_anywhere(
    tmp_path: Path,
) -> None:
    # the CNI commands themselves, VERSION to ADD/DEL, are exec'd in tests/e2e
    install(tmp_path / "bin")
    for name in PLUGINS:
        run = subprocess.run([str(tmp_path / "bin" / name), "--capabilities"], env={},
                             cwd="/", capture_output=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == {"capabilities": ["awsvpc-network-mode"]}


def test_a_file_that_is_not_our_launcher_is_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "ecs-ipam").write_text("#!/bin/sh\necho the Go plugin\n")
    code, _, err = install(tmp_path)
    assert (code, err) == (1, f"error 5: '{tmp_path}/ecs-ipam' exists and is not an "
                              "ecs-bridge-ctl launcher: --force replaces it\n")
    assert not (tmp_path / "ecs-bridge").exists()  # nothing half-installed
    assert install(tmp_path, "--force")[0] == 0
    assert entry_point("ecs-ipam") in (tmp_path / "ecs-ipam").read_text()


def test_installing_again_replaces_our_own_launchers(tmp_path: Path) -> None:
    assert install(tmp_path)[0] == 0
    assert install(tmp_path)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ecs-bridge", "ecs-ipam"]


@pytest.mark.parametrize(("python", "problem"), [
    ("python3", "cannot be named in a #! line"),
    ("/opt/my python/bin/python", "cannot be named in a #! line"),
    ("/" + "p" * 260, "is too long for a #! line"),
])
def test_an_interpreter_no_shebang_can_name_is_refused(python: str, problem: str) -> None:
    with pytest.raises(Exception, match=problem):
        launcher("ecs-bridge", python)
