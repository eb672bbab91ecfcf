"""Run one `ecs-bridge` or `ecs-ipam` command with stopwatches on its parts.

Run as a script by bench/add_profile.py, in place of the console script, with the
same environment and stdin: `python bench/_probe.py bridge|ipam OUT.json
[PROFILE.pstats]`. It changes what runs in one way only: the imports ecs-bridge
makes lazily (the netlink adapter, pyroute2, the IPAM exec adapter and
subprocess or ecs-ipam's entry point) are made up front, so that their cost is
counted as imports rather than inside the first kernel call. Timers
(time.perf_counter: CLOCK_MONOTONIC, shared with the driver) wrap the outermost
call of:

- netlink: every method of NetlinkNamespace and NetlinkKernel (entering the
  container's namespace, opening netlink sockets, every request);
- ipam_exec: ExecIpam._exec, the whole IPAM delegation as ecs-bridge sees it.
  By default ecs-bridge runs its own installation's ecs-ipam in-process (then
  this is ecs-ipam's handling and its SQLite work; ecs_bridge.cli.ipam_main is
  imported up front with the lazy imports); with ECS_BRIDGE_IPAM_EXEC=1 it
  execs it (then this is the child's whole life: spawn, start-up, imports,
  SQLite work, exit; subprocess is imported up front);
- store_open, allocate, store_close (ecs-ipam): SqliteStore.open, ipam.allocate
  (the transaction, WAL commit with synchronous=FULL) and SqliteStore.close.

OUT.json gets the probe's first and last clock readings and every timer, so the
driver can tell interpreter start-up (spawn to the probe's first line) and exit
(the probe's last line to waitpid) from the rest. With PROFILE, the entry
imports and main() also run under cProfile, whose stats are dumped there.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import sys  # noqa: E402 - after the first clock reading on purpose; builtin, free

TYPE_CHECKING = False  # not typing's: importing typing here would hide its cost
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

# Nothing else is imported before the entry point: what the probe imported first
# would be free for the plugin and counted as the probe's own overhead.
TIMERS: dict[str, float] = {}
_depth = [0]


def _timed(key: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _depth[0]:
            return func(*args, **kwargs)
        _depth[0] += 1
        began = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            _depth[0] -= 1
            TIMERS[key] = TIMERS.get(key, 0.0) + time.perf_counter() - began
    return wrapper


def _wrap_methods(cls: type, key: str) -> None:
    for name, value in list(vars(cls).items()):
        if callable(value) and (not name.startswith("__") or name in ("__enter__", "__exit__")):
            setattr(cls, name, _timed(key, value))


def _prepare(kind: str) -> Callable[[], Any]:
    """Import the entry point (and ecs-bridge's lazy imports), install the timers,
    and return its `main`."""
    import os  # noqa: PLC0415 - imported at start-up by site: free

    began = time.perf_counter()
    if kind == "bridge":
        from ecs_bridge.cli import bridge_main  # noqa: PLC0415
        entry: Callable[[], Any] = bridge_main.main
    else:
        from ecs_bridge.cli import ipam_main  # noqa: PLC0415
        entry = ipam_main.main
    TIMERS["import_entry"] = time.perf_counter() - began
    began = time.perf_counter()
    if kind == "bridge":
        from ecs_bridge.adapters import ipam_exec, netlink, netlink_msgs  # noqa: PLC0415

        netlink_msgs.pyroute2()
        if os.environ.get("ECS_BRIDGE_IPAM_EXEC") == "1":
            import subprocess  # noqa: PLC0415, F401 - what the exec path imports
        else:
            import ecs_bridge.cli.ipam_main  # noqa: PLC0415, F401 - the in-process path's
        TIMERS["import_lazy"] = time.perf_counter() - began
        _wrap_methods(netlink.NetlinkNamespace, "netlink")
        _wrap_methods(netlink.NetlinkKernel, "netlink")
        ipam_exec.ExecIpam._exec = _timed("ipam_exec", ipam_exec.ExecIpam._exec)  # type: ignore[method-assign]
    else:
        from ecs_bridge.adapters import sqlite_store  # noqa: PLC0415
        from ecs_bridge.domain import ipam  # noqa: PLC0415

        TIMERS["import_lazy"] = 0.0
        store = sqlite_store.SqliteStore
        opener = store.open
        store.open = _timed("store_open", opener)  # type: ignore[method-assign]
        store.close = _timed("store_close", store.close)  # type: ignore[method-assign]
        ipam.allocate = _timed("allocate", ipam.allocate)
    return entry


def main() -> None:
    kind, out = sys.argv[1], sys.argv[2]
    profile_path = sys.argv[3] if len(sys.argv) > 3 else None
    sys.argv = [f"ecs-{kind}"]
    profiler = None
    if profile_path:
        import cProfile  # noqa: PLC0415 - only when profiling

        profiler = cProfile.Profile()
        profiler.enable()
    entry = _prepare(kind)
    code: object = 0
    import os  # noqa: PLC0415 - imported by the interpreter at start-up: free here

    real_exit = os._exit
    os._exit = _exit_as_exception  # the plugin ends with os._exit; the probe must go on
    began = time.perf_counter()
    try:
        entry()
    except SystemExit as exc:
        code = exc.code
    ended = time.perf_counter()
    os._exit = real_exit
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_path or "")
    TIMERS["main"] = ended - began
    import json  # noqa: PLC0415 - imported by the plugin already: free here

    with open(out, "w") as f:
        json.dump({"t_start": T_START, "t_end": time.perf_counter(), "code": code, **TIMERS}, f)
    sys.stdout.flush()
    sys.stderr.flush()
    real_exit(code if isinstance(code, int) else 1)  # as the plugin itself ends


def _exit_as_exception(status: int) -> NoReturn:
    raise SystemExit(status)


if __name__ == "__main__":
    main()
