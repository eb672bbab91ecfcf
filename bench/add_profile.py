"""Where an ecs-bridge ADD spends its time: the input for making it faster.

In a throwaway host namespace whose bridge an untimed ADD/DEL made, N times
(default 10), alternating: a plain `ecs-bridge` ADD (the console script, timed
posix_spawn to waitpid), and the same ADD through bench/_probe.py, which times
its parts:

- start-up: posix_spawn to the probe's first line (exec, interpreter
  initialisation, site; the console script adds `import re` to this);
- imports: the entry point's imports plus those ecs-bridge makes lazily
  (netlink adapter + pyroute2, IPAM exec adapter + subprocess);
- netlink: inside the netlink adapter (entering the container namespace,
  sockets, every request and reply);
- IPAM: the whole delegation to ecs-ipam. Measured both ways ecs-bridge can
  do it: in-process (its default for its own installation's ecs-ipam: then
  this is ecs-ipam's handling and SQLite transaction, its imports being counted
  with the imports) and exec'd (ECS_BRIDGE_IPAM_EXEC=1: the child's spawn,
  start-up, imports, SQLite transaction and exit);
- rest: the remainder of main() - config parsing and validation, the domain's
  use case, logging, result encoding, printing;
- exit: the probe's last line to waitpid (interpreter finalisation).

If the installed console scripts are the shim in front of a resident helper
(bench/plugins.py), every run here has ECS_BRIDGE_HELPER=off, so each is a
process of its own like the probe; ADDs through the helper are timed alongside
for comparison. Every probe ADD is followed by a plain DEL. The figures are medians per part,
so they need not add up to the median total exactly. The same split for `ecs-ipam` ADD
alone (start-up, imports, opening the store, allocate = the transaction and its
commit, closing, rest, exit), against plain ecs-ipam ADDs. Then one ADD of each
under cProfile (top functions by cumulative and by own time, in
bench/results/add_profile_cprofile.txt), and one ADD of each under `-X
importtime` (what a whole ADD imports, by top-level package, start-up modules
left out).

Run: `.venv/bin/python -m bench.add_profile [--runs N] [--quick]`; writes
bench/results/add_profile.json and add_profile_cprofile.txt.
"""

from __future__ import annotations

import io
import json
import pstats
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import spawn
from bench.common import RESULTS, header, ms, parser, write_result
from bench.imports import by_module, by_package, parse_importtime, startup_modules, top_medians
from bench.netns import Namespaces, sweep_stale
from bench.plugins import HELPER_OFF, Plugin, cni_bin, has_helper, ours, stop_helpers

__all__ = ["main"]

PROBE = str(Path(__file__).parent / "_probe.py")
PYTHON = sys.executable
BRIDGE_PARTS = ("startup", "imports", "netlink", "ipam_exec", "rest", "probe_overhead", "exit")
MODES = {"ipam_in_process": {}, "ipam_exec": {"ECS_BRIDGE_IPAM_EXEC": "1"}}
"""ecs-bridge's two ways to delegate to its own ecs-ipam: in-process (the default)
and exec'd (forced by ECS_BRIDGE_IPAM_EXEC=1)."""
IPAM_PARTS = ("startup", "imports", "store_open", "allocate", "store_close", "rest",
              "probe_overhead", "exit")


def _parts(kind: str, running: spawn.Running, done: spawn.Exit, out: Path) -> dict[str, float]:
    if not done.ok:
        raise SystemExit(done.explain())
    t = json.loads(out.read_text())
    ended = running.started + done.wall
    imports = t["import_entry"] + t["import_lazy"]
    parts = {"startup": t["t_start"] - running.started, "imports": imports,
             "probe_overhead": (t["t_end"] - t["t_start"]) - imports - t["main"],
             "exit": ended - t["t_end"], "total": done.wall}
    if kind == "bridge":
        netlink, ipam = t.get("netlink", 0.0), t.get("ipam_exec", 0.0)
        parts |= {"netlink": netlink, "ipam_exec": ipam, "rest": t["main"] - netlink - ipam}
    else:
        inner = {k: t.get(k, 0.0) for k in ("store_open", "allocate", "store_close")}
        parts |= {**inner, "rest": t["main"] - sum(inner.values())}
    return parts


def _median_parts(runs: list[dict[str, float]], names: tuple[str, ...]) -> dict[str, float]:
    return {name: ms(statistics.median(r[name] for r in runs)) for name in (*names, "total")}


def _cprofile_text(path: Path, title: str) -> str:
    buffer = io.StringIO()
    stats = pstats.Stats(str(path), stream=buffer).strip_dirs()
    buffer.write(f"==== {title}: top 40 by cumulative time ====\n")
    stats.sort_stats("cumulative").print_stats(40)
    buffer.write(f"==== {title}: top 25 by own (tottime) time ====\n")
    stats.sort_stats("tottime").print_stats(25)
    return buffer.getvalue()


class _Bench:
    def __init__(self, plugin: Plugin, host: str, nss: Namespaces, tmp: Path) -> None:
        self.plugin, self.host, self.nss, self.tmp = plugin, host, nss, tmp
        self.serial = 0

    def _next(self) -> tuple[str, str]:
        self.serial += 1
        return self.nss.make(["prof"])[0], f"prof-{self.serial}"

    def bridge(self, argv: list[str] | None, env: dict[str, str] | None = None,
               plugin: Plugin | None = None) -> spawn.Exit:
        """One ADD (plain, or through `argv`), then a plain DEL."""
        container, cid = self._next()
        running = (plugin or self.plugin).start("ADD", host=self.host, container=container,
                                                container_id=cid, argv=argv, extra_env=env)
        done = spawn.finish(running)
        self.plugin.call("DEL", host=self.host, container=container, container_id=cid)
        self.last_running = running
        return done

    def ipam(self, argv: list[str] | None,
             plugin: Plugin | None = None) -> tuple[spawn.Running, spawn.Exit]:
        """One ecs-ipam ADD alone (no namespace needed), plain or through `argv`."""
        self.serial += 1
        plugin = plugin or self.plugin
        env = plugin.env("ADD", netns="/nonexistent", container_id=f"ipam-{self.serial}")
        running = spawn.start(argv or [plugin.ipam_exe], env=env, stdin=plugin.stdin)
        return running, spawn.finish(running)


