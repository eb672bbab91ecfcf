"""One read of the host for `status` and `ipam gc`: the kernel's bridges and veths,
then the allocations, then the peers of the veths the caller wants placed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from attrs import evolve

from ecs_bridge.cli.ctl.context import CtlContext
from ecs_bridge.domain import inventory
from ecs_bridge.domain.allocation import Allocation
from ecs_bridge.domain.inventory import HostVeth, Survey

__all__ = ["Db", "observe"]

Db = Annotated[str, typer.Option(
    "--db", envvar="IPAM_DB_PATH", show_envvar=True, help="ecs-ipam's database.")]


def observe(wiring: CtlContext, db: str, *,
            place: Callable[[HostVeth, list[Allocation]], bool]) -> tuple[Survey, list[Allocation]]:
    """The survey (with the peers of the veths `place` picks) and every allocation.

    The kernel is read before the store: an ADD in flight then shows as a young
    allocation without a veth, never as a veth without its allocation."""
    with wiring.kernel() as kernel:
        found = inventory.survey(kernel)
        with wiring.open_store(db) as store, store.transaction() as tx:
            allocations = tx.every_allocation()
        wanted = [v for v in found.veths if place(v, allocations)]
        if wanted:
            with wiring.netns_ids() as ids:
                placed = {v.link.index: v for v in inventory.resolve_peers(
                    kernel, ids, wanted, wiring.other_namespaces())}
            found = evolve(found, veths=tuple(placed.get(v.link.index, v)
                                              for v in found.veths))
    return found, allocations
