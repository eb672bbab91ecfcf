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

Peak RSS, in separate untimed ADDs under GNU time (bench/spawn.py), the largest
of 5: of the process tree (the bridge plugin or its IPAM child, whichever is
larger), and of the bridge plugin alone, in ADDs whose IPAM is a /bin/sh stub
printing a fixed result (bench/plugins.py). ecs-ipam's and host-local's own
peaks come from bench/ipam_scale.py.

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
from bench.plugins import Plugin, cni_bin, ours, ref, stub_ipam
from bench.spawn import Exit

__all__ = ["main"]

RSS_RUNS = 5


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


def measure(pairs: int, tmp: Path) -> dict[str, Any]:
    cni = cni_bin(tmp)
    plugins = [ours(tmp, cni_path=cni), ref(tmp, cni_path=cni)]
    out: dict[str, Any] = {"pairs": pairs}
    with Namespaces() as nss:
        hosts = dict(zip([p.label for p in plugins],
                         nss.make(["host-ours", "host-ref"], lo_up=True), strict=True))
        containers = {p.label: nss.make([f"ctr-{p.label}"] * (pairs + 1 + 2 * RSS_RUNS))
                      for p in plugins}
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
        peaks: dict[str, dict[str, int | None]] = {}
        for p in plugins:
            spare = containers[p.label][pairs + 1:]
            peaks[p.label] = {
                "peak_rss_tree_kib": _peak(p, hosts[p.label], spare[:RSS_RUNS], tmp),
                "peak_rss_own_kib": _peak(stub_ipam(p, tmp / f"stub-{p.label}"),
                                          hosts[p.label], spare[RSS_RUNS:], tmp),
            }
    for p in plugins:
        r = runs[p.label]
        out[p.label] = {
            "first_add_creates_bridge_ms": ms(first[p.label][0].wall),
            "first_del_ms": ms(first[p.label][1].wall),
            "add": summary([e.wall for e in r["ADD"]]),
            "del": summary([e.wall for e in r["DEL"]]),
            "add_plus_del_median_ms": ms(statistics.median(
                [a.wall + d.wall for a, d in zip(r["ADD"], r["DEL"], strict=True)])),
            **peaks[p.label],
        }
    a, b = out["ecs-bridge"], out["bridge"]
    out["ratio"] = {
        "add_median": ratio(a["add"]["median_ms"], b["add"]["median_ms"]),
        "add_p95": ratio(a["add"]["p95_ms"], b["add"]["p95_ms"]),
        "del_median": ratio(a["del"]["median_ms"], b["del"]["median_ms"]),
        "del_p95": ratio(a["del"]["p95_ms"], b["del"]["p95_ms"]),
        "add_plus_del_median": ratio(a["add_plus_del_median_ms"], b["add_plus_del_median_ms"]),
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
        figures = measure(pairs, Path(tmp))
    record.update(figures)
    for label in ("ecs-bridge", "bridge"):
        f = figures[label]
        print(f"{label:10} ADD median {f['add']['median_ms']} ms p95 {f['add']['p95_ms']} ms | "
              f"DEL median {f['del']['median_ms']} ms p95 {f['del']['p95_ms']} ms | "
              f"first ADD {f['first_add_creates_bridge_ms']} ms | peak RSS tree "
              f"{f['peak_rss_tree_kib']} KiB, own {f['peak_rss_own_kib']} KiB")
    print(f"ecs-bridge / bridge: {figures['ratio']}")
    print(f"wrote {write_result('add_del', record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
