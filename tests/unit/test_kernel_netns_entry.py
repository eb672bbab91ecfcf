"""The one way into a namespace (`netns_entry.connect_in`), with setns(2) stubbed:
the thread always goes home, cannot-go-home aborts, and no descriptor leaks."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys

import pytest

from ecs_bridge.adapters import netns_entry
from ecs_bridge.domain.errors import KernelError, NamespaceNotFound

NS_FILE = "/proc/self/ns/net"


class Aborted(Exception):
    """Stands in for os.abort(), which would end the test run."""


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _stub_setns(monkeypatch: pytest.MonkeyPatch, *results: int) -> list[int]:
    """setns(2) answering 0 (success) or an errno per call; returns the fds it saw."""
    seen: list[int] = []
    answers = iter(results)

    def setns(fd: int) -> None:
        seen.append(fd)
        code = next(answers)
        if code:
            raise OSError(code, os.strerror(code))

    monkeypatch.setattr(netns_entry, "_setns", setns)
    return seen


@pytest.fixture
def no_abort(monkeypatch: pytest.MonkeyPatch) -> None:
    def abort() -> None:
        raise Aborted

    monkeypatch.setattr(os, "abort", abort)


def test_entering_and_returning_gives_an_open_namespace_fd_and_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _stub_setns(monkeypatch, 0, 0)
    ns_fd, sock = netns_entry.connect_in(NS_FILE)
    try:
        assert len(seen) == 2
        assert seen[0] == ns_fd != seen[1]  # in with the namespace, out with another fd
        assert sock.family == socket.AF_NETLINK
    finally:
        sock.close()
        os.close(ns_fd)


def test_the_thread_goes_home_even_when_the_socket_cannot_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _stub_setns(monkeypatch, 0, 0)
    before = _open_fds()

    def no_socket(*args: object) -> None:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(socket, "socket", no_socket)
    with pytest.raises(KernelError, match="Too many open files"):
        netns_entry.connect_in(NS_FILE)
    assert len(seen) == 2
    assert _open_fds() == before


@pytest.mark.usefixtures("no_abort")
def test_failing_to_go_home_aborts_the_process(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    _stub_setns(monkeypatch, 0, errno.EPERM)
    with pytest.raises(Aborted):
        netns_entry.connect_in(NS_FILE)
    assert "fatal: cannot return from network namespace" in capfd.readouterr().err


@pytest.mark.parametrize(("code", "expected"), [
    (errno.EINVAL, NamespaceNotFound),
    (errno.EPERM, KernelError),
])
def test_a_refused_setns_stays_home_and_leaks_nothing(
    monkeypatch: pytest.MonkeyPatch, code: int, expected: type[KernelError]
) -> None:
    seen = _stub_setns(monkeypatch, code)
    before = _open_fds()
    with pytest.raises(expected) as raised:
        netns_entry.connect_in(NS_FILE)
    assert type(raised.value) is expected
    assert len(seen) == 1  # never left, so no way back needed
    assert _open_fds() == before


@pytest.mark.parametrize("path", ["/run/netns/ecsbt-never-made", "/etc/hostname/x"])
def test_a_missing_path_is_namespace_not_found_with_code_3_before_any_setns(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    seen = _stub_setns(monkeypatch)
    with pytest.raises(NamespaceNotFound) as raised:
        netns_entry.connect_in(path)
    assert raised.value.code == 3
    assert seen == []


def test_importing_the_netlink_adapter_leaves_pyroute2_unimported() -> None:
    code = ("import sys, ecs_bridge.adapters.netlink; "
            "print(any(m.startswith('pyroute2') for m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
