"""Does a late ADD cost what ADD number 1 costs? ecs-ipam against host-local, into a /22.

1. In process: `ipam.allocate` on the SQLite store, ADDs 1..N (default 1000) into
   169.254.172.0/22; median latency of the first 50 against the last 50.
2. Exec'd: the installed `ecs-ipam` against Debian's `/usr/lib/cni/host-local`,
   same shape (/22, one route, a new container per ADD), ADDs 1..N (default
   500; bench.bridge_scale takes both, inside their bridge plugins, to 1,000)
   of each interleaved so drift cancels, each timed from posix_spawn to
   waitpid (bench/spawn.py); median, p95, medians of the first and last 50, and
   ecs-ipam / host-local; then the peak RSS, the largest of 5 more ADDs run under
   GNU time (neither plugin execs anything, so it is the plugin's own; if ecs-ipam
   is the shim in front of a resident helper, its own process is measured with
   ECS_BRIDGE_HELPER=off and the shim's apart: see bench/plugins.py).
   This is the suite's "IPAM ADD alone" comparison.

Run: `.venv/bin/python -m bench.ipam_scale [--adds N] [--exec-adds N] [--quick]`.
Writes bench/results/ipam_scale.json. Figures, not assertions: nothing here fails on time.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import spawn
from bench.common import BIN_DIR, EDGE, header, ms, parser, ratio, summary, write_result
from bench.plugins import HELPER_OFF, has_helper, helper_env, stop_helpers
from ecs_bridge.adapters.filelog import NullLog
from ecs_bridge.adapters.sqlite_store import SqliteStore
from ecs_bridge.domain import ipam
from ecs_bridge.domain.allocation import Attachment
from ecs_bridge.domain.ipamconf import parse_ipam_config

SUBNET = "169.254.172.0/22"
ROUTE = {"dst": "169.254.170.2/32"}
HOST_LOCAL = Path("/usr/lib/cni/host-local")
ECS_IPAM = BIN_DIR / "ecs-ipam"
__all__ = ["main"]
RSS_RUNS = 5


def _edges(latencies: list[float]) -> dict[str, float]:
    first = statistics.median(latencies[:EDGE])
    last = statistics.median(latencies[-EDGE:])
    return {"first50_median_ms": ms(first), "last50_median_ms": ms(last),
            "last_over_first": round(last / first, 3)}


def in_process(adds: int, tmp: Path) -> dict[str, Any]:
    config = parse_ipam_config({"ipam": {"type": "ecs-ipam", "ipv4-subnet": SUBNET,
                                         "ipv4-routes": [ROUTE]}}, command="ADD")
    latencies = []
    with SqliteStore.open(str(tmp / "inproc" / "ipam.db")) as store:
        for i in range(adds):
            who = Attachment(owner=f"task-{i}", container_id=f"ctr-{i}", ifname="eth0")
            start = time.perf_counter()
            ipam.allocate(store, config, who, now=time.time(), log=NullLog())
            latencies.append(time.perf_counter() - start)
    return {"adds": adds, **_edges(latencies)}


def _add_env(base: dict[str, str], i: int) -> dict[str, str]:
    return {**base, "CNI_COMMAND": "ADD", "CNI_CONTAINERID": f"ctr-{i}",
            "CNI_NETNS": "/host/proc/1/ns/net", "CNI_IFNAME": "eth0"}


def _peak(exe: Path, config: dict[str, Any], env: dict[str, str], serial: int,
          tmp: Path) -> int | None:
    """The largest peak RSS (KiB) of `RSS_RUNS` more ADDs, under GNU time."""
    peaks = [spawn.peak_rss_kib([str(exe)], env=_add_env(env, serial + j),
                                stdin=json.dumps(config).encode(), report=str(tmp / "rss"))
             for j in range(RSS_RUNS)]
    known = [k for k in peaks if k is not None]
    return max(known) if known else None


def exec_compare(adds: int, tmp: Path) -> dict[str, Any]:
    """ADDs 1..`adds` of each plugin, interleaved (ours first on even ADDs, host-local
    first on odd ones) so drift cancels; each timed from posix_spawn to waitpid."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_PATH": "/usr/lib/cni"}
    plugins = {
        "ecs-ipam": (ECS_IPAM, {
            "cniVersion": "0.4.0", "name": "bench", "type": "ecs-bridge",
            "ipam": {"type": "ecs-ipam", "ipv4-subnet": SUBNET, "ipv4-routes": [ROUTE]},
        }, {**base, "IPAM_DB_PATH": str(tmp / "exec" / "ipam.db"),
            "ECS_CNI_LOG_FILE": str(tmp / "ipam.log"), **helper_env(tmp)}),
    }
    out: dict[str, Any] = {"adds": adds}
    if HOST_LOCAL.exists():
        plugins["host-local"] = (HOST_LOCAL, {
            "cniVersion": "0.4.0", "name": "bench", "type": "bridge",
            "ipam": {"type": "host-local", "subnet": SUBNET, "routes": [ROUTE],
                     "dataDir": str(tmp / "host-local")},
        }, base)
    else:
        out["host-local"] = "not installed (make deps)"
    runs: dict[str, list[spawn.Exit]] = {name: [] for name in plugins}
    order = list(plugins)
    for i in range(adds):
        for name in order if i % 2 == 0 else order[::-1]:
            exe, config, env = plugins[name]
            done = spawn.run([str(exe)], env=_add_env(env, i), stdin=json.dumps(config).encode())
            if not done.ok:
                raise SystemExit(f"{name} ADD {i} failed: {done.explain()}")
            runs[name].append(done)
    helper = has_helper()
    for name, exits in runs.items():
        walls = [e.wall for e in exits]
        exe, config, env = plugins[name]
        out[name] = {**summary(walls), **_edges(walls)}
        # With the helper, GNU time would see only the shim: the plugin's own
        # process is measured with the helper off, and the shim apart.
        alone = {**env, **HELPER_OFF} if helper and name == "ecs-ipam" else env
        out[name]["peak_rss_kib"] = _peak(exe, config, alone, adds, tmp)
        if helper and name == "ecs-ipam":
            out[name]["peak_rss_shim_kib"] = _peak(exe, config, env, adds + RSS_RUNS, tmp)
    stop_helpers(tmp)
    if "host-local" in runs:
        ours, theirs = out["ecs-ipam"], out["host-local"]
        out["ecs-ipam_over_host-local"] = {
            "all_median": ratio(ours["median_ms"], theirs["median_ms"]),
            "all_p95": ratio(ours["p95_ms"], theirs["p95_ms"]),
            "first50": ratio(ours["first50_median_ms"], theirs["first50_median_ms"]),
            "last50": ratio(ours["last50_median_ms"], theirs["last50_median_ms"]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--adds", type=int, default=1000, help="in-process ADDs (>= 100)")
    p.add_argument("--exec-adds", type=int,
                   help="exec'd ADDs per plugin (>= 100; default 500, --quick 200)")
    args = p.parse_args(argv)
    args.exec_adds = args.exec_adds or (200 if args.quick else 500)
    record_start = header("ipam_scale")
    with tempfile.TemporaryDirectory(prefix="ipam-bench-") as tmp:
        inproc = in_process(args.adds, Path(tmp))
        print(f"in-process allocate, {args.adds} ADDs into {SUBNET} (SQLite store): "
              f"first 50 median {inproc['first50_median_ms']} ms, last 50 median "
              f"{inproc['last50_median_ms']} ms, last/first {inproc['last_over_first']}")
        compared = exec_compare(args.exec_adds, Path(tmp))
    for name in ("ecs-ipam", "host-local"):
        figures = compared[name]
        if isinstance(figures, str):
            print(f"exec {name}: {figures}")
            continue
        print(f"exec {name}, {args.exec_adds} ADDs: median {figures['median_ms']} ms, "
              f"p95 {figures['p95_ms']} ms, first 50 median {figures['first50_median_ms']} ms, "
              f"last 50 median {figures['last50_median_ms']} ms, last/first "
              f"{figures['last_over_first']}, peak RSS {figures['peak_rss_kib']} KiB")
    if "ecs-ipam_over_host-local" in compared:
        print(f"ecs-ipam / host-local wall time: {compared['ecs-ipam_over_host-local']}")
    record = {**record_start, "in_process": inproc, "exec": compared}
    print(f"wrote {write_result('ipam_scale', record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
