"""ADD and DEL wall time and peak RSS: ecs-bridge (with ecs-ipam) against Debian's
bridge (with host-local).

Each plugin has its own throwaway host namespace and one fresh container
namespace per ADD/DEL pair. After one untimed-in-the-stats first pair (which
creates the bridge, reported apart), N pairs run interleaved - ours then the
reference on even pairs, the reference then ours on odd ones - so that drift of
the machine cancels. Each ADD and each DEL is timed from posix_spawn to waitpid
(see bench/spawn.py); the driver enters the host namespace with setns(2) before
spawning, so no `ip netns exec` is in the time. DEL is given the same config,
so it execs the IPAM plugin's DEL too.

If the installed ecs-bridge is the shim in front of a resident helper
(bench/plugins.py), a third plugin joins the interleaving: ecs-bridge with
ECS_BRIDGE_HELPER=off, which runs the plugin in its own process as a call does
when no helper is up; and 10 ADDs and DELs (5 with --quick) each made with no helper up (a
helper directory of its own, whose helper is stopped after the call): the
first call after the helper's idle timeout, which runs in-process and starts
a helper in the background.

Peak RSS, in separate untimed ADDs under GNU time (bench/spawn.py), the largest
of 5: of the process tree (the bridge plugin or its IPAM child, whichever is
larger), and of the bridge plugin alone, in ADDs whose IPAM is a /bin/sh stub
printing a fixed result (bench/plugins.py). With the helper, GNU time sees only
the shim (the call runs in a worker forked by the helper), so these two are
measured with the helper off, and the shim's own peak and the helper's (VmHWM
from /proc) are added. ecs-ipam's and host-local's own peaks come from
bench/ipam_scale.py.

Run: `.venv/bin/python -m bench.add_del [--pairs N] [--quick]`; writes
bench/results/add_del.json.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import header, ms, parser, ratio, summary, write_result
from bench.netns import Namespaces, sweep_stale
from bench.plugins import (
    HELPER_OFF,
    Plugin,
    cni_bin,
    has_helper,
    helper_env,
    helper_peaks_kib,
    ours,
    ref,
    stop_helpers,
    stub_ipam,
)
from bench.spawn import Exit

__all__ = ["main"]

RSS_RUNS = 5
NO_HELPER = "ecs-bridge-no-helper"
COLD = "ecs-bridge-cold"
COLD_RUNS = 10


def _pair(plugin: Plugin, host: str, container: str, cid: str) -> tuple[Exit, Exit]:
    added = plugin.call("ADD", host=host, container=container, container_id=cid)
    deleted = plugin.call("DEL", host=host, container=container, container_id=cid)
    return added, deleted


def _peak(plugin: Plugin, host: str, containers: list[str], tmp: Path) -> int | None:
    """The largest peak RSS (KiB) of one ADD into each of `containers`."""
    peaks = [plugin.peak_rss("ADD", host=host, container=c, container_id=f"rss-{c}",
                             report=tmp / "rss") for c in containers]
    known = [k for k in peaks if k is not None]
    return max(known) if known else None


def _cold(tmp: Path, cni: Path, host: str, containers: list[str]) -> dict[str, Any]:
    """ADD and DEL with no helper up (each with a helper directory of its own, the
    helper it starts stopped afterwards): the first call after the helper's idle
    timeout."""
    adds: list[float] = []
    dels: list[float] = []
    for i, container in enumerate(containers):
        for command, walls in (("ADD", adds), ("DEL", dels)):
            name = f"helper-cold-{i}-{command}"
            cold = ours(tmp, cni_path=cni, state="ipam-cold", label=COLD,
                        extra_env=helper_env(tmp, name))
            walls.append(cold.call(command, host=host, container=container,
                                   container_id=f"cold-{i}").wall)
            stop_helpers(tmp, name, wait_started=5)
    return {"add": summary(adds), "del": summary(dels)}


def measure(pairs: int, tmp: Path, *, cold: int = COLD_RUNS) -> dict[str, Any]:
    cni = cni_bin(tmp)
    helper = has_helper()
    cold_runs = cold if helper else 0
    plugins = [ours(tmp, cni_path=cni), ref(tmp, cni_path=cni)]
    if helper:
        plugins.append(ours(tmp, cni_path=cni, state="ipam-no-helper", label=NO_HELPER,
                            extra_env=HELPER_OFF))
    out: dict[str, Any] = {"pairs": pairs, "helper": helper}
    with Namespaces() as nss:
        hosts = dict(zip([p.label for p in plugins],
                         nss.make([f"host{n}" for n in range(len(plugins))], lo_up=True),
                         strict=True))
        containers = {p.label: nss.make([f"c{n}"] * (pairs + 1 + 2 * RSS_RUNS + cold_runs))
                      for n, p in enumerate(plugins)}
        runs: dict[str, dict[str, list[Exit]]] = {p.label: {"ADD": [], "DEL": []}
                                                  for p in plugins}
        first: dict[str, tuple[Exit, Exit]] = {}
        for p in plugins:
            first[p.label] = _pair(p, hosts[p.label], containers[p.label][0], "ctr-first")
        for i in range(pairs):
            for p in plugins if i % 2 == 0 else plugins[::-1]:
                added, deleted = _pair(p, hosts[p.label], containers[p.label][i + 1],
                                       f"ctr-{i}")
                runs[p.label]["ADD"].append(added)
                runs[p.label]["DEL"].append(deleted)
        if helper:
            spare = containers["ecs-bridge"][-cold_runs:]
            out[COLD] = _cold(tmp, cni, hosts["ecs-bridge"], spare)
        peaks: dict[str, dict[str, int | None]] = {}
        for p in plugins[:2]:
            # With the helper, GNU time would see only the shim: the plugin's own
            # process is measured with the helper off (the path a worker runs).
            alone = plugins[2] if helper and p is plugins[0] else p
            spare = containers[p.label][pairs + 1:]
            peaks[p.label] = {
                "peak_rss_tree_kib": _peak(alone, hosts[p.label], spare[:RSS_RUNS], tmp),
                "peak_rss_own_kib": _peak(stub_ipam(alone, tmp / f"stub-{p.label}"),
                                          hosts[p.label], spare[RSS_RUNS:], tmp),
            }
        if helper:
            spare = containers[NO_HELPER][pairs + 1:]
            peaks["ecs-bridge"]["peak_rss_shim_kib"] = _peak(plugins[0], hosts["ecs-bridge"],
                                                             spare[:RSS_RUNS], tmp)
            helpers = helper_peaks_kib(tmp)
            peaks["ecs-bridge"]["peak_rss_helper_kib"] = max(helpers) if helpers else None
    stop_helpers(tmp)
    for p in plugins:
        r = runs[p.label]
        out[p.label] = {
            "first_add_creates_bridge_ms": ms(first[p.label][0].wall),
            "first_del_ms": ms(first[p.label][1].wall),
            "add": summary([e.wall for e in r["ADD"]]),
            "del": summary([e.wall for e in r["DEL"]]),
            "add_plus_del_median_ms": ms(statistics.median(
                [a.wall + d.wall for a, d in zip(r["ADD"], r["DEL"], strict=True)])),
            **peaks.get(p.label, {}),
        }
    b = out["bridge"]
    for label, key in (("ecs-bridge", "ratio"), (NO_HELPER, "ratio_no_helper")):
        if label not in out:
            continue
        a = out[label]
        out[key] = {
            "add_median": ratio(a["add"]["median_ms"], b["add"]["median_ms"]),
            "add_p95": ratio(a["add"]["p95_ms"], b["add"]["p95_ms"]),
            "del_median": ratio(a["del"]["median_ms"], b["del"]["median_ms"]),
            "del_p95": ratio(a["del"]["p95_ms"], b["del"]["p95_ms"]),
            "add_plus_del_median": ratio(a["add_plus_del_median_ms"],
                                         b["add_plus_del_median_ms"]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--pairs", type=int, help="interleaved ADD/DEL pairs per plugin (default 40, "
                   "--quick 30)")
    args = p.parse_args(argv)
    pairs = args.pairs or (30 if args.quick else 40)
    sweep_stale()
    record = header("add_del")
    with tempfile.TemporaryDirectory(prefix="ecsbench-") as tmp:
        figures = measure(pairs, Path(tmp), cold=COLD_RUNS // 2 if args.quick else COLD_RUNS)
    record.update(figures)
    for label in ("ecs-bridge", "bridge", NO_HELPER):
        if label not in figures:
            continue
        f = figures[label]
        print(f"{label:10} ADD median {f['add']['median_ms']} ms p95 {f['add']['p95_ms']} ms | "
              f"DEL median {f['del']['median_ms']} ms p95 {f['del']['p95_ms']} ms | "
              f"first ADD {f['first_add_creates_bridge_ms']} ms | peak RSS (KiB) "
              f"{ {k: v for k, v in f.items() if k.startswith('peak_rss')} }")
    print(f"ecs-bridge / bridge: {figures['ratio']}")
    if COLD in figures:
        c = figures[COLD]
        print(f"ecs-bridge, no helper up yet (cold): ADD median {c['add']['median_ms']} ms, "
              f"DEL median {c['del']['median_ms']} ms")
    if "ratio_no_helper" in figures:
        print(f"ecs-bridge with ECS_BRIDGE_HELPER=off / bridge: {figures['ratio_no_helper']}")
    print(f"wrote {write_result('add_del', record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
