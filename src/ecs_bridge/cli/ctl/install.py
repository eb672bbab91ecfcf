"""`install`: put `ecs-bridge` and `ecs-ipam` where a runtime looks for plugins.

Each is a small launcher: a shebang naming this installation's interpreter by its
absolute path (run isolated, `-I`, so the runtime's PYTHONPATH and friends change
nothing), importing the plugin's entry point. It needs no environment at all: a
runtime may exec it with only the CNI variables set.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from ecs_bridge.cli.ctl.output import context, reports_errors, table
from ecs_bridge.domain.errors import IO_FAILURE, CniError

__all__ = ["LAUNCHER_MARK", "PLUGINS", "app", "entry_point", "install_plugins", "launcher"]

PLUGINS = ("ecs-bridge", "ecs-ipam")
FALLBACK_ENTRY_POINTS = {
    "ecs-bridge": "ecs_bridge.cli.bridge_main:main",
    "ecs-ipam": "ecs_bridge.cli.ipam_main:main",
}
"""Used only when the installation's metadata names no console script."""
LAUNCHER_MARK = "# ecs-bridge-ctl install: launcher of"
MAX_SHEBANG = 255
"""Linux reads at most 256 bytes of a `#!` line (BINPRM_BUF_SIZE, since 5.1)."""

app = typer.Typer()


def entry_point(name: str) -> str:
    """`module:function` that this installation's console script `name` runs, so that a
    launcher runs exactly what `.venv/bin/<name>` runs."""
    scripts = importlib.metadata.entry_points(group="console_scripts", name=name)
    ours = [ep.value for ep in scripts if ep.value.startswith("ecs_bridge.")]
    return ours[0] if ours else FALLBACK_ENTRY_POINTS[name]


def launcher(name: str, python: str) -> str:
    """The text of the launcher of plugin `name`, run by the interpreter `python`."""
    target = entry_point(name)
    module, _, function = target.partition(":")
    shebang = f"#!{python} -I"
    if not os.path.isabs(python) or any(c.isspace() for c in python):
        raise CniError(IO_FAILURE, f"interpreter {python!r} cannot be named in a #! line",
                       "it must be an absolute path without blanks")
    if len(shebang.encode()) > MAX_SHEBANG:
        raise CniError(IO_FAILURE, f"interpreter path {python!r} is too long for a #! line",
                       f"{len(shebang.encode())} bytes, the kernel reads {MAX_SHEBANG}")
    return (f"{shebang}\n{LAUNCHER_MARK} {name} ({target})\n"
            f"import sys\nfrom {module} import {function}\nsys.exit({function}())\n")


def install_plugins(target: Path, python: str, *, force: bool = False) -> list[Path]:
    """Write both launchers into `target` (created if missing), each atomically: a
    runtime exec'ing the old one meanwhile runs the old one or the new, never half."""
    texts = {name: launcher(name, python) for name in PLUGINS}
    try:
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise CniError(IO_FAILURE, f"cannot create --cni-bin-dir {str(target)!r}: "
                       f"{exc.strerror or exc}") from None
    for name in texts:
        _refuse_foreign(target / name, force=force)
    written = []
    for name, text in texts.items():
        dest = target / name
        temporary = target / f".{name}.ecs-bridge-ctl-{os.getpid()}"
        try:
            temporary.write_text(text)
            temporary.chmod(0o755)
            os.replace(temporary, dest)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise CniError(IO_FAILURE, f"cannot write {str(dest)!r}: "
                           f"{exc.strerror or exc}") from None
        written.append(dest)
    return written


def _refuse_foreign(dest: Path, *, force: bool) -> None:
    if force or not (dest.exists() or dest.is_symlink()):
        return
    try:
        ours = not dest.is_symlink() and LAUNCHER_MARK in dest.read_text(errors="replace")
    except OSError:
        ours = False
    if not ours:
        raise CniError(IO_FAILURE, f"{str(dest)!r} exists and is not an ecs-bridge-ctl "
                       "launcher", "--force replaces it")


def _answers(launcher_path: Path) -> str:
    """What the launcher prints for `--version` with an empty environment."""
    try:
        run = subprocess.run([str(launcher_path), "--version"], env={}, capture_output=True,
                             timeout=60)
        version = json.loads(run.stdout)["version"]
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError) as exc:
        raise CniError(IO_FAILURE, f"installed {str(launcher_path)!r} does not run",
                       str(exc)) from None
    return f"runs, version {version}"


@app.command("install", epilog="Example: ecs-bridge-ctl install --cni-bin-dir /opt/cni/bin")
@reports_errors
def install(
    ctx: typer.Context,
    cni_bin_dir: Annotated[Path, typer.Option(
        help="The CNI plugin directory a runtime searches (its CNI_PATH).")],
    force: Annotated[bool, typer.Option(
        help="Replace files of these names that are not our launchers.")] = False,
) -> None:
    """Install `ecs-bridge` and `ecs-ipam` into a CNI bin directory, as launchers of this
    installation that run with no environment set; then run each once to prove it."""
    wiring = context(ctx)
    written = install_plugins(cni_bin_dir.absolute(), wiring.python, force=force)
    typer.echo(table(["PLUGIN", "PATH", "CHECK"],
                     [(p.name, p, _answers(p)) for p in written]))
