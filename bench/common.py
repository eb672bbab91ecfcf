"""What every benchmark shares: summaries of latencies, the record header, writing results.

Figures, not assertions: nothing in bench/ fails on time. Latencies are kept in
seconds and reported in milliseconds, rounded to the microsecond.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecs_bridge.buildinfo import git_short_hash

__all__ = [
    "BIN_DIR",
    "EDGE",
    "RESULTS",
    "header",
    "ms",
    "p95",
    "parser",
    "ratio",
    "read_result",
    "summary",
    "write_result",
]

RESULTS = Path(__file__).parent / "results"
BIN_DIR = Path(sys.executable).parent
"""The venv's bin, where `make install` put `ecs-bridge` and `ecs-ipam`."""
EDGE = 50
"""How many ADDs make "the first" and "the last" of a fill."""


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (linear interpolation between closest ranks)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """n, median, p95, min and max of latencies given in seconds, in ms."""
    return {"n": len(seconds), "median_ms": ms(statistics.median(seconds)),
            "p95_ms": ms(p95(seconds)), "min_ms": ms(min(seconds)), "max_ms": ms(max(seconds))}


def ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 2) if theirs else float("inf")


def _git_head() -> str:
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).parent)
    return run.stdout.strip() if run.returncode == 0 else git_short_hash()


def _uncommitted() -> list[str]:
    """Files of the measured code (src/, pyproject.toml) that differ from the commit."""
    run = subprocess.run(["git", "status", "--porcelain", "--", "src", "pyproject.toml"],
                         capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    return [line[3:] for line in run.stdout.splitlines()
            if line[3:] and "__pycache__" not in line and not line.endswith("_githash")]


def header(name: str) -> dict[str, Any]:
    """The fields every record starts with: what, when, which commit (and which of
    the measured files were not committed yet), on what."""
    return {"benchmark": name,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "git": _git_head(), "uncommitted": _uncommitted(),
            "python": platform.python_version(),
            "machine": f"{platform.machine()} {os.cpu_count()} cpu",
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def write_result(name: str, record: dict[str, Any]) -> Path:
    """bench/results/NAME.json, replaced atomically."""
    record["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose description is the module docstring's first line,
    with the suite-wide `--quick` flag."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    p.add_argument("--quick", action="store_true", help="smaller counts, for a fast look")
    return p
