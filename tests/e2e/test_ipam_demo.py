"""`make demo` (the ecs-ipam round trip) runs and shows the ADD result and the DEL."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_prints_the_result_and_a_successful_del() -> None:
    run = subprocess.run([sys.executable, "-m", "ecs_bridge.cli.demo"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert '"address": "169.254.172.2/22"' in run.stdout
    assert "DEL: released" in run.stdout
    assert "released 169.254.172.2 of 0a:1b:2c:3d:4e:5f" in run.stdout  # from the log
