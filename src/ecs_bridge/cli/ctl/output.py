"""How `ecs-bridge-ctl` speaks: aligned tables for people, JSON for programs, and
every failure as one line on stderr, `error <CNI code>: <message>`, with exit 1."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import typer

from ecs_bridge.cli.ctl.context import CtlContext
from ecs_bridge.domain.errors import CniError

__all__ = ["context", "echo_json", "error_line", "reports_errors", "since", "table"]

P = ParamSpec("P")
R = TypeVar("R")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns left-aligned to their widest cell; `-` for an empty cell."""
    cells = [[str(h) for h in headers]] + [[str(c) if c not in ("", None) else "-"
                                             for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def echo_json(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2))


def since(timestamp: float) -> str:
    """A UTC time, to the second: `2026-11-29T13:36:12Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)) if timestamp else ""


def error_line(exc: CniError) -> str:
    return f"error {exc.code}: {exc}"


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a `CniError` escaping `command` into the one-line message and exit status 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CniError as exc:
            typer.echo(error_line(exc), err=True)
            raise typer.Exit(1) from None

    return run


def context(ctx: typer.Context) -> CtlContext:
    """The wiring of this run (set by the app's callback, or by a test)."""
    obj: Any = ctx.find_root().obj
    if not isinstance(obj, CtlContext):
        raise TypeError(f"ecs-bridge-ctl run without a CtlContext: {obj!r}")
    return obj
