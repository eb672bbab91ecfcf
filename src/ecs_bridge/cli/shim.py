"""What `ecs-bridge` and `ecs-ipam` run: a stdlib-only shim in front of a warm helper.

A Python plugin pays its interpreter's start-up and its imports (pyroute2 alone
is about 90 ms) on every container start. The shim imports only the standard
library and hands the call to a resident helper (`cli.helper`) that has
everything imported already: over a root-only unix socket it passes its own
stdin, stdout and stderr, its network and mount namespaces, its environment,
working directory and umask. A worker forked from the helper adopts all of
these and runs the very same plugin code the shim would have run, writing its
answer straight to the runtime's pipes. The shim exits with the worker's status.

Whenever the helper cannot serve (not root, declined, gone before it started),
the shim runs the plugin itself: nothing about the answer depends on which way
it ran. A shim that finds no helper at all starts one for the calls to come and
runs its own call in-process; a shim that finds one starting (its lock held, not
yet listening: a burst on a cold host) waits for it, up to 2 s, so a burst is
served by one warm process instead of every call importing everything. Killing
the shim kills its worker (the worker watches the connection), so a runtime's
SIGKILL still stops the call.

`ECS_BRIDGE_HELPER=off` disables the helper; `ECS_BRIDGE_HELPER_DIR` moves its
socket (default /run/ecs-bridge); `ECS_BRIDGE_HELPER_IDLE` is the helper's idle
lifetime in seconds (default 600).
"""

from __future__ import annotations

import os
import sys

# Not `typing`: importing it costs this shim about 5 ms of its 15 (mypy reads the
# name TYPE_CHECKING as typing's). Nor `socket` or `json`: `_socket` and a plain
# NUL-separated call record cost a fraction of them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from _socket import socket
    from typing import NoReturn

__all__ = [
    "DECLINED",
    "STARTED",
    "bridge",
    "decode_call",
    "encode_call",
    "helper_dir",
    "ipam",
    "socket_path",
]

HELPER_SWITCH = "ECS_BRIDGE_HELPER"
HELPER_DIR = "ECS_BRIDGE_HELPER_DIR"
DEFAULT_DIR = "/run/ecs-bridge"
STARTED = b"S"
"""The worker adopted the call: from here on, only it may answer."""
DECLINED = b"D"
"""The helper will not serve this call; nothing was done."""
START_WAIT = 2.0
"""Seconds a shim waits for a starting helper before running the call itself."""
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bridge() -> NoReturn:
    _main("bridge")


def ipam() -> NoReturn:
    _main("ipam")


def _main(plugin: str) -> NoReturn:
    if (len(sys.argv) == 1 and os.environ.get("CNI_COMMAND") and os.geteuid() == 0
            and os.environ.get(HELPER_SWITCH, "on") != "off"):
        status = _via_helper(plugin)
        if status is not None:
            sys.exit(status)
    _in_process(plugin)


def _in_process(plugin: str) -> NoReturn:
    if plugin == "bridge":
        from ecs_bridge.cli.bridge_main import main  # noqa: PLC0415
    else:
        from ecs_bridge.cli.ipam_main import main  # noqa: PLC0415
    main()


def helper_dir() -> str:
    return os.environ.get(HELPER_DIR) or DEFAULT_DIR


def socket_path() -> str:
    """The helper's socket for this exact code: its name changes with the interpreter,
    the installed package and any change to its files, so a helper never serves a
    call with code older than the shim's."""
    newest = 0
    for root, _dirs, files in os.walk(_PACKAGE):
        for name in files:
            if name.endswith(".py"):
                newest = max(newest, os.stat(os.path.join(root, name)).st_mtime_ns)
    token = f"{sys.executable}\0{_PACKAGE}\0{newest}"
    return os.path.join(helper_dir(), f"helper-{_fnv1a(token.encode()):016x}.sock")


def _fnv1a(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _via_helper(plugin: str) -> int | None:
    """The worker's exit status, or None when the shim must run the plugin itself."""
    import _socket  # noqa: PLC0415 - only on this path

    path = socket_path()
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        try:
            conn.connect(path)
        except OSError:
            if not _wait_or_start(conn, path):
                return None
        if not _peer_is_root(conn):
            return None
        _send_call(conn, plugin)
        if conn.recv(1) != STARTED:
            return None  # declined, or gone before starting: nothing was done
        status = conn.recv(1)
    except OSError:
        return None
    finally:
        conn.close()
    if not status:
        _worker_died(plugin)
    return status[0]


def _peer_is_root(conn: socket) -> bool:
    import _socket  # noqa: PLC0415

    creds: bytes = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder) == 0


def encode_call(plugin: str, argv: list[str], environ: dict[str, str], cwd: str,
                umask: int) -> bytes:
    """The call record: NUL-separated fields (no C string holds a NUL): plugin, cwd,
    umask, the argv count, argv, then KEY=VALUE per environment variable."""
    fields = [plugin, cwd, str(umask), str(len(argv)), *argv,
              *(f"{key}={value}" for key, value in environ.items())]
    return "\0".join(fields).encode("utf-8", "surrogateescape")


def decode_call(data: bytes) -> tuple[str, list[str], dict[str, str], str, int]:
    """(plugin, argv, environment, cwd, umask) of a record `encode_call` made."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")
    plugin, cwd, umask, argc = fields[:4]
    argv = fields[4:4 + int(argc)]
    environ = dict(item.split("=", 1) for item in fields[4 + int(argc):] if "=" in item)
    return plugin, argv, environ, cwd, int(umask)


def _send_call(conn: socket, plugin: str) -> None:
    import _socket  # noqa: PLC0415

    umask = os.umask(0)
    os.umask(umask)
    call = encode_call(plugin, sys.argv, dict(os.environ), os.getcwd(), umask)
    namespaces = [os.open(f"/proc/thread-self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
                  for kind in ("net", "mnt")]
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2, *namespaces))
    try:
        conn.sendmsg([len(call).to_bytes(4, "big")],
                     [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    finally:
        for fd in namespaces:
            os.close(fd)
    conn.sendall(call)


def _worker_died(plugin: str) -> NoReturn:
    # The call was under way: running it again here could do it twice. Say so.
    sys.stdout.write(
        '{"cniVersion": "1.1.0", "code": 999, "msg": "internal error", "details": '
        f'"the ecs-{plugin} helper worker died before finishing the call"}}\n')
    sys.exit(1)


def _wait_or_start(conn: socket, path: str) -> bool:
    """No helper listens. If one holds the lock it is starting (a burst on a cold
    host): connect once it listens, within START_WAIT seconds. If none does, start
    one for the calls to come and let this call run in-process (False): a lone call
    is not kept waiting for a helper's start-up."""
    import fcntl  # noqa: PLC0415
    import time  # noqa: PLC0415

    try:
        lock = os.open(path + ".lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        lock = -1
    if lock >= 0:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            held = True
        else:
            held = False
        finally:
            os.close(lock)
    if lock < 0 or not held:
        _start_helper()
        return False
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.005)
        try:
            conn.connect(path)
            return True
        except OSError:
            continue
    return False


def _start_helper() -> None:
    """Start `cli.helper` detached (new session, no inherited descriptors). Many
    shims may race to do so; the helper's lock lets one of them serve."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 4096)
            env = {k: v for k, v in os.environ.items() if k.startswith("ECS_BRIDGE_")}
            env["PATH"] = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            os.execve(sys.executable, [sys.executable, "-m", "ecs_bridge.cli.helper"],  # noqa: S606
                      env)
    finally:
        os._exit(0)
