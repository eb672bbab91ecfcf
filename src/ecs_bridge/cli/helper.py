"""The resident helper behind the exec shim (`cli.shim`): `python -m ecs_bridge.cli.helper`.

One helper per version of the code (its socket name says which), started by the
first shim that finds none. It takes an exclusive lock before anything else, so
of many shims racing to start one, one serves and the rest exit at once; it
imports everything a plugin call needs, then forks a worker per call. It leaves
the namespaces of whoever started it for those of PID 1, so it never keeps a
throwaway namespace alive, and exits after ECS_BRIDGE_HELPER_IDLE seconds
(default 600) without a call.

A worker accepts only a root peer, adopts the caller's network and mount
namespaces, working directory, umask, environment and stdio, and runs the same
plugin main the shim would run. It tells the shim when it has started (before
any change) and sends the exit status at the end; if the shim goes away first
(killed by the runtime), the worker kills itself, as an exec'd plugin would
have died. Killing the helper loses no call: workers are separate processes,
and the next shim starts a new helper.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import stat
import sys
import threading
from typing import NoReturn

from ecs_bridge.adapters.setns import CLONE_NEWNET, CLONE_NEWNS, setns
from ecs_bridge.cli import cni, shim

__all__ = ["main", "stop"]

IDLE = "ECS_BRIDGE_HELPER_IDLE"
DEFAULT_IDLE = 600.0
"""Ten minutes: a host starting a task every few minutes keeps its helper (35 MiB)."""
MAX_CALL = 4 << 20


def main() -> None:
    directory = shim.helper_dir()
    if os.geteuid() != 0 or not _private_directory(directory):
        return
    path = shim.socket_path()
    lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another helper serves this code, or is starting
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    _leave_callers_namespaces(directory)
    _preload()
    listener = _listen(path)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
    signal.signal(signal.SIGTERM, _exit_cleanly)
    listener.settimeout(float(os.environ.get(IDLE) or DEFAULT_IDLE))
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                break
            if os.fork() == 0:
                listener.close()
                os.close(lock)
                _work(conn)
            conn.close()
    finally:
        _unlink_if_ours(path, listener)


def stop(directory: str) -> list[int]:
    """Ask every helper serving from `directory` to exit (SIGTERM); their pids."""
    stopped = []
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        if not name.endswith(".sock.lock"):
            continue
        with open(os.path.join(directory, name)) as lock:
            pid = lock.read().strip()
        if pid.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)
                stopped.append(int(pid))
    return stopped


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)  # unwinds main's finally: the socket goes with the helper


def _private_directory(directory: str) -> bool:
    """The socket directory exists, belongs to root and is closed to everyone else."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    info = os.lstat(directory)
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == 0
            and not info.st_mode & 0o077)


def _adopt(path_or_fd: str | int, kind: int) -> None:
    fd = os.open(path_or_fd, os.O_RDONLY | os.O_CLOEXEC) if isinstance(path_or_fd, str) \
        else path_or_fd
    try:
        setns(fd, kind)
    finally:
        os.close(fd)


def _leave_callers_namespaces(directory: str) -> None:
    """Move to PID 1's network namespace, and its mount namespace if the socket
    directory is the same directory there: a starter's throwaway namespaces (and a
    sysfs mounted for one) then never outlive their owner because of us."""
    here = os.stat(directory)
    with contextlib.suppress(OSError):
        _adopt("/proc/1/ns/net", CLONE_NEWNET)
    home = os.open("/", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _adopt("/proc/1/ns/mnt", CLONE_NEWNS)
        there = os.stat(directory)
        if (there.st_dev, there.st_ino) != (here.st_dev, here.st_ino):
            raise OSError("socket directory differs in PID 1's mount namespace")
    except OSError:
        with contextlib.suppress(OSError):
            _adopt(home, CLONE_NEWNS)  # go back: the shims must find our socket
        home = -1
    finally:
        if home >= 0:
            os.close(home)
    os.chdir("/")


def _preload() -> None:
    """Import what calls need, so no worker pays for it (after the lock: a helper that
    loses the race to start must exit at once)."""
    import subprocess  # noqa: PLC0415

    import ecs_bridge.adapters.ipam_exec  # noqa: PLC0415
    import ecs_bridge.adapters.netlink  # noqa: PLC0415
    import ecs_bridge.adapters.netlink_msgs as msgs  # noqa: PLC0415
    import ecs_bridge.adapters.sqlite_store  # noqa: PLC0415
    import ecs_bridge.cli.bridge_main  # noqa: PLC0415
    import ecs_bridge.cli.ipam_main  # noqa: PLC0415
    import ecs_bridge.domain.check  # noqa: PLC0415
    import ecs_bridge.domain.gc  # noqa: PLC0415

    msgs.pyroute2()
    del subprocess, ecs_bridge


def _listen(path: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # we hold the lock: any socket here is a dead helper's
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(256)
    return listener


def _unlink_if_ours(path: str, listener: socket.socket) -> None:
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == os.fstat(listener.fileno()).st_ino:
            os.unlink(path)
    listener.close()


def _work(conn: socket.socket) -> NoReturn:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        call = _receive(conn)
    except Exception:  # anything wrong with the call: the shim runs it itself
        with contextlib.suppress(OSError):
            conn.sendall(shim.DECLINED)
        os._exit(0)
    conn.sendall(shim.STARTED)
    threading.Thread(target=_die_with_caller, args=(conn,), daemon=True).start()
    status = 0
    try:
        if call == "bridge":
            from ecs_bridge.cli.bridge_main import PLUGIN  # noqa: PLC0415 - preloaded
        else:
            from ecs_bridge.cli.ipam_main import PLUGIN  # noqa: PLC0415 - preloaded
        cni.run(PLUGIN, sys.argv[1:], terminate=sys.exit)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # cni.run answers every error itself: this is a bug
        sys.stderr.write(f"ecs-bridge helper worker: {type(exc).__name__}: {exc}\n")
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    with contextlib.suppress(OSError):
        conn.sendall(bytes([status & 0xFF]))
    os._exit(0)


def _receive(conn: socket.socket) -> str:
    """Read the call and adopt everything about the caller. Raises before any change
    to the host if anything is off (then the shim runs the call itself)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    if int.from_bytes(creds[4:8], sys.byteorder) != 0:
        raise PermissionError("only root may use the helper")
    header, fds, _flags, _addr = socket.recv_fds(conn, 4, 8)
    if len(header) != 4 or len(fds) != 5:
        raise ValueError("malformed call")
    size = int.from_bytes(header, "big")
    if size > MAX_CALL:
        raise ValueError("call too large")
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("caller went away")
        data += chunk
    plugin, argv, environ, cwd, umask = shim.decode_call(data)
    stdin, stdout, stderr, netns, mntns = fds
    _adopt(mntns, CLONE_NEWNS)
    _adopt(netns, CLONE_NEWNET)
    os.chdir(cwd)
    os.umask(umask)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(environ)
    sys.argv = argv
    return plugin


def _die_with_caller(conn: socket.socket) -> None:
    """The shim never writes after the call: EOF means it is gone (killed)."""
    with contextlib.suppress(OSError):
        conn.recv(1)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
