"""`ecs-bridge-ctl demo` (what `make demo` runs): it passes, and its namespaces are gone
afterwards, also when it is interrupted half-way."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.e2e.ctlkit import CTL


def demo_namespaces(pid: int) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in listed.splitlines()
            if line.startswith(f"ecsdemo-{pid}-")]


def test_the_demo_proves_the_path_and_leaves_nothing_behind() -> None:
    run = subprocess.Popen([str(CTL), "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    out, err = run.communicate(timeout=180)
    assert run.returncode == 0, out + err
    assert '"address": "169.254.172.2/22"' in out
    assert "cni:demo-container/eth0" in out
    assert "0 problem(s)" in out
    assert "received 'hello from the container' from 169.254.172.2" in out
    assert "the container got the answer 'hello back from the host'" in out
    assert "addresses held in the IPAM database: []" in out
    assert out.rstrip().endswith("demo passed: ADD, a datagram across the bridge, DEL, "
                                 "nothing left behind")
    assert demo_namespaces(run.pid) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_demo_removes_its_namespaces(sig: signal.Signals) -> None:
    run = subprocess.Popen([str(CTL), "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        assert run.stdout is not None
        deadline = time.monotonic() + 60
        for line in run.stdout:  # interrupt once the ADD has run
            if line.startswith("== 3.") or time.monotonic() > deadline:
                break
        assert len(demo_namespaces(run.pid)) == 2
        os.kill(run.pid, sig)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130
    assert "the demo's namespaces are removed" in err
    assert demo_namespaces(run.pid) == []
