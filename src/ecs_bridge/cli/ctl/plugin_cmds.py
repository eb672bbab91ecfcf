"""`add`, `del`, `check`: run the installed plugin exactly as a runtime does, with flags
for the CNI variables, and show what it answered."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ecs_bridge.cli.ctl import runtime
from ecs_bridge.cli.ctl.output import context, echo_json, reports_errors, table
from ecs_bridge.domain import fields, resultcodec
from ecs_bridge.domain.types import Result

__all__ = ["app", "show_result"]

app = typer.Typer()

Conf = Annotated[Path | None, typer.Option(
    "--conf", help="The network config (JSON). Without it, or with `-`: read from stdin.",
    show_default=False)]
Netns = Annotated[str, typer.Option(
    help="CNI_NETNS: a namespace path, or the name of one made by `ip netns add`.")]
Ifname = Annotated[str, typer.Option(help="CNI_IFNAME: the interface inside the container.")]
ContainerId = Annotated[str, typer.Option(help="CNI_CONTAINERID.")]
CniPath = Annotated[str | None, typer.Option(
    help="CNI_PATH: where the plugins are, colon-separated.",
    show_default="the directory of this command")]
CniVersion = Annotated[str | None, typer.Option(
    help="Send this cniVersion instead of the config's.", show_default=False)]
Db = Annotated[str | None, typer.Option(
    "--db", help="IPAM_DB_PATH for ecs-ipam.", show_default="as in the environment")]
Json = Annotated[bool, typer.Option("--json", help="Print the plugin's JSON as it is.")]

_EXAMPLE = ("Example: ecs-bridge-ctl {cmd} --conf /etc/cni/net.d/ecs.conf --netns task1 "
            "--container-id c1 --ifname eth0")


def _run(ctx: typer.Context, command: str, *, conf: Path | None, netns: str, ifname: str,
         container_id: str, cni_path: str | None, cni_version: str | None, db: str | None,
         prev_result: Path | None = None) -> tuple[Any, dict[str, Any]]:
    wiring = context(ctx)
    config = runtime.load_config(conf, stdin=sys.stdin, cni_version=cni_version,
                                 prev_result=prev_result)
    plugin = fields.opt_str(config, "type", "type") or ""
    if not plugin or "/" in plugin:
        raise fields.invalid(f"network config type {plugin!r} does not name a plugin")
    path = tuple(cni_path.split(":")) if cni_path else (str(wiring.scripts_dir),)
    call = runtime.PluginCall(command=command, cni_path=path, container_id=container_id,
                              netns=runtime.netns_path(netns), ifname=ifname,
                              extra_env={"IPAM_DB_PATH": db} if db else {})
    return runtime.exec_plugin(plugin, call, config), config


@app.command("add", epilog=_EXAMPLE.format(cmd="add"))
@reports_errors
def add(ctx: typer.Context, *, conf: Conf = None, netns: Netns = "", ifname: Ifname = "eth0",
        container_id: ContainerId = "", cni_path: CniPath = None,
        cni_version: CniVersion = None, db: Db = None, json: Json = False) -> None:
    """ADD: attach a container's namespace to the bridge; print the result."""
    out, config = _run(ctx, "ADD", conf=conf, netns=netns, ifname=ifname,
                       container_id=container_id, cni_path=cni_path,
                       cni_version=cni_version, db=db)
    if json:
        echo_json(out)
        return
    version = str(config.get("cniVersion", ""))
    typer.echo(f"ADD succeeded (CNI {version}): {ifname} in {runtime.netns_path(netns)}")
    show_result(resultcodec.decode(out, version))


@app.command("del", epilog=_EXAMPLE.format(cmd="del"))
@reports_errors
def delete(ctx: typer.Context, *, conf: Conf = None, netns: Netns = "", ifname: Ifname = "eth0",
           container_id: ContainerId = "", cni_path: CniPath = None,
           cni_version: CniVersion = None, db: Db = None) -> None:
    """DEL: detach the container and release its addresses (already gone is success)."""
    _run(ctx, "DEL", conf=conf, netns=netns, ifname=ifname, container_id=container_id,
         cni_path=cni_path, cni_version=cni_version, db=db)
    typer.echo(f"DEL succeeded: {ifname} in {runtime.netns_path(netns) or '(no netns)'}")


@app.command("check", epilog=_EXAMPLE.format(cmd="check") + " --prev-result add.json "
             "(add.json: the output of `add --json`)")
@reports_errors
def check(ctx: typer.Context, *, conf: Conf = None, netns: Netns = "", ifname: Ifname = "eth0",
          container_id: ContainerId = "", cni_path: CniPath = None,
          cni_version: CniVersion = None, db: Db = None,
          prev_result: Annotated[Path | None, typer.Option(
              help="The ADD result to check against (JSON), sent as prevResult.",
              show_default=False)] = None) -> None:
    """CHECK: verify that what ADD built is still there (needs cniVersion 0.4.0 or later)."""
    _run(ctx, "CHECK", conf=conf, netns=netns, ifname=ifname, container_id=container_id,
         cni_path=cni_path, cni_version=cni_version, db=db, prev_result=prev_result)
    typer.echo(f"CHECK passed: {ifname} in {runtime.netns_path(netns)}")


def show_result(result: Result) -> None:
    """The result as three small tables: interfaces, addresses, routes."""
    typer.echo(table(["#", "INTERFACE", "MAC", "SANDBOX"],
                     [(i, x.name, x.mac, x.sandbox) for i, x in enumerate(result.interfaces)]))
    typer.echo(table(["ADDRESS", "GATEWAY", "INTERFACE"],
                     [(ip.address.with_prefixlen, ip.gateway, ip.interface)
                      for ip in result.ips]))
    if result.routes:
        typer.echo(table(["ROUTE", "VIA"], [(r.dst, r.gw) for r in result.routes]))
