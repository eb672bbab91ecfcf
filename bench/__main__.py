"""Run every benchmark in `BENCHMARKS`, in order, then `bench.report`; add new ones to the list.

`python -m bench [--quick]`: --quick is passed to each (smaller counts). Those that
need root and network namespaces are skipped, with the reason, where there are
none; the rest still run.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time

from bench.netns import sweep_stale
from bench.plugins import REF_DIR

BENCHMARKS = [
    ("bench.imports", False),
    ("bench.add_profile", True),
    ("bench.add_del", True),
    ("bench.ipam_scale", False),
    ("bench.burst", True),
    ("bench.bridge_scale", True),
]
"""(module, needs root and network namespaces). Quiet, short ones first."""


def _netns_problem() -> str:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs iproute2"
    if not (REF_DIR / "bridge").exists() or not (REF_DIR / "host-local").exists():
        return f"needs Debian's containernetworking-plugins in {REF_DIR} (make deps)"
    probe = f"ecsbench-{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    unknown = [a for a in args if a != "--quick"]
    if unknown:
        print(f"usage: python -m bench [--quick]; unknown {unknown}", file=sys.stderr)
        return 2
    problem = _netns_problem()
    if not problem:
        sweep_stale()
    began = time.monotonic()
    status = 0
    for name, needs_netns in BENCHMARKS:
        if needs_netns and problem:
            print(f"== {name}: skipped ({problem})", flush=True)
            continue
        print(f"== {name}", flush=True)
        started = time.monotonic()
        status |= int(importlib.import_module(name).main(list(args)))
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print("== bench.report", flush=True)
    status |= int(importlib.import_module("bench.report").main([]))
    print(f"all benchmarks: {time.monotonic() - began:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
