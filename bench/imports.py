"""Import time of the two CNI entry points, and the packages that cost the most.

For `ecs_bridge.cli.bridge_main` and `ecs_bridge.cli.ipam_main` (and the module
the installed console scripts import, if another, such as a shim): `python -X
importtime -c "import MODULE"` (one untimed warm-up, then N runs, default 7).
Each run's log is parsed; the imports the interpreter makes before `-c` runs
(site, encodings: the modules `python -X importtime -c pass` also imports) are
start-up, not the entry point's. The entry point's import time is the sum of
the self times of the other modules; it is split by top-level package (the
first component of the module name) and the 10 largest are listed, as medians
over the runs (and the 10 costliest modules, likewise). Note that ecs-bridge
imports pyroute2 and subprocess only when a command needs them, so they are not
here: bench/add_profile.py shows what a whole ADD imports.

Also, without -X importtime: the wall time (posix_spawn to waitpid) of `python
-c pass` and of `python -c "import MODULE"`, medians over N runs: what the import
costs for real, importtime's own bookkeeping left out.

Run: `.venv/bin/python -m bench.imports [--runs N] [--quick]`; writes
bench/results/imports.json.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bench import spawn
from bench.common import BIN_DIR, header, ms, parser, ratio, write_result

__all__ = [
    "ENTRY_POINTS",
    "ImportLine",
    "by_module",
    "by_package",
    "entry_points",
    "main",
    "parse_importtime",
    "startup_modules",
    "top_medians",
]

ENTRY_POINTS = ("ecs_bridge.cli.bridge_main", "ecs_bridge.cli.ipam_main")
_SCRIPT_IMPORT = re.compile(r"^from (\S+) import ", re.MULTILINE)


def entry_points() -> list[str]:
    """The two plugin modules, and whatever module the installed console scripts
    import first if that is another (a shim in front of them)."""
    found = list(ENTRY_POINTS)
    for script in ("ecs-bridge", "ecs-ipam"):
        path = BIN_DIR / script
        match = _SCRIPT_IMPORT.search(path.read_text(errors="replace")) if path.exists() else None
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found
TOP = 10
PYTHON = sys.executable
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}

ImportLine = tuple[str, int, int]
"""(module, self µs, cumulative µs) of one `import time:` line."""


def parse_importtime(stderr: bytes) -> list[ImportLine]:
    """The `import time: self | cumulative | name` lines of a -X importtime log."""
    lines = []
    for raw in stderr.decode(errors="replace").splitlines():
        if not raw.startswith("import time:"):
            continue
        fields = raw[len("import time:"):].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        lines.append((fields[2].strip(), int(fields[0]), int(fields[1])))
    return lines


def startup_modules() -> set[str]:
    """What the interpreter imports before running any code (`-c pass`)."""
    done = spawn.run([PYTHON, "-X", "importtime", "-c", "pass"], env=ENV)
    return {name for name, _, _ in parse_importtime(done.stderr)}


def by_package(lines: Iterable[ImportLine], exclude: set[str]) -> dict[str, int]:
    """Self µs summed per top-level package, leaving out the modules in `exclude`."""
    totals: dict[str, int] = defaultdict(int)
    for name, self_us, _ in lines:
        if name not in exclude:
            totals[name.split(".")[0]] += self_us
    return dict(totals)


def by_module(lines: Iterable[ImportLine], exclude: set[str]) -> dict[str, int]:
    return {name: self_us for name, self_us, _ in lines if name not in exclude}


def top_medians(runs: list[dict[str, int]], key: str) -> list[dict[str, Any]]:
    """The `TOP` largest medians over `runs` of each name's µs, in ms, as [{key, self_ms}]."""
    names = {n for run in runs for n in run}
    medians = {n: statistics.median(run.get(n, 0) for run in runs) for n in names}
    ranked = sorted(medians.items(), key=lambda kv: -kv[1])[:TOP]
    return [{key: n, "self_ms": round(us / 1000, 2)} for n, us in ranked]


def import_profile(module: str, runs: int, startup: set[str]) -> dict[str, Any]:
    argv = [PYTHON, "-X", "importtime", "-c", f"import {module}"]
    spawn.run(argv, env=ENV)  # warm-up: .pyc files, page cache
    packages, modules = [], []
    for _ in range(runs):
        done = spawn.run(argv, env=ENV)
        if not done.ok:
            raise SystemExit(done.explain())
        lines = parse_importtime(done.stderr)
        packages.append(by_package(lines, startup))
        modules.append(by_module(lines, startup))
    return {"importtime_total_ms": round(statistics.median(sum(p.values()) for p in packages)
                                         / 1000, 2),
            "modules_imported": int(statistics.median(len(m) for m in modules)),
            "top_packages": top_medians(packages, "package"),
            "top_modules": top_medians(modules, "module")}


def wall(argv: list[str], runs: int) -> float:
    """Median seconds, posix_spawn to waitpid, after one warm-up."""
    spawn.run(argv, env=ENV)
    return statistics.median(spawn.run(argv, env=ENV).wall for _ in range(runs))


def measure(runs: int) -> dict[str, Any]:
    startup = startup_modules()
    bare = wall([PYTHON, "-c", "pass"], runs)
    modules = entry_points()
    out: dict[str, Any] = {"runs": runs, "python_c_pass_ms": ms(bare),
                           "startup_modules": len(startup), "entry_points": modules}
    for module in modules:
        imported = wall([PYTHON, "-c", f"import {module}"], runs)
        out[module] = {**import_profile(module, runs, startup),
                       "python_c_import_ms": ms(imported),
                       "import_wall_ms": ms(imported - bare),
                       "import_over_bare_start": ratio(imported - bare, bare)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--runs", type=int, help="runs per figure (default 7, --quick 3)")
    args = p.parse_args(argv)
    runs = args.runs or (3 if args.quick else 7)
    record = header("imports")
    figures = measure(runs)
    record.update(figures)
    print(f"python -c pass: {figures['python_c_pass_ms']} ms (interpreter start-up, "
          f"{figures['startup_modules']} modules)")
    for module in figures["entry_points"]:
        f = figures[module]
        top = ", ".join(f"{t['package']} {t['self_ms']}" for t in f["top_packages"])
        print(f"{module}: -X importtime total {f['importtime_total_ms']} ms over "
              f"{f['modules_imported']} modules; wall import {f['import_wall_ms']} ms "
              f"(python -c 'import ...' {f['python_c_import_ms']} ms)\n  top (self ms): {top}")
    print(f"wrote {write_result('imports', record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
