"""The `ecs-bridge-ctl` application: one typer group per module, joined here."""

from __future__ import annotations

from typing import Annotated

import typer

from ecs_bridge import __version__
from ecs_bridge.buildinfo import git_short_hash
from ecs_bridge.cli.ctl import demo, install, ipam_cmds, plugin_cmds, status
from ecs_bridge.cli.ctl.context import real
from ecs_bridge.cli.ctl.output import echo_json
from ecs_bridge.domain.versions import SUPPORTED_VERSIONS

__all__ = ["app", "main"]

app = typer.Typer(
    name="ecs-bridge-ctl",
    help="Operate the ecs-bridge and ecs-ipam CNI plugins: run ADD/DEL/CHECK by hand, "
         "show what the bridge has attached, show and repair IPAM allocations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(plugin_cmds.app)
app.add_typer(status.app)
app.add_typer(ipam_cmds.app, name="ipam")
app.add_typer(install.app)
app.add_typer(demo.app)


@app.callback()
def _wire(ctx: typer.Context) -> None:
    if ctx.obj is None:  # tests pass their own wiring as `obj`
        ctx.obj = real()


@app.command("version", epilog="Example: ecs-bridge-ctl version --json")
def version(json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show this version, its commit and the CNI versions the plugins speak."""
    info = {"version": __version__, "gitShortHash": git_short_hash(),
            "cniVersions": list(SUPPORTED_VERSIONS)}
    if json:
        echo_json(info)
    else:
        typer.echo(f"ecs-bridge-ctl {__version__} (commit {info['gitShortHash']}); "
                   f"CNI versions {', '.join(SUPPORTED_VERSIONS)}")


def main() -> None:
    app(prog_name="ecs-bridge-ctl")
