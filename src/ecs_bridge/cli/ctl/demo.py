"""`demo` (what `make demo` runs): the whole path, proven on throwaway namespaces.

ADD through the real `ecs-bridge` (exec'd inside the namespace playing the host, as
a runtime runs it), the kernel read back, `status`, a real UDP datagram from the
container to the bridge, DEL, and proof that nothing is left. The namespaces, the
IPAM database and the log are removed at the end, also after a failure, Ctrl-C,
SIGTERM or SIGHUP.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import typer
from attrs import evolve

from ecs_bridge.cli import helper
from ecs_bridge.cli.ctl.context import CtlContext
from ecs_bridge.cli.ctl.demo_kit import (
    Namespaces,
    interrupts_unwind,
    links_table_rows,
    routes_table_rows,
    udp_probe,
)
from ecs_bridge.cli.ctl.output import context, echo_json, reports_errors, table
from ecs_bridge.cli.ctl.runtime import PluginCall, exec_plugin
from ecs_bridge.domain import resultcodec
from ecs_bridge.domain.errors import INVALID_ENV, CniError

__all__ = ["CONFIG", "app"]

CONFIG: dict[str, Any] = {
    "type": "ecs-bridge", "cniVersion": "0.3.0", "bridge": "ecs-br0", "mtu": 1500,
    "ipam": {"type": "ecs-ipam", "id": "test", "cniVersion": "0.3.0",
             "ipv4-subnet": "169.254.172.0/22",
             "ipv4-routes": [{"dst": "169.254.170.2/32"}]},
}
"""The seed README's example, but for the route: the README routes 169.254.172.1, the
gateway itself, which ADD routes anyway; the demo routes the ECS agent's credentials
endpoint 169.254.170.2/32 through the bridge, as the agent's own config does."""
_LINK_HEADERS = ["NETNS", "INTERFACE", "KIND", "STATE", "MTU", "MAC", "ADDRESSES", "BRIDGE",
                 "ALIAS"]

app = typer.Typer()


@app.command("demo", epilog="Example: sudo ecs-bridge-ctl demo   (this is `make demo`)")
@reports_errors
def demo(ctx: typer.Context) -> None:
    """Prove the whole path on throwaway namespaces (root only): ADD through the real
    ecs-bridge, a UDP datagram from the container to the bridge, DEL, nothing left."""
    wiring = context(ctx)
    if not wiring.is_root():
        raise CniError(INVALID_ENV, "the demo needs root: it creates network namespaces "
                       f"(running as uid {os.geteuid()}); try: sudo make demo")
    if shutil.which("ip") is None:
        raise CniError(INVALID_ENV, "the demo needs `ip` (iproute2) on PATH")
    try:
        failures = _run(wiring)
    except KeyboardInterrupt as exc:
        typer.echo(f"\ninterrupted ({exc or 'SIGINT'}): the demo's namespaces are removed",
                   err=True)
        raise typer.Exit(130) from None
    if failures:
        typer.echo("demo FAILED: " + "; ".join(failures), err=True)
        raise typer.Exit(1)
    typer.echo("\ndemo passed: ADD, a datagram across the bridge, DEL, nothing left behind")


def _step(title: str) -> None:
    typer.echo(f"\n== {title}")


