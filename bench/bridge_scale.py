"""Scale: ADD latency as the bridge fills from 1 to 1,000 containers, ecs-bridge
against Debian's bridge.

How "the bridge fills" is measured: each plugin gets a fresh host namespace
(no bridge yet) and 1,000 container namespaces made up front with `ip -batch`,
one per container, as the ECS agent gives each task its own. ADD number i
attaches container i (its own namespace, CNI_IFNAME eth0, container id
`scale-i`) and nothing is deleted, so ADD i runs with i-1 veths on the bridge
and i-1 allocations in the IPAM store; the first ADD creates the bridge. (One
namespace with eth0..eth999 would not do: every container namespace gets the
same route to 169.254.170.2/32, which one namespace cannot hold 1,000 times.)
The ADDs of the two plugins are interleaved - ours then the reference on even
i, the other way on odd i - so drift cancels. Each ADD is timed from
posix_spawn to waitpid in the host namespace (bench/spawn.py).

Reported: the median of the first 50 ADDs and of the last 50, their ratio
(target: at most 1.1), medians per 100, and a PNG plot (bench/results/
bridge_scale.png) of every ADD's latency against the containers already
attached, with the running median of 25.

Run: `.venv/bin/python -m bench.bridge_scale [--containers N] [--quick]`;
writes bench/results/bridge_scale.json and bridge_scale.png.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import EDGE, RESULTS, header, ms, parser, ratio, summary, write_result
from bench.netns import Namespaces, sweep_stale, wait_detached
from bench.plugins import cni_bin, ours, ref, stop_helpers
from bench.png import Canvas, Color, text_width

__all__ = ["main", "plot"]

WINDOW = 25


def measure(count: int, tmp: Path) -> dict[str, list[float]]:
    """Latency in seconds of ADD 1..`count` of each plugin."""
    cni = cni_bin(tmp)
    plugins = [ours(tmp, cni_path=cni), ref(tmp, cni_path=cni)]
    walls: dict[str, list[float]] = {p.label: [] for p in plugins}
    with Namespaces() as nss:
        hosts = dict(zip([p.label for p in plugins],
                         nss.make(["host-ours", "host-ref"], lo_up=True), strict=True))
        containers = {p.label: nss.make([f"s{p.label[:3]}"] * count) for p in plugins}
        try:
            for i in range(count):
                for p in plugins if i % 2 == 0 else plugins[::-1]:
                    done = p.call("ADD", host=hosts[p.label], container=containers[p.label][i],
                                  container_id=f"scale-{i}")
                    walls[p.label].append(done.wall)
                if (i + 1) % 100 == 0:
                    print(f"  {i + 1} containers attached to each bridge", flush=True)
        finally:
            for p in plugins:
                nss.delete(containers[p.label])
            for p in plugins:
                wait_detached(hosts[p.label], p.bridge, timeout=300)
    stop_helpers(tmp)
    return walls


def figures(walls: Sequence[float]) -> dict[str, Any]:
    first = statistics.median(walls[:EDGE])
    last = statistics.median(walls[-EDGE:])
    per100 = [ms(statistics.median(walls[i:i + 100])) for i in range(0, len(walls), 100)]
    return {"first50_median_ms": ms(first), "last50_median_ms": ms(last),
            "last50_over_first50": round(last / first, 3), "all": summary(walls),
            "median_per_100_ms": per100, "latencies_ms": [round(w * 1000, 2) for w in walls]}


def _running_median(values: Sequence[float], window: int) -> list[float]:
    half = window // 2
    return [statistics.median(values[max(0, i - half):i + half + 1]) for i in range(len(values))]


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    while magnitude > raw:
        magnitude /= 10
    for factor in (1, 2, 5, 10):
        if magnitude * factor >= raw:
            return magnitude * factor
    return magnitude * 10


def _label(value: float) -> str:
    return f"{value:g}"


def plot(series: dict[str, list[float]], titles: dict[str, str], path: Path) -> None:
    """One panel per series: each ADD's latency (ms) against the containers already
    attached, points in a light shade and the running median in a dark one."""
    scale = 2
    width, panel_h, top, left, right, gap = 1000, 300, 50, 90, 30, 70
    height = top + len(series) * (panel_h + gap) + 10
    canvas = Canvas(width, height)
    ink, grid = (40, 40, 40), (225, 225, 225)
    shades: list[tuple[Color, Color]] = [((160, 190, 230), (20, 70, 160)),
                                         ((240, 180, 150), (190, 60, 20))]
    heading = "ADD latency as the bridge fills (one container namespace per ADD)"
    canvas.text((width - text_width(heading, scale)) // 2, 12, heading, ink, scale)
    count = max(len(v) for v in series.values())
    x_step = _nice_step(count, 10)
    for n, (label, values) in enumerate(series.items()):
        light, dark = shades[n % len(shades)]
        y0 = top + n * (panel_h + gap) + 20
        y1 = y0 + panel_h
        x0, x1 = left, width - right
        cap = sorted(values)[int(0.99 * (len(values) - 1))] * 1.15
        y_step = _nice_step(cap, 5)
        y_max = y_step * (int(cap / y_step) + 1)

        def px(i: float, x0: int = x0, x1: int = x1) -> int:
            return x0 + round(i / max(count, 1) * (x1 - x0))

        def py(v: float, y0: int = y0, y1: int = y1, y_max: float = y_max) -> int:
            return y1 - round(min(v, y_max) / y_max * (y1 - y0))

        tick = 0.0
        while tick <= y_max + 1e-9:
            canvas.line(x0, py(tick), x1, py(tick), grid)
            text = _label(round(tick, 6))
            canvas.text(x0 - 8 - text_width(text, scale), py(tick) - 7, text, ink, scale)
            tick += y_step
        i = 0.0
        while i <= count + 1e-9:
            canvas.line(px(i), y1, px(i), y1 + 5, ink)
            text = _label(round(i))
            canvas.text(px(i) - text_width(text, scale) // 2, y1 + 9, text, ink, scale)
            i += x_step
        canvas.line(x0, y0, x0, y1, ink)
        canvas.line(x0, y1, x1, y1, ink)
        for k, v in enumerate(values):
            canvas.rect(px(k) - 1, py(v) - 1, px(k) + 1, py(v) + 1, light)
        smooth = _running_median(values, WINDOW)
        for k in range(1, len(smooth)):
            canvas.line(px(k - 1), py(smooth[k - 1]), px(k), py(smooth[k]), dark, width=3)
        canvas.text(x0 + 10, y0 - 18, titles.get(label, label), dark, scale)
    canvas.text((width - text_width("containers already attached", scale)) // 2, height - 24,
                "containers already attached", ink, scale)
    canvas.save(path)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--containers", type=int,
                   help="containers attached per plugin (>= 100; default 1000, --quick 200)")
    args = p.parse_args(argv)
    count = args.containers or (200 if args.quick else 1000)
    sweep_stale()
    record = header("bridge_scale")
    with tempfile.TemporaryDirectory(prefix="ecsbench-") as tmp:
        walls = measure(count, Path(tmp))
    record["containers"] = count
    for label, values in walls.items():
        record[label] = figures(values)
    record["ratio"] = {
        "first50": ratio(record["ecs-bridge"]["first50_median_ms"],
                         record["bridge"]["first50_median_ms"]),
        "last50": ratio(record["ecs-bridge"]["last50_median_ms"],
                        record["bridge"]["last50_median_ms"]),
    }
    for label in walls:
        f = record[label]
        print(f"{label:10} {count} ADDs: first 50 median {f['first50_median_ms']} ms, last 50 "
              f"median {f['last50_median_ms']} ms, last/first {f['last50_over_first50']}; "
              f"median per 100: {f['median_per_100_ms']}")
    png = RESULTS / "bridge_scale.png"
    plot({label: [w * 1000 for w in values] for label, values in walls.items()},
         {"ecs-bridge": "ecs-bridge + ecs-ipam, ADD ms",
          "bridge": "Debian bridge + host-local, ADD ms"}, png)
    record["plot"] = png.name
    print(f"wrote {write_result('bridge_scale', record)} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
