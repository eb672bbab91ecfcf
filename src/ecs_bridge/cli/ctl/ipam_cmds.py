"""`ipam ls`, `ipam release`, `ipam gc`: ecs-ipam's allocations, shown and repaired
through the same store and the same release use case as `ecs-ipam DEL`."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from ecs_bridge.adapters.sqlite_store import DEFAULT_PATH
from ecs_bridge.cli.ctl.observe import Db, observe
from ecs_bridge.cli.ctl.output import context, echo_json, reports_errors, since, table
from ecs_bridge.domain import ipam, reconcile
from ecs_bridge.domain.allocation import Allocation, AllocationStore, Attachment
from ecs_bridge.domain.duration import parse_go_duration
from ecs_bridge.domain.errors import ADDRESS_CONFLICT, INVALID_CONFIG, UNKNOWN_CONTAINER, CniError
from ecs_bridge.domain.ipamconf import parse_ipam_config

__all__ = ["allocation_json", "app"]

app = typer.Typer(help="Show and repair ecs-ipam's allocations.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def allocation_json(a: Allocation) -> dict[str, Any]:
    return {"address": str(a.address), "family": f"ipv{a.address.version}",
            "subnet": a.subnet.with_prefixlen, "owner": a.owner, "gateway": a.gateway,
            "containerID": a.container_id, "ifname": a.ifname, "network": a.network,
            "since": since(a.since)}


def _rows(allocations: Sequence[Allocation], *extra: Sequence[object]) -> list[list[object]]:
    return [[a.address, f"ipv{a.address.version}", "(gateway)" if a.gateway else a.owner,
             since(a.since), f"{a.container_id}/{a.ifname}" if a.container_id else "",
             a.subnet, *(column[i] for column in extra)] for i, a in enumerate(allocations)]


_HEADERS = ["ADDRESS", "FAMILY", "OWNER", "SINCE", "ATTACHMENT", "SUBNET"]


@app.command("ls", epilog="Example: ecs-bridge-ctl ipam ls --db /var/lib/ecs/data/eni-ipam.db")
@reports_errors
def ls(ctx: typer.Context, db: Db = DEFAULT_PATH, json: Json = False) -> None:
    """Every address held, gateway reservations included."""
    with context(ctx).open_store(db) as store, store.transaction() as tx:
        allocations = tx.every_allocation()
    if json:
        echo_json([allocation_json(a) for a in allocations])
    elif allocations:
        typer.echo(table(_HEADERS, _rows(allocations)))
    else:
        typer.echo(f"no addresses held in {db}")


@app.command("release", epilog="Example: ecs-bridge-ctl ipam release --address 169.254.172.9")
@reports_errors
def release(
    ctx: typer.Context, *, db: Db = DEFAULT_PATH,
    owner: Annotated[str, typer.Option("--id", help="Release every address this owner "
                                       "(ipam.id, else container id) holds.")] = "",
    address: Annotated[str, typer.Option(help="Release this address, whoever holds it.")] = "",
    json: Json = False,
) -> None:
    """Release addresses as `ecs-ipam DEL` does. Gateway reservations are never released."""
    if bool(owner) == bool(address):
        raise CniError(INVALID_CONFIG, "ipam release needs either --id or --address, "
                       f"got {'both' if owner else 'neither'}")
    wiring = context(ctx)
    released: list[Allocation] = []
    with wiring.open_store(db) as store:
        exact = _exact(store, address) if address else {}
        if owner or exact:  # else: the address is free, nothing to do
            config = parse_ipam_config({"ipam": {"type": "ecs-ipam", "id": owner, **exact}},
                                       command="DEL")
            released = ipam.release(store, config, Attachment(owner=owner),
                                    log=wiring.make_log("ipam release"))
    if json:
        echo_json([allocation_json(a) for a in released])
    elif released:
        typer.echo(table(_HEADERS, _rows(released)))
    else:
        typer.echo(f"nothing to release: {f'id {owner!r}' if owner else address} holds nothing")


def _exact(store: AllocationStore, text: str) -> dict[str, str]:
    """The `ipam` keys naming `text` as the exact address to release; none if nobody
    holds it."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise CniError(INVALID_CONFIG, f"--address {text!r} is not an IP address") from None
    with store.transaction() as tx:
        holder = tx.holder(address)
    if holder is None:
        return {}
    if holder.gateway:
        raise CniError(ADDRESS_CONFLICT, f"{address} is the gateway of {holder.subnet}; "
                       "gateway reservations are never released")
    key = f"ipv{address.version}"
    return {f"{key}-subnet": holder.subnet.with_prefixlen,
            f"{key}-address": f"{address}/{holder.subnet.prefixlen}"}


@app.command("gc", epilog="Example: ecs-bridge-ctl ipam gc --dry-run --keep task-7")
@reports_errors
def gc(
    ctx: typer.Context, *, db: Db = DEFAULT_PATH,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, change nothing.")] = False,
    keep: Annotated[list[str] | None, typer.Option(
        help="An owner or container id to keep even without a veth (repeatable).",
        show_default=False)] = None,
    min_age: Annotated[str, typer.Option(
        help="Never release an owner holding an address younger than this (Go duration): "
             "an ADD in flight has its address before its veth.")] = "2m",
    force: Annotated[bool, typer.Option(
        help="Go on although some veth on a gateway's bridge cannot be told apart.")] = False,
    json: Json = False,
) -> None:
    """Release the addresses of owners that no host veth serves.

    A veth serves an owner when its alias `cni:<containerID>/<ifname>` names one of the
    owner's allocations, or when its peer in a container carries the owner's address.
    Gateways are never released."""
    wiring = context(ctx)
    age = parse_go_duration(min_age, "--min-age")
    survey, allocations = observe(
        wiring, db, place=lambda v, allocs: not reconcile.owners_served(v, allocs))
    plan = reconcile.gc_plan(survey, allocations, keep=set(keep or ()), now=wiring.now(),
                             min_age=age)
    if plan.unknown and not force:
        raise CniError(UNKNOWN_CONTAINER, "cannot tell whose these veths are: "
                       + ", ".join(reconcile.describe_veth(v) for v in plan.unknown),
                       "their owners' addresses would look stale; --force to collect anyway")
    if not dry_run:
        with wiring.open_store(db) as store:
            for owner, _ in plan.release:
                ipam.release(store, parse_ipam_config(
                    {"ipam": {"type": "ecs-ipam", "id": owner}}, command="DEL"),
                    Attachment(owner=owner), log=wiring.make_log("ipam gc"))
    _show_plan(plan, dry_run=dry_run, json=json)


def _show_plan(plan: reconcile.GcPlan, *, dry_run: bool, json: bool) -> None:
    verb = "would release" if dry_run else "released"
    chosen = [a for _, mine in plan.release for a in mine]
    actions = ([verb] * len(chosen) + ["kept: too young"] * len(plan.young)
               + ["kept: --keep"] * len(plan.kept))
    listed = [*chosen, *plan.young, *plan.kept]
    if json:
        echo_json([{**allocation_json(a), "action": act} for a, act in zip(listed, actions,
                                                                           strict=True)])
        return
    if listed:
        typer.echo(table([*_HEADERS, "ACTION"], _rows(listed, actions)))
    typer.echo(f"{verb} {len(chosen)} address(es) of {len(plan.release)} owner(s)"
               + (" (dry run: nothing changed)" if dry_run else ""))
