"""Benchmarks (not tests): run them all with `python -m bench [--quick]` or `make bench`.

Each module has `main(argv) -> int`, prints its figures and writes a JSON record
to `bench/results/`; `bench.report` gathers them into `bench/results/latest.md`.

- `imports`: import time of the entry points, top packages by self time
- `add_profile`: where one ecs-bridge ADD spends its time (probe, cProfile, importtime)
- `add_del`: ADD and DEL wall time and peak RSS against Debian's bridge + host-local
- `ipam_scale`: ecs-ipam against host-local, ADDs 1..1000 into a /22
- `burst`: 100 ADDs started at once
- `bridge_scale`: ADD latency as the bridge fills to 1,000 containers, with a PNG plot

Helpers: `spawn` (timed exec, peak RSS), `netns` (throwaway namespaces),
`plugins` (the two plugins' configs), `png` (a tiny PNG writer), `common`.
Nothing here is imported by the tests, nor imports from them.
"""
