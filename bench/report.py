"""Gather the benchmarks' JSON records into bench/results/latest.md (tables, the
targets met or missed) and bench/results/latest.json (the same figures).

Run: `.venv/bin/python -m bench.report` (`python -m bench` runs it last).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from bench.common import RESULTS, read_result

__all__ = ["TARGETS", "main", "targets"]

MIB = 1024
RSS_LIMIT_MIB = 40.0

TARGETS = {
    "add_del": "ADD+DEL within 1.5x of the reference (median of ADD+DEL pairs)",
    "ipam": "ecs-ipam ADD within 2x of host-local (median of the first 50 exec'd ADDs)",
    "scale": "scale: last-50 / first-50 median ADD latency at most 1.1 (ecs-bridge)",
    "burst": "burst of 100 ADDs: all done no slower than the reference",
    "rss": f"peak RSS at most {RSS_LIMIT_MIB:g} MiB per process",
}


def _mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / MIB, 1)


def _verdict(value: float | None, limit: float, unit: str = "x") -> dict[str, Any]:
    """Met, or missed by how much: for ratios, how many times too slow."""
    if value is None:
        return {"value": None, "limit": limit, "met": None, "note": "not measured"}
    met = value <= limit
    note = "met" if met else f"missed: {value:g}{unit} against {limit:g}{unit}, " \
                              f"{value / limit:.1f} times over"
    return {"value": value, "limit": limit, "met": met, "note": note}


def targets(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if r.get("add_del"):
        a = r["add_del"]
        out["add_del"] = _verdict(a["ratio"]["add_plus_del_median"], 1.5)
        if "ratio_no_helper" in a:
            out["add_del"]["note"] += (f"; with no helper up: "
                                       f"{a['ratio_no_helper']['add_plus_del_median']}x")
    if r.get("ipam_scale") and isinstance(r["ipam_scale"]["exec"].get("host-local"), dict):
        q = r["ipam_scale"]["exec"]["ecs-ipam_over_host-local"]
        out["ipam"] = _verdict(q["first50"], 2.0)
        out["ipam"]["note"] += (f" (over all {r['ipam_scale']['exec']['adds']} ADDs, as "
                                f"host-local slows with the fill: {q['all_median']}x)")
    if r.get("bridge_scale"):
        s = r["bridge_scale"]
        out["scale"] = _verdict(s["ecs-bridge"]["last50_over_first50"], 1.1)
        out["scale"]["note"] += f" (the reference: {s['bridge']['last50_over_first50']}x)"
    if r.get("burst"):
        b = r["burst"]
        out["burst"] = _verdict(b["ratio_all_done"], 1.0)
        out["burst"]["note"] += (f" ({b['ecs-bridge']['all_done_median_s']} s against "
                                 f"{b['bridge']['all_done_median_s']} s)")
    peaks = _our_peaks(r)
    if peaks:
        worst = max(v for v in peaks.values() if v is not None) if any(
            v is not None for v in peaks.values()) else None
        out["rss"] = _verdict(worst, RSS_LIMIT_MIB, " MiB")
        out["rss"]["per_process_mib"] = peaks
    return out


def _our_peaks(r: dict[str, Any]) -> dict[str, float | None]:
    peaks: dict[str, float | None] = {}
    if r.get("add_del"):
        a = r["add_del"]["ecs-bridge"]
        own = " in its own process (helper off)" if r["add_del"].get("helper") else ""
        peaks[f"ecs-bridge ADD{own}, with its IPAM"] = _mib(a["peak_rss_tree_kib"])
        peaks[f"ecs-bridge ADD{own}, IPAM stubbed out"] = _mib(a["peak_rss_own_kib"])
        if "peak_rss_shim_kib" in a:
            peaks["ecs-bridge shim (the exec'd process, helper on)"] = _mib(
                a["peak_rss_shim_kib"])
            peaks["resident helper (VmHWM)"] = _mib(a.get("peak_rss_helper_kib"))
    if r.get("ipam_scale"):
        i = r["ipam_scale"]["exec"]["ecs-ipam"]
        own = " in its own process (helper off)" if "peak_rss_shim_kib" in i else ""
        peaks[f"ecs-ipam ADD alone{own}"] = _mib(i["peak_rss_kib"])
        if "peak_rss_shim_kib" in i:
            peaks["ecs-ipam shim (the exec'd process, helper on)"] = _mib(
                i["peak_rss_shim_kib"])
    return peaks


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return "n/a" if v is None else str(v)
    return [" | ".join(["", *head, ""]).strip(), "|" + "---|" * len(head),
            *(" | ".join(["", *map(cell, row), ""]).strip() for row in rows), ""]


def _section_targets(r: dict[str, Any]) -> list[str]:
    rows = []
    for key, verdict in targets(r).items():
        status = {True: "met", False: "MISSED", None: "n/a"}[verdict["met"]]
        rows.append([TARGETS[key], verdict["value"], verdict["limit"], status, verdict["note"]])
    return ["## Targets", "", *_table(["target", "measured", "limit", "status", "how far"],
                                      rows)]


NO_HELPER = "ecs-bridge-no-helper"


def _section_add_del(a: dict[str, Any]) -> list[str]:
    rows = []
    helper = " (as installed: through the resident helper)" if a.get("helper") else ""
    names = [("ecs-bridge", f"ecs-bridge + ecs-ipam{helper}"),
             ("bridge", "Debian bridge + host-local")]
    if NO_HELPER in a:
        names.append((NO_HELPER, "ecs-bridge + ecs-ipam, ECS_BRIDGE_HELPER=off"))
    for label, name in names:
        f = a[label]
        rows.append([name, f["add"]["median_ms"], f["add"]["p95_ms"], f["del"]["median_ms"],
                     f["del"]["p95_ms"], f["add_plus_del_median_ms"],
                     f["first_add_creates_bridge_ms"]])
    cold = a.get("ecs-bridge-cold")
    if cold:
        rows.append([f"ecs-bridge + ecs-ipam, no helper up yet (cold; {cold['add']['n']} of each)",
                     cold["add"]["median_ms"], cold["add"]["p95_ms"], cold["del"]["median_ms"],
                     cold["del"]["p95_ms"],
                     round(cold["add"]["median_ms"] + cold["del"]["median_ms"], 3), None])
    for key, label, name in (("ratio", "ecs-bridge", "ratio ecs-bridge / bridge"),
                             ("ratio_no_helper", NO_HELPER,
                              "ratio ecs-bridge (helper off) / bridge")):
        if key not in a:
            continue
        q = a[key]
        rows.append([name, q["add_median"], q["add_p95"], q["del_median"], q["del_p95"],
                     q["add_plus_del_median"],
                     round(a[label]["first_add_creates_bridge_ms"]
                           / a["bridge"]["first_add_creates_bridge_ms"], 2)])
    return [f"## ADD and DEL ({a['pairs']} interleaved pairs per plugin, ms)", "",
            *_table(["plugin", "ADD median", "ADD p95", "DEL median", "DEL p95",
                     "ADD+DEL median", "first ADD (creates the bridge)"], rows)]


def _section_ipam(s: dict[str, Any]) -> list[str]:
    e = s["exec"]
    rows = []
    for name in ("ecs-ipam", "host-local"):
        f = e.get(name)
        if not isinstance(f, dict):
            rows.append([name, f, None, None, None, None, None])
            continue
        rows.append([name, f["median_ms"], f["p95_ms"], f["first50_median_ms"],
                     f["last50_median_ms"], f["last_over_first"], _mib(f["peak_rss_kib"])])
    q = e.get("ecs-ipam_over_host-local")
    if q:
        rows.append(["ratio ecs-ipam / host-local", q["all_median"], q["all_p95"], q["first50"],
                     q["last50"], None, None])
    i = s["in_process"]
    return [f"## IPAM ADD alone ({e['adds']} exec'd ADDs of each into one /22, interleaved; ms)",
            "", *_table(["plugin", "median", "p95", "first 50 median", "last 50 median",
                         "last/first", "peak RSS MiB"], rows),
            f"In process (no exec), `ipam.allocate` on the SQLite store, {i['adds']} ADDs: "
            f"first 50 median {i['first50_median_ms']} ms, last 50 median "
            f"{i['last50_median_ms']} ms.", ""]


def _section_rss(r: dict[str, Any]) -> list[str]:
    rows: list[list[Any]] = [[name, mib] for name, mib in _our_peaks(r).items()]
    if r.get("add_del"):
        b = r["add_del"]["bridge"]
        rows += [["bridge ADD (with host-local)", _mib(b["peak_rss_tree_kib"])],
                 ["bridge ADD (IPAM stubbed out)", _mib(b["peak_rss_own_kib"])]]
    if r.get("ipam_scale") and isinstance(r["ipam_scale"]["exec"].get("host-local"), dict):
        rows.append(["host-local ADD alone",
                     _mib(r["ipam_scale"]["exec"]["host-local"]["peak_rss_kib"])])
    return ["## Peak RSS (MiB; largest of 5 ADDs under GNU time)", "",
            *_table(["process", "peak RSS MiB"], rows),
            "\"With its IPAM\" is the largest of the plugin and the IPAM process it waits "
            "for; ecs-bridge runs its own installation's ecs-ipam in-process by default, so "
            "for it this is one process. \"IPAM stubbed out\": the IPAM is a /bin/sh stub "
            "printing a fixed result, so the figure is the bridge plugin's own. With the "
            "resident helper, a call runs in a worker forked from the helper: the helper-off "
            "process (same code, same imports, same call) stands for it.", ""]


def _section_scale(s: dict[str, Any]) -> list[str]:
    rows = []
    for label, name in (("ecs-bridge", "ecs-bridge + ecs-ipam"),
                        ("bridge", "Debian bridge + host-local")):
        f = s[label]
        rows.append([name, f["first50_median_ms"], f["last50_median_ms"],
                     f["last50_over_first50"], f["all"]["p95_ms"],
                     " ".join(str(x) for x in f["median_per_100_ms"])])
    rows.append(["ratio ecs-bridge / bridge", s["ratio"]["first50"], s["ratio"]["last50"],
                 None, None, None])
    return [f"## Scale: the bridge filling from 1 to {s['containers']} containers (ms)", "",
            *_table(["plugin", "first 50 median", "last 50 median", "last/first", "p95",
                     "median per 100 ADDs"], rows),
            f"![ADD latency against containers attached]({s['plot']})", ""]


def _section_burst(b: dict[str, Any]) -> list[str]:
    rows = []
    for label, name in (("ecs-bridge", "ecs-bridge + ecs-ipam"),
                        ("bridge", "Debian bridge + host-local")):
        runs = b[label]["runs"]
        rows.append([name, b[label]["all_done_median_s"],
                     " ".join(str(x["all_done_s"]) for x in runs),
                     " ".join(str(x["per_process"]["median_ms"]) for x in runs),
                     " ".join(str(x["per_process"]["max_ms"]) for x in runs),
                     sum(x["failed"] for x in runs)])
    rows.append(["ratio ecs-bridge / bridge", b["ratio_all_done"], None, None, None, None])
    return [f"## Burst: {b['size']} ADDs started at once ({b['bursts_per_plugin']} burst(s) "
            "per plugin)", "",
            *_table(["plugin", "all done, median s", "all done per burst, s",
                     "per-process median ms", "per-process max ms", "failed"], rows)]


def _section_imports(i: dict[str, Any]) -> list[str]:
    rows = []
    for module in i.get("entry_points", ("ecs_bridge.cli.bridge_main",
                                         "ecs_bridge.cli.ipam_main")):
        f = i[module]
        top = ", ".join(f"{t['package']} {t['self_ms']}" for t in f["top_packages"])
        rows.append([f"`{module}`", f["importtime_total_ms"], f["modules_imported"],
                     f["import_wall_ms"], top])
    return [f"## Import time of the entry points (median of {i['runs']} runs)", "",
            f"`python -c pass` (interpreter start-up, {i['startup_modules']} modules): "
            f"{i['python_c_pass_ms']} ms.", "",
            *_table(["entry point", "-X importtime total ms", "modules",
                     "wall: import minus bare start-up, ms",
                     "top 10 top-level packages by summed self time (ms)"], rows)]


PART_NAMES = {
    "startup": "interpreter start-up (spawn to the first line)",
    "imports": "imports (entry point, and the lazy ones: pyroute2, adapters)",
    "netlink": "netlink (namespace entry, sockets, requests)",
    "ipam_exec": "IPAM delegation (ExecIpam._exec)",
    "store_open": "open the SQLite store",
    "allocate": "allocate (the transaction and its commit)",
    "store_close": "close the store",
    "rest": "rest of main() (parsing, domain, logging, result)",
    "probe_overhead": "the probe's own bookkeeping",
    "exit": "exit (interpreter finalisation)",
    "total": "total (spawn to waitpid)",
}


def _section_profile(p: dict[str, Any]) -> list[str]:
    modes = p["ecs-bridge"]
    names = list(next(iter(modes.values()))["parts_median_ms"])
    head = ["part", *(f"ecs-bridge ADD, IPAM {m.removeprefix('ipam_').replace('_', '-')}"
                      for m in modes)]
    rows = [[PART_NAMES.get(n, n), *(modes[m]["parts_median_ms"].get(n) for m in modes)]
            for n in names]
    rows.append(["plain ADD (no probe), median", *(modes[m]["plain_add_median_ms"]
                                                    for m in modes)])
    ipam = p["ecs-ipam"]
    ipam_rows = [[PART_NAMES.get(n, n), v] for n, v in ipam["parts_median_ms"].items()]
    ipam_rows.append(["plain ADD (no probe), median", ipam["plain_add_median_ms"]])
    imp = p.get("add_importtime", {}).get("ecs-bridge")
    lines = [f"## Where an ADD's time goes (median of {p['runs']} probed ADDs, ms)", "",
             *_table(head, rows), *_table(["ecs-ipam ADD alone: part", "ms"], ipam_rows)]
    if imp:
        top = ", ".join(f"{t['package']} {t['self_ms']}" for t in imp["top_packages"])
        lines += [f"A whole ecs-bridge ADD under `-X importtime`: {imp['total_ms']} ms over "
                  f"{imp['modules']} modules (start-up modules left out); by top-level "
                  f"package: {top}.", ""]
    for kind in ("ecs-bridge", "ecs-ipam"):
        if f"{kind}_via_helper_add_median_ms" in p:
            lines += [f"For comparison, {kind} ADD as installed, through the resident helper: "
                      f"median {p[f'{kind}_via_helper_add_median_ms']} ms.", ""]
    lines += ["cProfile listings: [add_profile_cprofile.txt](add_profile_cprofile.txt).", ""]
    return lines


def _header(r: dict[str, Any]) -> list[str]:
    first = next(v for v in r.values() if v)
    runs = ", ".join(f"{k} {v['when']} (load {v.get('loadavg_at_start')})"
                     for k, v in r.items() if v)
    dirty = sorted({f for v in r.values() if v for f in v.get("uncommitted", [])})
    note = (f" (plus changes not yet committed to {', '.join(dirty)})" if dirty else "")
    return ["# Benchmark results", "",
            f"Commit {first['git']}{note}, Python {first['python']}, {first['machine']}. "
            f"Command: `make bench` (`.venv/bin/python -m bench`). Runs: {runs}.", "",
            "What is timed: every plugin run is timed from just before posix_spawn to the "
            "return of waitpid, in the driver, which has entered the plugin's throwaway host "
            "namespace with setns(2) beforehand (no `ip netns exec` in the time). Ours and "
            "the reference are interleaved (ABBA) so drift cancels. Details: the docstring "
            "of each bench/*.py module.", ""]


SECTIONS: list[tuple[str, Callable[[dict[str, Any]], list[str]]]] = [
    ("add_del", _section_add_del), ("ipam_scale", _section_ipam),
    ("bridge_scale", _section_scale), ("burst", _section_burst),
    ("imports", _section_imports), ("add_profile", _section_profile),
]


def main(argv: list[str] | None = None) -> int:
    del argv
    records = {name: read_result(name) for name in
               ("add_del", "ipam_scale", "bridge_scale", "burst", "imports", "add_profile")}
    if not any(records.values()):
        print("no results yet: run `python -m bench` first")
        return 1
    lines = [*_header(records), *_section_targets(records)]
    for name, section in SECTIONS:
        if records.get(name):
            lines += section(records[name] or {})
    if records.get("add_del"):
        lines += _section_rss(records)
    (RESULTS / "latest.md").write_text("\n".join(lines))
    summary = {"targets": targets(records), **{k: v for k, v in records.items() if v}}
    if summary.get("bridge_scale"):
        summary["bridge_scale"] = {k: ({kk: vv for kk, vv in v.items() if kk != "latencies_ms"}
                                       if isinstance(v, dict) else v)
                                   for k, v in summary["bridge_scale"].items()}
    (RESULTS / "latest.json").write_text(json.dumps(summary, indent=2) + "\n")
    for key, verdict in targets(records).items():
        print(f"{TARGETS[key]}: {verdict['note']}")
    print(f"wrote {RESULTS / 'latest.md'} and {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
