"""Throwaway network namespaces for benchmarks, always removed.

Every namespace is named `ecsbench-<pid>-<role>`, so a run only ever deletes its
own (and, with `sweep_stale`, those of earlier runs whose process is gone); the
machine's own interfaces are never touched. Namespaces are made and deleted
with `ip -batch` (about 1 ms each), so a pool of 1,000 costs about a second.

`inside(name)` moves the calling thread into a namespace with setns(2) and back:
the driver enters the namespace playing the host before it spawns a plugin, so
the plugin starts there as it would under `ip netns exec`, without that
command's exec and mount work in the measured time. The plugins only read
/proc/sys (per network namespace) besides netlink, never /sys, so the mount
namespace `ip netns exec` would add changes nothing they see.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ecs_bridge.adapters.setns import CLONE_NEWNET, setns

__all__ = ["PREFIX", "Namespaces", "inside", "ip_json", "sweep_stale", "wait_detached"]

PREFIX = "ecsbench"
RUN_NETNS = "/run/netns"
_STALE = re.compile(rf"^{PREFIX}-(\d+)-")


def _setns(fd: int) -> None:
    setns(fd, CLONE_NEWNET)


@contextlib.contextmanager
def inside(name: str) -> Iterator[None]:
    """Run the block (and anything it spawns) in namespace `name`; always come back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(f"{RUN_NETNS}/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def _batch(lines: Iterable[str]) -> None:
    """`ip -force -batch` over `lines` (-force: go on past an error, e.g. one already gone)."""
    text = "".join(f"{line}\n" for line in lines)
    if not text:
        return
    with tempfile.NamedTemporaryFile("w", prefix="ecsbench-", suffix=".ip") as f:
        f.write(text)
        f.flush()
        subprocess.run(["ip", "-force", "-batch", f.name], capture_output=True)


def ip_json(ns: str, *args: str) -> Any:
    out = subprocess.run(["ip", "-j", "-n", ns, *args], capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else []


class Namespaces:
    """The namespaces of one benchmark; `close()` (or leaving `with`) deletes them all."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self._serial = 0

    def name(self, role: str) -> str:
        self._serial += 1
        return f"{PREFIX}-{os.getpid()}-{role}-{self._serial}"

    def make(self, roles: Iterable[str], *, lo_up: bool = False) -> list[str]:
        """One new namespace per role, made in one `ip -batch`; their names."""
        names = [self.name(role) for role in roles]
        self.made += names
        _batch(f"netns add {n}" for n in names)
        missing = [n for n in names if not os.path.exists(f"{RUN_NETNS}/{n}")]
        if missing:
            raise RuntimeError(f"could not create namespaces {missing[:3]}... (root?)")
        if lo_up:  # `-n` is no option inside a batch: one `ip` per namespace
            for n in names:
                subprocess.run(["ip", "-n", n, "link", "set", "lo", "up"], capture_output=True)
        return names

    def delete(self, names: Iterable[str]) -> None:
        doomed = set(names)
        _batch(f"netns del {n}" for n in doomed)
        self.made = [n for n in self.made if n not in doomed]

    def close(self) -> None:
        self.delete(list(self.made))

    def __enter__(self) -> Namespaces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def veths_on(host: str, bridge: str) -> int:
    """How many links have `bridge` as master in namespace `host`."""
    return len(ip_json(host, "link", "show", "master", bridge))


def wait_detached(host: str, bridge: str, *, timeout: float = 120.0) -> None:
    """Wait until the kernel has finished tearing down the veths of deleted
    container namespaces (netns cleanup is asynchronous), so it does not run on
    into the next measurement."""
    deadline = time.monotonic() + timeout
    while veths_on(host, bridge) and time.monotonic() < deadline:
        time.sleep(0.2)


def sweep_stale() -> list[str]:
    """Delete `ecsbench-<pid>-*` namespaces left by runs whose process is gone."""
    if not os.path.isdir(RUN_NETNS):
        return []
    stale = []
    for entry in os.listdir(RUN_NETNS):
        match = _STALE.match(entry)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            stale.append(entry)
    _batch(f"netns del {n}" for n in stale)
    return stale
