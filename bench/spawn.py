"""Exec a plugin and time it (posix_spawn to waitpid); measure its peak RSS apart.

What is timed, exactly: from just before posix_spawn(3) (glibc's vfork-style
clone, so the driver's own size does not matter) to the return of waitpid(2) that
reaps the process. That is exec, the plugin's whole run including everything it
execs and waits for, and its exit. Preparing the config and environment is not
timed. stdin, stdout and stderr are memfds, so no pipe can fill and block the
plugin, and nothing is read while the clock runs.

Peak RSS is measured apart, by `peak_rss_kib`, never from these runs: wait4's
`ru_maxrss` of a child of this driver is at least the driver's own peak RSS,
because Linux folds the RSS high-water mark of the pre-exec memory (the
driver's, shared by a vfork-style child or copied by fork) into the child's
`maxrss` at execve. `peak_rss_kib` runs the plugin under GNU time (`/usr/bin/time
-f %M`, Debian's `time`), a 1 MiB process, which forks it and reports wait4's
`ru_maxrss`: the larger of the plugin's own peak and its largest waited-for
descendant's (ecs-bridge waits for ecs-ipam, `bridge` for `host-local`), with a
floor of about 1 MiB (`/bin/true` reports 1,076 KiB).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["GNU_TIME", "Exit", "Running", "finish", "finish_all", "peak_rss_kib", "run", "start"]

GNU_TIME = "/usr/bin/time"


@dataclass(frozen=True)
class Exit:
    argv: tuple[str, ...]
    wall: float
    """Seconds from posix_spawn to the waitpid that reaped it."""
    status: int
    """Exit code, or minus the signal number."""
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    def explain(self) -> str:
        return (f"{' '.join(self.argv)} exited {self.status}: "
                f"stdout {self.stdout[:400]!r} stderr {self.stderr[-400:]!r}")


@dataclass(frozen=True)
class Running:
    argv: tuple[str, ...]
    pid: int
    started: float
    out_fd: int
    err_fd: int


def _memfd(name: str, data: bytes = b"") -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def start(argv: Sequence[str], *, env: Mapping[str, str], stdin: bytes) -> Running:
    """Start `argv[0]` (an absolute path) with exactly `env` and `stdin`; do not wait."""
    in_fd = _memfd("stdin", stdin)
    out_fd, err_fd = _memfd("stdout"), _memfd("stderr")
    actions = [(os.POSIX_SPAWN_DUP2, in_fd, 0), (os.POSIX_SPAWN_DUP2, out_fd, 1),
               (os.POSIX_SPAWN_DUP2, err_fd, 2)]
    try:
        started = time.perf_counter()
        pid = os.posix_spawn(argv[0], list(argv), dict(env), file_actions=actions)
    except BaseException:
        os.close(out_fd)
        os.close(err_fd)
        raise
    finally:
        os.close(in_fd)
    return Running(tuple(argv), pid, started, out_fd, err_fd)


def _collect(running: Running, ended: float, status: int) -> Exit:
    outputs = []
    for fd in (running.out_fd, running.err_fd):
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        os.close(fd)
        outputs.append(b"".join(chunks))
    return Exit(running.argv, ended - running.started, os.waitstatus_to_exitcode(status),
                outputs[0], outputs[1])


def finish(running: Running) -> Exit:
    """Wait for this one process."""
    _, status = os.waitpid(running.pid, 0)
    ended = time.perf_counter()
    return _collect(running, ended, status)


def finish_all(runnings: Sequence[Running]) -> list[Exit]:
    """Reap every process as it ends (waitpid(-1)), so each one's time is its own;
    results in the order given. The caller must have no other children."""
    by_pid = {r.pid: r for r in runnings}
    reaped: dict[int, tuple[float, int]] = {}
    while len(reaped) < len(by_pid):
        pid, status = os.waitpid(-1, 0)
        ended = time.perf_counter()
        if pid in by_pid:
            reaped[pid] = (ended, status)
    return [_collect(r, *reaped[r.pid]) for r in runnings]


def peak_rss_kib(argv: Sequence[str], *, env: Mapping[str, str], stdin: bytes = b"",
                 report: str) -> int | None:
    """The peak RSS in KiB of `argv` and its waited-for descendants, by GNU time
    (which writes it to the file `report`); None without /usr/bin/time. Raises
    RuntimeError if the command fails."""
    if not os.path.exists(GNU_TIME):
        return None
    done = run([GNU_TIME, "-f", "%M", "-o", report, *argv], env=env, stdin=stdin)
    if not done.ok:
        raise RuntimeError(done.explain())
    with open(report) as f:
        return int(f.read().split()[-1])


def run(argv: Sequence[str], *, env: Mapping[str, str], stdin: bytes = b"") -> Exit:
    return finish(start(argv, env=env, stdin=stdin))
