"""`status`: the bridge, the veths on it and their containers, the allocations, and
every way these disagree (exit status 1 when they do)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from ecs_bridge.adapters.sqlite_store import DEFAULT_PATH
from ecs_bridge.cli.ctl.ipam_cmds import allocation_json
from ecs_bridge.cli.ctl.observe import Db, observe
from ecs_bridge.cli.ctl.output import context, echo_json, reports_errors, since, table
from ecs_bridge.domain import reconcile
from ecs_bridge.domain.allocation import Allocation
from ecs_bridge.domain.inventory import BridgeState, HostVeth, Survey

__all__ = ["DEFAULT_BRIDGE", "app"]

DEFAULT_BRIDGE = "ecs-bridge"
"""The bridge the ECS agent configures."""

app = typer.Typer()


@app.command("status", epilog="Example: ecs-bridge-ctl status --bridge ecs-br0 "
             "--db /var/lib/ecs/data/eni-ipam.db")
@reports_errors
def status(
    ctx: typer.Context,
    bridge: Annotated[str, typer.Option(help="The bridge to look at.")] = DEFAULT_BRIDGE,
    db: Db = DEFAULT_PATH,
    json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Show the bridge, its veths with their containers' namespaces, every allocation,
    and the inconsistencies between them; exit 1 if there are any.

    Run it in the namespace that holds the bridge (the host). It reads, never changes."""
    survey, allocations = observe(context(ctx), db, place=lambda v, _: v.bridge == bridge)
    found = reconcile.problems(bridge, survey, allocations)
    ports = survey.ports_of(bridge)
    if json:
        echo_json(_as_json(survey.bridge(bridge), ports, allocations, found))
    else:
        _show(bridge, survey, ports=ports, allocations=allocations, found=found, db=db)
    if found:
        raise typer.Exit(1)


def _show(name: str, survey: Survey, *, ports: Sequence[HostVeth],
          allocations: Sequence[Allocation], found: Sequence[reconcile.Problem],
          db: str) -> None:
    state = survey.bridge(name)
    if state is None:
        typer.echo(f"bridge {name}: not found")
    else:
        link = state.link
        addresses = ", ".join(a.with_prefixlen for a in state.addresses) or "none"
        typer.echo(f"bridge {name}: {'up' if link.up else 'DOWN'}, mtu {link.mtu}, "
                   f"mac {link.mac}, addresses {addresses}")
        typer.echo(table(["HOST VETH", "STATE", "MTU", "ATTACHMENT", "PEER", "PEER NETNS",
                          "PEER ADDRESSES", "OWNERS"],
                         [_veth_row(v, allocations) for v in ports]) if ports
                   else "no veths on the bridge")
    typer.echo(f"\nallocations in {db}:")
    typer.echo(table(["ADDRESS", "OWNER", "SINCE", "ATTACHMENT", "SUBNET"],
                     [(a.address, "(gateway)" if a.gateway else a.owner, since(a.since),
                       f"{a.container_id}/{a.ifname}" if a.container_id else "", a.subnet)
                      for a in allocations]) if allocations else "none")
    typer.echo(f"\n{len(found)} problem(s)" + (":" if found else ""))
    for problem in found:
        typer.echo(f"  {problem}")


def _veth_row(veth: HostVeth, allocations: Sequence[Allocation]) -> list[object]:
    peer = veth.peer
    return [veth.name, "up" if veth.link.up else "DOWN", veth.link.mtu,
            "/".join(veth.attachment) if veth.attachment else "",
            peer.ifname if peer else "(not found)",
            (peer.netns or "(host)") if peer else
            (f"nsid {veth.peer_nsid}" if veth.peer_nsid is not None else ""),
            ", ".join(a.with_prefixlen for a in peer.addresses) if peer else "",
            ", ".join(sorted(reconcile.owners_served(veth, allocations)))]


def _as_json(state: BridgeState | None, ports: Sequence[HostVeth],
             allocations: Sequence[Allocation],
             found: Sequence[reconcile.Problem]) -> dict[str, Any]:
    bridge = None if state is None else {
        "name": state.link.name, "up": state.link.up, "mtu": state.link.mtu,
        "mac": state.link.mac, "addresses": [a.with_prefixlen for a in state.addresses]}
    veths = [{
        "name": v.name, "up": v.link.up, "mtu": v.link.mtu, "alias": v.link.alias,
        "attachment": None if v.attachment is None else
        {"containerID": v.attachment[0], "ifname": v.attachment[1]},
        "peerNetnsId": v.peer_nsid,
        "peer": None if v.peer is None else
        {"netns": v.peer.netns, "ifname": v.peer.ifname,
         "addresses": [a.with_prefixlen for a in v.peer.addresses]},
        "owners": sorted(reconcile.owners_served(v, allocations)),
    } for v in ports]
    return {"bridge": bridge, "veths": veths,
            "allocations": [allocation_json(a) for a in allocations],
            "problems": [{"kind": p.kind, "message": p.message} for p in found]}
