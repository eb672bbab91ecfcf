"""The exec shim and its resident helper (cli/shim.py, cli/helper.py): the same answers
as in-process, a runtime's SIGKILL still stops the call, a killed helper costs no call,
and nobody but root gets to use it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN_DIR, exec_plugin
from tests.e2e.ipam_support import agent_config, cni_env

ECS_IPAM = BIN_DIR / "ecs-ipam"


@pytest.fixture
def helper_dir(tmp_path: Path) -> Iterator[Path]:
    """A helper of this test's own; stopped at the end."""
    directory = tmp_path / "helper"
    directory.mkdir(mode=0o700)
    yield directory
    for pid in _helper_pids(directory):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _helper_pids(directory: Path) -> list[int]:
    return [int(p.read_text()) for p in directory.glob("*.lock") if p.read_text().strip()]


def _env(tmp_path: Path, helper_dir: Path, command: str, **extra: str) -> dict[str, str]:
    return {**cni_env(tmp_path, command, **extra), "ECS_BRIDGE_HELPER_DIR": str(helper_dir)}


def _warm(tmp_path: Path, helper_dir: Path) -> int:
    """Start the helper with one call and wait until it listens; its pid."""
    first = exec_plugin(ECS_IPAM, env=_env(tmp_path, helper_dir, "VERSION"), stdin=b"{}")
    assert first.returncode == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sockets = list(helper_dir.glob("*.sock"))
        if sockets and _helper_pids(helper_dir):
            return _helper_pids(helper_dir)[0]
        time.sleep(0.05)
    pytest.fail("the helper did not start")


def test_a_call_through_the_helper_answers_byte_for_byte_as_in_process(
    tmp_path: Path, helper_dir: Path
) -> None:
    _warm(tmp_path, helper_dir)
    outputs = {}
    for mode in ("on", "off"):
        db_dir = tmp_path / mode
        runs = [
            exec_plugin(ECS_IPAM, stdin=agent_config("1.0.0", id=owner), env=_env(
                tmp_path, helper_dir, "ADD", ECS_BRIDGE_HELPER=mode,
                IPAM_DB_PATH=str(db_dir / "db"), CNI_CONTAINERID=f"c-{owner}"))
            for owner in ("a", "b", "a")
        ]
        bad = exec_plugin(ECS_IPAM, stdin={**agent_config(), "cniVersion": "0.9.9"},
                          env=_env(tmp_path, helper_dir, "ADD", ECS_BRIDGE_HELPER=mode))
        outputs[mode] = [(r.returncode, r.stdout) for r in [*runs, bad]]
    assert outputs["on"] == outputs["off"]
    assert [rc for rc, _ in outputs["on"]] == [0, 0, 0, 1]
    assert json.loads(outputs["on"][2][1])["ips"][0]["address"] == "169.254.172.2/22"


def test_killing_the_shim_kills_its_worker_inside_the_transaction(
    tmp_path: Path, helper_dir: Path
) -> None:
    _warm(tmp_path, helper_dir)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPROFILEIMPORTTIME": "1",
           **_env(tmp_path, helper_dir, "ADD", ECS_IPAM_TEST_PAUSE_IN_TXN="60")}
    shim = subprocess.Popen([str(ECS_IPAM)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert shim.stdin is not None
    assert shim.stderr is not None
    shim.stdin.write(json.dumps(agent_config(id="victim")).encode())
    shim.stdin.close()
    shim_imports = []
    for line in iter(shim.stderr.readline, b""):
        if b"test pause inside the write transaction" in line:
            break
        shim_imports.append(line.rsplit(b"|", 1)[-1].strip())
    # The shim imported no SQLite: the transaction is its helper worker's.
    assert b"ecs_bridge.cli.shim" in shim_imports
    assert b"sqlite3" not in shim_imports
    db = tmp_path / "data" / "eni-ipam.db"
    shim.send_signal(signal.SIGKILL)
    assert shim.wait(timeout=10) == -signal.SIGKILL
    shim.stderr.close()
    # The worker held the write lock while paused; it is gone once the lock is free.
    probe = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        assert probe.execute("SELECT count(*) FROM allocations WHERE owner = 'victim'"
                             ).fetchone() == (0,)
        probe.execute("ROLLBACK")
    finally:
        probe.close()


def test_a_killed_helper_is_replaced_and_no_call_fails(
    tmp_path: Path, helper_dir: Path
) -> None:
    first = _warm(tmp_path, helper_dir)
    os.kill(first, signal.SIGKILL)
    for n in range(5):
        run = exec_plugin(ECS_IPAM, stdin=agent_config(id=f"t{n}"),
                          env=_env(tmp_path, helper_dir, "ADD", CNI_CONTAINERID=f"c{n}"))
        assert run.returncode == 0, run
    second = _warm(tmp_path, helper_dir)
    assert second != first


def test_a_helper_directory_open_to_others_is_never_used(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o755)
    for _ in range(3):
        run = exec_plugin(ECS_IPAM, stdin=agent_config(), env=_env(tmp_path, loose, "ADD"))
        assert run.returncode == 0
    time.sleep(1)
    assert list(loose.glob("*.sock")) == []


def test_a_non_root_user_cannot_reach_the_helper(tmp_path: Path, helper_dir: Path) -> None:
    _warm(tmp_path, helper_dir)
    [sock] = helper_dir.glob("*.sock")
    assert oct(helper_dir.stat().st_mode & 0o777) == "0o700"
    assert oct(sock.stat().st_mode & 0o777) == "0o600"
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    sys.exit(3)\n")
    tried = subprocess.run(["python3", "-c", probe, str(sock)], user=65534, group=65534,
                           capture_output=True)
    assert tried.returncode == 3, tried.stderr


def test_a_burst_on_a_cold_host_starts_one_helper_and_every_call_succeeds(
    tmp_path: Path, helper_dir: Path
) -> None:
    procs = []
    for n in range(30):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               **_env(tmp_path, helper_dir, "ADD", CNI_CONTAINERID=f"c{n}")}
        proc = subprocess.Popen([str(ECS_IPAM)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(agent_config(id=f"t{n}")).encode())
        procs.append(proc)
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    outputs = [(p.wait(timeout=120), p.stdout.read() if p.stdout else b"") for p in procs]
    for proc in procs:
        if proc.stdout is not None:
            proc.stdout.close()
    assert [rc for rc, _ in outputs] == [0] * 30, outputs
    assert len({json.loads(out)["ips"][0]["address"] for _, out in outputs}) == 30
    assert len(_helper_pids(helper_dir)) == 1
    assert len(list(helper_dir.glob("*.sock"))) == 1
