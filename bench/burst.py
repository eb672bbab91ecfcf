"""Burst: 100 ADDs started at once, time until all are done; ecs-bridge against
Debian's bridge.

Each plugin has its own host namespace whose bridge an untimed ADD/DEL made
first. A burst: 100 fresh container namespaces; the driver starts one ADD per
container (posix_spawn, back to back, in the host namespace) and reaps them as
they end. Timed: from just before the first posix_spawn to the reaping of the
last process; also each process's own posix_spawn-to-waitpid time. One burst
of each by default (--bursts N: they alternate ours, reference, reference,
ours, ... so drift cancels; the two differ by far more than drift); each starts
from the same state (bridge with its gateway address, no ports, an empty IPAM
store: a new database file or dataDir per burst), and the kernel has finished
removing the previous burst's veths before the next one starts.

Run: `.venv/bin/python -m bench.burst [--size N] [--bursts N] [--quick]`; writes
bench/results/burst.json.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import spawn
from bench.common import header, ms, parser, ratio, summary, write_result
from bench.netns import Namespaces, sweep_stale, wait_detached
from bench.plugins import Plugin, cni_bin, ours, ref, stop_helpers

__all__ = ["main"]


def _burst(plugin: Plugin, host: str, nss: Namespaces, size: int, tag: str) -> dict[str, Any]:
    containers = nss.make([f"b{plugin.label[:3]}"] * size)
    try:
        began = time.perf_counter()
        runnings = [plugin.start("ADD", host=host, container=c, container_id=f"{tag}-{i}")
                    for i, c in enumerate(containers)]
        spawned = time.perf_counter()
        exits = spawn.finish_all(runnings)
        ended = time.perf_counter()
    finally:
        nss.delete(containers)
        wait_detached(host, plugin.bridge)
    failed = [e for e in exits if not e.ok]
    return {"all_done_s": round(ended - began, 3), "spawning_s": round(spawned - began, 3),
            "per_process": summary([e.wall for e in exits]), "failed": len(failed),
            "first_failure": failed[0].explain() if failed else None}


def measure(size: int, bursts: int, tmp: Path) -> dict[str, Any]:
    cni = cni_bin(tmp)
    makers = {"ecs-bridge": ours, "bridge": ref}
    out: dict[str, Any] = {"size": size, "bursts_per_plugin": bursts}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in makers}
    with Namespaces() as nss:
        hosts = dict(zip(makers, nss.make(["host-ours", "host-ref"], lo_up=True), strict=True))
        warm = nss.make(["warm-ours", "warm-ref"])
        for (label, make), ctr in zip(makers.items(), warm, strict=True):
            plugin = make(tmp, cni_path=cni, state="warm")
            plugin.call("ADD", host=hosts[label], container=ctr, container_id="warm")
            plugin.call("DEL", host=hosts[label], container=ctr, container_id="warm")
        labels = list(makers)
        for rep in range(bursts * 2):
            label = labels[(rep + rep // 2) % 2]  # ours, ref, ref, ours, ours, ref, ...
            plugin = makers[label](tmp, cni_path=cni, state=f"burst-{rep}")
            runs[label].append(_burst(plugin, hosts[label], nss, size, f"burst{rep}"))
    stop_helpers(tmp)
    for label, done in runs.items():
        out[label] = {"all_done_median_s": round(statistics.median(r["all_done_s"] for r in done),
                                                 3),
                      "runs": done}
    out["ratio_all_done"] = ratio(out["ecs-bridge"]["all_done_median_s"],
                                  out["bridge"]["all_done_median_s"])
    return out


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--size", type=int, default=100, help="ADDs started at once (default 100)")
    p.add_argument("--bursts", type=int, help="bursts per plugin (default 1)")
    args = p.parse_args(argv)
    bursts = args.bursts or 1
    sweep_stale()
    record = header("burst")
    with tempfile.TemporaryDirectory(prefix="ecsbench-") as tmp:
        figures = measure(args.size, bursts, Path(tmp))
    record.update(figures)
    for label in ("ecs-bridge", "bridge"):
        f = figures[label]
        per = [r["per_process"]["median_ms"] for r in f["runs"]]
        fails = sum(r["failed"] for r in f["runs"])
        print(f"{label:10} {args.size} ADDs at once: all done in "
              f"{[r['all_done_s'] for r in f['runs']]} s (median {f['all_done_median_s']} s), "
              f"per-process median {per} ms, failed {fails}")
    print(f"ecs-bridge / bridge, all done: {figures['ratio_all_done']}  "
          f"({ms(figures['ecs-bridge']['all_done_median_s'])} ms vs "
          f"{ms(figures['bridge']['all_done_median_s'])} ms)")
    print(f"wrote {write_result('burst', record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
