"""Does ADD number 1,000 cost what ADD number 1 costs? (ecs-ipam into a /22)

1. In process: `ipam.allocate` on the SQLite store, ADDs 1..N (default 1000) into
   169.254.172.0/22; median latency of the first 50 against the last 50.
2. Exec'd: the installed `ecs-ipam` against Debian's `/usr/lib/cni/host-local`,
   same shape (/22, one route, a new container per ADD), wall time per ADD;
   medians of the first and last 50 of each, and ecs-ipam / host-local.

Run: `.venv/bin/python -m bench.ipam_scale [--adds N] [--exec-adds N]`. Writes
bench/results/ipam_scale.json. Figures, not assertions: nothing here fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ecs_bridge.adapters.filelog import NullLog
from ecs_bridge.adapters.sqlite_store import SqliteStore
from ecs_bridge.buildinfo import git_short_hash
from ecs_bridge.domain import ipam
from ecs_bridge.domain.allocation import Attachment
from ecs_bridge.domain.ipamconf import parse_ipam_config

SUBNET = "169.254.172.0/22"
ROUTE = {"dst": "169.254.170.2/32"}
HOST_LOCAL = Path("/usr/lib/cni/host-local")
ECS_IPAM = Path(sys.executable).parent / "ecs-ipam"
RESULTS = Path(__file__).parent / "results"
__all__ = ["main"]
EDGE = 50


def _ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 3)


def _summary(latencies: list[float]) -> dict[str, float]:
    first, last = _ms(latencies[:EDGE]), _ms(latencies[-EDGE:])
    return {"first50_median_ms": first, "last50_median_ms": last,
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
    return {"adds": adds, **_summary(latencies)}


def _exec_adds(exe: Path, config: dict[str, Any], env: dict[str, str], *,
               adds: int) -> list[float]:
    stdin = json.dumps(config).encode()
    latencies = []
    for i in range(adds):
        run_env = {**env, "CNI_COMMAND": "ADD", "CNI_CONTAINERID": f"ctr-{i}",
                   "CNI_NETNS": "/host/proc/1/ns/net", "CNI_IFNAME": "eth0"}
        start = time.perf_counter()
        run = subprocess.run([str(exe)], input=stdin, env=run_env, capture_output=True)
        latencies.append(time.perf_counter() - start)
        if run.returncode != 0:
            raise SystemExit(f"{exe.name} ADD {i} failed: {run.stdout!r} {run.stderr!r}")
    return latencies


def exec_compare(adds: int, tmp: Path) -> dict[str, Any]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_PATH": "/usr/lib/cni"}
    ours = _exec_adds(ECS_IPAM, {
        "cniVersion": "0.3.0", "name": "bench", "type": "ecs-bridge",
        "ipam": {"type": "ecs-ipam", "ipv4-subnet": SUBNET, "ipv4-routes": [ROUTE]},
    }, {**base, "IPAM_DB_PATH": str(tmp / "exec" / "ipam.db"),
        "ECS_CNI_LOG_FILE": str(tmp / "ipam.log")}, adds=adds)
    out: dict[str, Any] = {"adds": adds, "ecs-ipam": _summary(ours)}
    if not HOST_LOCAL.exists():
        out["host-local"] = "not installed (make deps)"
        return out
    theirs = _exec_adds(HOST_LOCAL, {
        "cniVersion": "0.3.0", "name": "bench", "type": "bridge",
        "ipam": {"type": "host-local", "subnet": SUBNET, "routes": [ROUTE],
                 "dataDir": str(tmp / "host-local")},
    }, base, adds=adds)
    out["host-local"] = _summary(theirs)
    out["ecs-ipam_over_host-local"] = {
        "all_median": round(statistics.median(ours) / statistics.median(theirs), 2),
        "first50": round(_ms(ours[:EDGE]) / _ms(theirs[:EDGE]), 2),
        "last50": round(_ms(ours[-EDGE:]) / _ms(theirs[-EDGE:]), 2),
    }
    return out


def _git_head() -> str:
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).parent)
    return run.stdout.strip() if run.returncode == 0 else git_short_hash()


def _write(record: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "ipam_scale.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--adds", type=int, default=1000, help="in-process ADDs (>= 100)")
    parser.add_argument("--exec-adds", type=int, default=1000, help="exec'd ADDs per plugin")
    args = parser.parse_args(argv)
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
        print(f"exec {name}, {args.exec_adds} ADDs: first 50 median "
              f"{figures['first50_median_ms']} ms, last 50 median "
              f"{figures['last50_median_ms']} ms, last/first {figures['last_over_first']}")
    if "ecs-ipam_over_host-local" in compared:
        print(f"ecs-ipam / host-local wall time: {compared['ecs-ipam_over_host-local']}")
    record = {"benchmark": "ipam_scale", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime()),
              "git": _git_head(), "python": platform.python_version(),
              "machine": f"{platform.machine()} {os.cpu_count()} cpu",
              "in_process": inproc, "exec": compared}
    print(f"wrote {_write(record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
