"""Helpers for the stress, crash and hostile-input tests: plugins started as process
groups (so a SIGKILL reaches every process of the call), many started together, and a
barrier that waits until no process is left in a namespace."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Netns, PluginRun

__all__ = ["feed", "finish", "held", "integrity", "kill_group", "run_group", "settle", "start",
           "start_together"]


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    # The session's ECS_BRIDGE_* settings (the helper's directory) come along, as
    # conftest's exec_plugin passes them.
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            **{k: v for k, v in os.environ.items() if k.startswith("ECS_BRIDGE_")}, **env}


def start(exe: str | Path, *, env: Mapping[str, str], netns: Netns) -> subprocess.Popen[bytes]:
    """Start a plugin inside `netns` (the "host") in a session of its own, stdin still
    open: it waits for its config until `feed`."""
    return subprocess.Popen(
        ["ip", "netns", "exec", netns.name, str(exe)], env=_environment(env),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)


def feed(proc: subprocess.Popen[bytes], stdin: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # it stopped reading (too much stdin): its answer says why
    proc.stdin = None  # done with: communicate() must not flush it again


def start_together(exe: str | Path, calls: Sequence[tuple[Mapping[str, str], Any]], *,
                   netns: Netns) -> list[subprocess.Popen[bytes]]:
    """Start one process per (env, config), then hand every one its config: they all
    start work at about the same instant."""
    procs = [start(exe, env=env, netns=netns) for env, _ in calls]
    for proc, (_, config) in zip(procs, calls, strict=True):
        feed(proc, json.dumps(config).encode())
    return procs


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process of the call (ecs-bridge and an ecs-ipam it exec'd)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def finish(proc: subprocess.Popen[bytes], *, timeout: float = 120) -> PluginRun:
    """Wait for the call's answer; a call still running after `timeout` is killed and
    the test fails: a plugin must never hang."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise AssertionError(f"plugin still running after {timeout} s: {proc.args!r}") from None
    return PluginRun(proc.returncode, out, err)


def run_group(exe: str | Path, *, env: Mapping[str, str], netns: Netns, stdin: bytes,
              timeout: float = 60) -> PluginRun:
    proc = start(exe, env=env, netns=netns)
    feed(proc, stdin)
    return finish(proc, timeout=timeout)


def _resident_helpers() -> set[str]:
    """Pids of the resident helpers (cli/helper.py) of this session: each writes its pid
    in its lock file. A helper may stay in the namespace of the call that started it
    (where it cannot open PID 1's), but it serves calls, it is not one."""
    directory = os.environ.get("ECS_BRIDGE_HELPER_DIR", "")
    if not directory or not os.path.isdir(directory):
        return set()
    return {Path(directory, name).read_text().strip()
            for name in os.listdir(directory) if name.endswith(".lock")}


def _pids_in(netns: Netns) -> list[int]:
    """Processes whose network namespace is `netns`: the plugin, its exec'd IPAM plugin,
    and a helper worker that adopted the call."""
    target = os.stat(netns.path)
    helpers = _resident_helpers()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or entry in helpers:
            continue
        try:
            ns = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (ns.st_dev, ns.st_ino) == (target.st_dev, target.st_ino):
            found.append(int(entry))
    return found


def settle(netns: Netns, *, timeout: float = 60) -> None:
    """Return once no process is left in `netns` (a killed call's stragglers included);
    fail if some are still there after `timeout`."""
    deadline = time.monotonic() + timeout
    while (pids := _pids_in(netns)) and time.monotonic() < deadline:
        time.sleep(0.01)
    if pids:
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    for pid in pids if Path(f"/proc/{pid}/cmdline").exists()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise AssertionError(f"still running in {netns.name} after {timeout} s: {commands}")


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def held(db: Path) -> list[tuple[str, str]]:
    """(owner, address) of every address held by a container (gateways left out)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT owner, address FROM allocations WHERE gateway = 0 "
                            "ORDER BY family, address").fetchall()
    finally:
        conn.close()
    return [(owner, str(ipaddress.ip_address(address))) for owner, address in rows]
