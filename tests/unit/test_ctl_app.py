"""`ecs-bridge-ctl` as a whole: every command documented with an example, `version`,
`demo` refusing to run without root, and typer kept off the CNI exec path."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from ecs_bridge import __version__
from ecs_bridge.cli.ctl.app import app
from ecs_bridge.cli.ctl.install import PLUGINS, entry_point
from ecs_bridge.domain.versions import SUPPORTED_VERSIONS
from tests.unit.ctl_support import FakeHost


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command's words, sub-commands after their group (typer's click groups)."""
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


COMMANDS = list(_commands(typer.main.get_group(app)))


def test_the_commands_are_the_ones_the_operator_was_promised() -> None:
    assert sorted(" ".join(c) for c in COMMANDS) == [
        "add", "check", "del", "demo", "install", "ipam", "ipam gc", "ipam ls",
        "ipam release", "status", "version"]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != ("ipam",)], ids=" ".join)
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    run = FakeHost().ctl(*command, "--help")
    assert run.exit_code == 0
    assert f"Example: ecs-bridge-ctl {' '.join(command)}" in run.stdout \
        or f"Example: sudo ecs-bridge-ctl {' '.join(command)}" in run.stdout


def test_shell_completion_is_offered() -> None:
    assert "--install-completion" in FakeHost().ctl("--help").stdout


def test_version_names_the_package_version_and_every_cni_version() -> None:
    host = FakeHost()
    assert host.ctl("version").stdout.startswith(f"ecs-bridge-ctl {__version__} (commit ")
    info = json.loads(host.ctl("version", "--json").stdout)
    assert info["version"] == __version__
    assert info["cniVersions"] == list(SUPPORTED_VERSIONS)


def test_the_demo_without_root_says_so_and_fails() -> None:
    run = FakeHost().ctl("demo", root=False)
    assert run.exit_code == 1
    assert run.stderr.startswith("error 4: the demo needs root: it creates network namespaces")
    assert "sudo make demo" in run.stderr


def test_an_unknown_option_is_a_usage_error() -> None:
    run = FakeHost().ctl("ipam", "ls", "--colour")
    assert run.exit_code == 2
    assert "--colour" in run.stderr


def test_the_cni_executables_never_import_typer_or_the_ctl() -> None:
    entry = [entry_point(name).split(":")[0] for name in PLUGINS]
    modules = ", ".join([*entry, "ecs_bridge.cli.bridge_main", "ecs_bridge.cli.ipam_main",
                         "ecs_bridge.cli.cni"])
    probe = (f"import sys, {modules}; print(sorted(m for m in sys.modules "
             "if m.split('.')[0] in ('typer', 'click', 'rich') or m.startswith("
             "'ecs_bridge.cli.ctl')))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.strip() == "[]"


def test_importing_the_ctl_package_alone_imports_no_typer() -> None:
    probe = ("import sys, ecs_bridge.cli.ctl; "
             "print('typer' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.strip() == "False"