def measure(runs: int, tmp: Path) -> dict[str, Any]:
    cni = cni_bin(tmp)
    helper = has_helper()
    plugin = ours(tmp, cni_path=cni, extra_env=HELPER_OFF)  # a process of its own, as probed
    installed = ours(tmp, cni_path=cni)  # as installed: through the helper, if there is one
    out_json = tmp / "probe.json"
    probe = [PYTHON, "-P", PROBE]
    result: dict[str, Any] = {"runs": runs, "helper": helper}
    with Namespaces() as nss:
        host = nss.make(["host-prof"], lo_up=True)[0]
        b = _Bench(plugin, host, nss, tmp)
        b.bridge(None)  # creates the bridge
        result["ecs-bridge"] = {}
        through_helper: list[float] = []
        for mode, env in MODES.items():
            plain, parts = [], []
            for _ in range(runs):
                if helper:
                    through_helper.append(b.bridge(None, plugin=installed).wall)
                plain.append(b.bridge(None, env).wall)
                done = b.bridge([*probe, "bridge", str(out_json)], env)
                parts.append(_parts("bridge", b.last_running, done, out_json))
            result["ecs-bridge"][mode] = {"plain_add_median_ms": ms(statistics.median(plain)),
                                          "parts_median_ms": _median_parts(parts, BRIDGE_PARTS)}
        if helper:
            result["ecs-bridge_via_helper_add_median_ms"] = ms(statistics.median(through_helper))
        ipam_plain, ipam_parts, ipam_helper = [], [], []
        for _ in range(runs):
            if helper:
                ipam_helper.append(b.ipam(None, installed)[1].wall)
            ipam_plain.append(b.ipam(None)[1].wall)
            running, done = b.ipam([*probe, "ipam", str(out_json)])
            ipam_parts.append(_parts("ipam", running, done, out_json))
        result["ecs-ipam"] = {"plain_add_median_ms": ms(statistics.median(ipam_plain)),
                              "parts_median_ms": _median_parts(ipam_parts, IPAM_PARTS)}
        if helper:
            result["ecs-ipam_via_helper_add_median_ms"] = ms(statistics.median(ipam_helper))
        texts = []
        for kind in ("bridge", "ipam"):
            pstats_file = tmp / f"{kind}.pstats"
            argv = [*probe, kind, str(out_json), str(pstats_file)]
            done = b.bridge(argv) if kind == "bridge" else b.ipam(argv)[1]
            if not done.ok:
                raise SystemExit(done.explain())
            texts.append(_cprofile_text(pstats_file, f"ecs-{kind} ADD under cProfile"))
        (RESULTS / "add_profile_cprofile.txt").write_text("\n".join(texts))
        startup = startup_modules()
        result["add_importtime"] = {}
        for kind, exe in (("ecs-bridge", plugin.exe), ("ecs-ipam", plugin.ipam_exe)):
            argv = [PYTHON, "-X", "importtime", exe]
            done = b.bridge(argv) if kind == "ecs-bridge" else b.ipam(argv)[1]
            if not done.ok:
                raise SystemExit(done.explain())
            lines = parse_importtime(done.stderr)
            packages = by_package(lines, startup)
            result["add_importtime"][kind] = {
                "total_ms": round(sum(packages.values()) / 1000, 2),
                "modules": len(by_module(lines, startup)),
                "top_packages": top_medians([packages], "package"),
                "top_modules": top_medians([by_module(lines, startup)], "module"),
            }
    stop_helpers(tmp)
    return result


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--runs", type=int, help="probe runs of each (default 10, --quick 5)")
    args = p.parse_args(argv)
    runs = args.runs or (5 if args.quick else 10)
    sweep_stale()
    record = header("add_profile")
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ecsbench-") as tmp:
        figures = measure(runs, Path(tmp))
    record.update(figures)
    split = [(f"ecs-bridge ({mode})", figures["ecs-bridge"][mode]) for mode in MODES]
    for title, f in [*split, ("ecs-ipam", figures["ecs-ipam"])]:
        parts = ", ".join(f"{k} {v}" for k, v in f["parts_median_ms"].items())
        print(f"{title} ADD: plain median {f['plain_add_median_ms']} ms; probed parts "
              f"(median ms): {parts}")
    for kind in ("ecs-bridge", "ecs-ipam"):
        if f"{kind}_via_helper_add_median_ms" in figures:
            print(f"{kind} ADD through the resident helper (as installed): median "
                  f"{figures[f'{kind}_via_helper_add_median_ms']} ms")
    for kind in ("ecs-bridge", "ecs-ipam"):
        imp = figures["add_importtime"][kind]
        top = ", ".join(f"{t['package']} {t['self_ms']}" for t in imp["top_packages"])
        print(f"{kind} whole ADD under -X importtime: {imp['total_ms']} ms over "
              f"{imp['modules']} modules; top: {top}")
    print(f"wrote {write_result('add_profile', record)} and "
          f"{RESULTS / 'add_profile_cprofile.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
