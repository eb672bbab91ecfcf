"""Where to look for the container ends of host veths: the paths of the network
namespaces other than the caller's, one path per namespace.

Named namespaces (`ip netns add`, under /run/netns) come first, then one
`/proc/<pid>/ns/net` for each namespace only a process holds (the ECS agent's
tasks: their pause container's). Two paths name the same namespace when they
stat to the same inode; the caller's own namespace is left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ecs_bridge.adapters.netns_entry import THREAD_NETNS

__all__ = ["NETNS_RUN_DIR", "other_namespaces"]

NETNS_RUN_DIR = "/run/netns"


def other_namespaces(run_dir: str = NETNS_RUN_DIR, proc: str = "/proc") -> list[str]:
    """Paths of every network namespace but the calling thread's, named ones first."""
    seen = set()
    own = _identity(THREAD_NETNS)
    if own is not None:
        seen.add(own)
    paths = []
    for path in [*_named(run_dir), *_processes(proc)]:
        identity = _identity(path)
        if identity is not None and identity not in seen:
            seen.add(identity)
            paths.append(path)
    return paths


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # gone, or not ours to read
    return st.st_dev, st.st_ino


def _named(run_dir: str) -> list[str]:
    try:
        return [os.path.join(run_dir, name) for name in sorted(os.listdir(run_dir))]
    except OSError:
        return []


def _processes(proc: str) -> Iterator[str]:
    try:
        pids = sorted((entry for entry in os.listdir(proc) if entry.isdigit()), key=int)
    except OSError:
        return
    for pid in pids:
        yield os.path.join(proc, pid, "ns", "net")