def _run(wiring: CtlContext) -> list[str]:
    failures: list[str] = []
    with interrupts_unwind(), tempfile.TemporaryDirectory(prefix="ecs-bridge-demo-") as tmp, \
            contextlib.ExitStack() as cleanup, Namespaces() as spaces:
        host, ctr = spaces.add("host"), spaces.add("ctr")
        where = {"host": f"/run/netns/{host}", "container": f"/run/netns/{ctr}"}
        _step(f"1. throwaway namespaces: {host} plays the host, {ctr} the container")
        conf, db = Path(tmp, "ecs-demo.conf"), f"{tmp}/data/eni-ipam.db"
        helpers = Path(tmp, "helper")  # the plugins' helper (cli/shim.py) is the demo's own
        helpers.mkdir(mode=0o700)
        cleanup.callback(helper.stop, str(helpers))
        conf.write_text(json.dumps(CONFIG, indent=2) + "\n")
        typer.echo(f"config {conf}:\n{conf.read_text()}IPAM database {db}, log {tmp}/cni.log")
        call = PluginCall(command="ADD", cni_path=(str(wiring.scripts_dir),),
                          container_id="demo-container", netns=where["container"],
                          ifname="eth0", extra_env={"IPAM_DB_PATH": db,
                                                    "ECS_CNI_LOG_FILE": f"{tmp}/cni.log",
                                                    "ECS_BRIDGE_HELPER_DIR": str(helpers)})
        _step(f"2. ADD: ip netns exec {host} ecs-bridge < {conf.name}   (CNI_COMMAND=ADD "
              f"CNI_NETNS={call.netns} CNI_IFNAME=eth0 CNI_PATH={call.cni_path[0]})")
        raw = exec_plugin("ecs-bridge", call, CONFIG, prefix=["ip", "netns", "exec", host])
        echo_json(raw)
        result = resultcodec.decode(raw, CONFIG["cniVersion"])
        _step("3. what the kernel has now (read back through netlink)")
        with wiring.kernel() as kernel:
            typer.echo(table(_LINK_HEADERS, links_table_rows(kernel, where)))
            typer.echo(table(["NETNS", "INTERFACE", "ROUTE", "VIA"],
                             routes_table_rows(kernel, "container", where["container"])))
        _step(f"4. ecs-bridge-ctl status, run inside {host}")
        if _status(wiring, host, db) != 0:
            failures.append("status found inconsistencies after ADD")
        _step("5. a UDP datagram from the container to the bridge's address")
        gateway = result.ips[0].gateway
        got, answer = udp_probe(host, ctr, gateway, 47000 + os.getpid() % 1000) \
            if gateway else ("", "")
        typer.echo(f"a socket bound to {gateway} in {host} received {got}" if got else
                   f"nothing reached {gateway} in {host}")
        typer.echo(f"the container got the answer {answer}" if answer else
                   "no answer reached the container")
        if not got or not answer:
            failures.append(f"no datagram went both ways between the container and {gateway}")
        _step("6. DEL")
        exec_plugin("ecs-bridge", evolve(call, command="DEL"), CONFIG,
                    prefix=["ip", "netns", "exec", host])
        typer.echo("DEL succeeded (no output, exit status 0)")
        _step("7. what is left")
        failures += _leftovers(wiring, where, db)
        typer.echo(f"\nplugin log:\n{Path(tmp, 'cni.log').read_text(errors='replace')}")
    typer.echo(f"removed {host}, {ctr} and {tmp}")
    return failures


def _status(wiring: CtlContext, host: str, db: str) -> int:
    run = subprocess.run(["ip", "netns", "exec", host, str(wiring.scripts_dir /
                                                            "ecs-bridge-ctl"),
                          "status", "--bridge", CONFIG["bridge"], "--db", db],
                         capture_output=True, text=True, timeout=60)
    typer.echo((run.stdout + run.stderr).rstrip())
    return run.returncode


def _leftovers(wiring: CtlContext, where: dict[str, str], db: str) -> list[str]:
    failures = []
    with wiring.kernel() as kernel:
        rows = links_table_rows(kernel, where)
    typer.echo(table(_LINK_HEADERS, rows))
    if any(row[0] == "container" for row in rows):
        failures.append("the container still has an interface")
    if any(row[2] == "veth" for row in rows):
        failures.append("a veth is left in the host namespace")
    with wiring.open_store(db) as store, store.transaction() as tx:
        held = [a for a in tx.every_allocation() if not a.gateway]
    typer.echo(f"addresses held in the IPAM database: {[str(a.address) for a in held]} (the "
               f"gateway's reservation stays; the bridge stays for other containers, and "
               f"goes with the throwaway namespace)")
    if held:
        failures.append(f"addresses still held: {[str(a.address) for a in held]}")
    return failures
