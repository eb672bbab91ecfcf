"""Run every benchmark in `BENCHMARKS`, in order; add new ones to the list."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "bench.ipam_scale",
]


def main() -> int:
    status = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        status |= importlib.import_module(name).main([])
    return status


if __name__ == "__main__":
    sys.exit(main())
