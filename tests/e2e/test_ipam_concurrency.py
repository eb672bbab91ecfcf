"""Many `ecs-ipam` processes on one database, and processes killed mid-transaction."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.ipam_support import ECS_IPAM, agent_config, cni_env, db_rows, error_of, run_ipam

PAUSE_MARKER = b"ecs-ipam: test pause inside the write transaction"


def start_add(tmp_path: Path, owner: str, **env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(ECS_IPAM)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             **cni_env(tmp_path, "ADD", CNI_CONTAINERID=f"ctr-{owner}", **env)})
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(agent_config(id=owner)).encode())
    proc.stdin.close()
    return proc


def integrity(db: Path) -> str:
    return str(db_rows(db, "PRAGMA integrity_check")[0][0])


@pytest.mark.parametrize("start", ["no file yet", "empty file"])
def test_fifty_concurrent_adds_get_fifty_distinct_addresses(tmp_path: Path, start: str) -> None:
    db = tmp_path / "data" / "eni-ipam.db"
    if start == "empty file":
        db.parent.mkdir()
        db.touch()
    # A generous lock timeout: this test is about correctness, not about a slow CI host.
    procs = [start_add(tmp_path, f"task-{i}", IPAM_DB_CONNECTION_TIMEOUT="60s")
             for i in range(50)]
    outcomes = [(p.wait(timeout=120), p.stdout.read() if p.stdout else b"") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert [rc for rc, _ in outcomes] == [0] * 50, outcomes
    addresses = [json.loads(out)["ips"][0]["address"] for _, out in outcomes]
    assert len(set(addresses)) == 50
    assert integrity(db) == "ok"
    assert db_rows(db, "SELECT count(*) FROM allocations WHERE gateway = 0") == [(50,)]
    assert db_rows(db, "SELECT value FROM meta WHERE key = 'format'") == [("ecs-ipam",)]


def test_a_process_killed_inside_its_transaction_leaves_a_usable_database(
    tmp_path: Path,
) -> None:
    db = tmp_path / "data" / "eni-ipam.db"
    for owner in ("a", "b"):
        assert run_ipam(tmp_path, "ADD", agent_config(id=owner)).returncode == 0
    victim = start_add(tmp_path, "victim", ECS_IPAM_TEST_PAUSE_IN_TXN="60")
    assert victim.stderr is not None
    line = victim.stderr.readline()  # blocks until the victim is inside the transaction
    assert PAUSE_MARKER in line, line
    # Proof that the write transaction is open: its lock is held, nothing is committed.
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            probe.execute("BEGIN IMMEDIATE")
        assert probe.execute("SELECT count(*) FROM allocations WHERE owner = 'victim'"
                             ).fetchone() == (0,)
    finally:
        probe.close()
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    victim.stderr.close()
    assert integrity(db) == "ok"
    assert db_rows(db, "SELECT count(*) FROM allocations WHERE owner = 'victim'") == [(0,)]
    # The next ADD takes the address the victim was given but never committed...
    nxt = run_ipam(tmp_path, "ADD", agent_config(id="c"))
    assert nxt.json()["ips"][0]["address"] == "169.254.172.4/22"
    # ...and the victim's retried ADD and DEL work as if it had never run.
    assert run_ipam(tmp_path, "ADD", agent_config(id="victim")).json()["ips"][0][
        "address"] == "169.254.172.5/22"
    assert run_ipam(tmp_path, "DEL", agent_config(id="victim")).returncode == 0
    assert db_rows(db, "SELECT owner FROM allocations WHERE gateway = 0 ORDER BY address") == [
        ("a",), ("b",), ("c",)]


def test_processes_killed_at_a_sweep_of_instants_never_corrupt_the_database(
    tmp_path: Path,
) -> None:
    db = tmp_path / "data" / "eni-ipam.db"
    rng = random.Random(1234)
    owners = [f"k{i}" for i in range(20)]
    for owner in owners:
        proc = start_add(tmp_path, owner)
        time.sleep(rng.uniform(0.0, 0.25))  # from start-up to well past the commit
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if db.exists() and db.stat().st_size:
            assert integrity(db) == "ok"
    for owner in owners:  # whatever each victim left, the runtime's retry and DEL clean up
        assert run_ipam(tmp_path, "ADD", agent_config(id=owner)).returncode == 0
        assert run_ipam(tmp_path, "DEL", agent_config(id=owner)).returncode == 0
    assert integrity(db) == "ok"
    assert db_rows(db, "SELECT count(*) FROM allocations WHERE gateway = 0") == [(0,)]


def test_a_lock_held_past_the_timeout_is_error_11_and_then_add_works(tmp_path: Path) -> None:
    db = tmp_path / "data" / "eni-ipam.db"
    assert run_ipam(tmp_path, "ADD", agent_config(id="first")).returncode == 0
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        err = error_of(run_ipam(tmp_path, "ADD", agent_config(id="second"),
                                IPAM_DB_CONNECTION_TIMEOUT="200ms"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert err["code"] == 11
    assert str(db) in err["msg"]
    assert run_ipam(tmp_path, "ADD", agent_config(id="second")).returncode == 0
