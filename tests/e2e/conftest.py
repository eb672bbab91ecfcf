"""Fixtures for root-only tests: throwaway network namespaces, always removed,
the installed executables, and an `ip -j` observer independent of our adapters."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

from ecs_bridge.cli import helper

pytestmark = pytest.mark.e2e

BIN_DIR = Path(sys.executable).parent
"""Where `make install` put the console scripts (the venv's bin)."""

_counter = itertools.count()


def _can_use_netns() -> str:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs iproute2"
    probe = f"ecsbt-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


_NETNS_PROBLEM = _can_use_netns()


@pytest.fixture(scope="session", autouse=True)
def _private_helper_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Plugins run by this session use a helper of their own (see cli/shim.py), which
    is stopped at the end, so tests never meet a helper of other code or leave one."""
    directory = tmp_path_factory.mktemp("helper")
    directory.chmod(0o700)
    os.environ["ECS_BRIDGE_HELPER_DIR"] = str(directory)
    yield directory
    helper.stop(str(directory))


@pytest.fixture(autouse=True)
def _needs_root_and_netns() -> None:
    if _NETNS_PROBLEM:
        pytest.skip(_NETNS_PROBLEM)


@frozen
class Netns:
    """A namespace this test made: `name` for `ip -n`, `path` for CNI_NETNS."""

    name: str

    @property
    def path(self) -> str:
        return f"/run/netns/{self.name}"

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "-n", self.name, *args], capture_output=True, text=True,
                              check=check)

    def ip_json(self, *args: str) -> Any:
        """`ip -j -n NAME ARGS` parsed: the independent observer of kernel state."""
        out = self.ip("-j", *args).stdout
        return json.loads(out) if out.strip() else []

    def snapshot(self) -> dict[str, Any]:
        """Links, addresses and routes (both families), for before/after comparisons."""
        links = [_without_timers(link) for link in self.ip_json("-d", "link", "show")]
        return {
            "links": links,
            "addrs": self.ip_json("addr", "show"),
            "routes4": self.ip_json("-4", "route", "show", "table", "all"),
            "routes6": self.ip_json("-6", "route", "show", "table", "all"),
        }

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        """Run a command inside this namespace (as a runtime runs a plugin in the host ns)."""
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], **kwargs)


def _without_timers(value: Any) -> Any:
    """Drop what changes by itself between two reads (bridge timers, counters)."""
    if isinstance(value, dict):
        return {k: _without_timers(v) for k, v in value.items()
                if not k.endswith("_timer") and k not in ("stats", "stats64")}
    if isinstance(value, list):
        return [_without_timers(v) for v in value]
    return value


@pytest.fixture
def make_netns() -> Iterator[Callable[[str], Netns]]:
    """Create uniquely named namespaces; all are deleted at teardown, pass or fail."""
    made: list[Netns] = []

    def make(role: str = "ns") -> Netns:
        ns = Netns(f"ecsbt-{role[:6]}-{os.getpid()}-{next(_counter)}")
        subprocess.run(["ip", "netns", "add", ns.name], check=True, capture_output=True)
        made.append(ns)
        ns.ip("link", "set", "lo", "up")
        return ns

    yield make
    for ns in made:
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)


@pytest.fixture
def host_ns(make_netns: Callable[[str], Netns]) -> Netns:
    """The namespace playing the host: the plugin process runs in it."""
    return make_netns("host")


@pytest.fixture
def container_ns(make_netns: Callable[[str], Netns]) -> Netns:
    return make_netns("ctr")


def wait_for_helper(timeout: float = 20.0) -> None:
    """Until this session's helper accepts calls (the first call only starts it)."""
    directory = Path(os.environ["ECS_BRIDGE_HELPER_DIR"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in directory.glob("*.sock"):
            with socket.socket(socket.AF_UNIX) as probe, contextlib.suppress(OSError):
                probe.connect(str(path))
                return
        time.sleep(0.05)
    pytest.fail(f"no helper listening in {directory} after {timeout} s")


def helper_env() -> dict[str, str]:
    """The ECS_BRIDGE_* settings of this session, for environments built from scratch."""
    return {k: v for k, v in os.environ.items() if k.startswith("ECS_BRIDGE_")}


@frozen
class PluginRun:
    returncode: int
    stdout: bytes
    stderr: bytes

    def json(self) -> Any:
        return json.loads(self.stdout)


def exec_plugin(
    exe: str | Path,
    *,
    env: Mapping[str, str],
    stdin: bytes | str | Mapping[str, Any],
    netns: Netns | None = None,
    timeout: float = 60,
) -> PluginRun:
    """Exec a plugin as a runtime does: the CNI variables in a clean environment,
    the config on stdin, optionally inside `netns` (the "host")."""
    if isinstance(stdin, Mapping):
        stdin = json.dumps(stdin)
    data = stdin.encode() if isinstance(stdin, str) else stdin
    full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                **helper_env(), **env}
    argv = [str(exe)]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns.name, *argv]
    proc = subprocess.run(argv, input=data, env=full_env, capture_output=True, timeout=timeout)
    return PluginRun(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cni_bin(tmp_path: Path) -> Path:
    """A CNI_PATH directory holding this project's plugins (and the reference
    host-local, when installed), as a runtime's plugin directory would."""
    d = tmp_path / "cni-bin"
    d.mkdir()
    for name in ("ecs-bridge", "ecs-ipam"):
        if (BIN_DIR / name).exists():
            (d / name).symlink_to(BIN_DIR / name)
    for name in ("host-local", "bridge", "tuning"):
        ref = Path("/usr/lib/cni") / name
        if ref.exists():
            (d / name).symlink_to(ref)
    return d


@pytest.fixture(scope="session")
def libcni_driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/e2e/libcni_driver built against Debian's libcni in GOPATH mode."""
    if shutil.which("go") is None or not Path(GOPATH_CNI).exists():
        pytest.skip("needs golang-go and golang-github-appc-cni-dev (make deps)")
    out = tmp_path_factory.mktemp("libcni") / "libcni-driver"
    source = Path(__file__).parent / "libcni_driver" / "main.go"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode",
           "GOCACHE": str(out.parent / "gocache"), "GOFLAGS": ""}
    built = subprocess.run(["go", "build", "-o", str(out), str(source)], env=env,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return out


GOPATH_CNI = "/usr/share/gocode/src/github.com/containernetworking/cni/libcni"
