"""The exec protocol shared by both plugins, driven in-process with a toy plugin."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

from ecs_bridge.cli import cni
from ecs_bridge.domain.errors import CniError
from ecs_bridge.domain.versions import SUPPORTED_VERSIONS

CONFIG = {"cniVersion": "1.0.0", "name": "net", "type": "toy"}
ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x",
       "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}
seen: list[cni.Request] = []


def _handle(request: cni.Request) -> dict[str, Any] | None:
    seen.append(request)
    if request.config.get("fail"):
        raise CniError(int(request.config["fail"]), "asked to fail", "details here")
    if request.config.get("crash"):
        raise RuntimeError("boom")
    return {"cniVersion": request.version, "ips": []} if request.env.command == "ADD" else None


TOY = cni.Plugin(name="toy", default_log_file="/nonexistent-dir/toy.log",
                 required_env={"ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME")},
                 handle=_handle)


class FakeStdin(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


def call(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         *, env: dict[str, str], stdin: bytes | object, argv: list[str] | None = None,
         ) -> tuple[int, Any, str]:
    for key in [*ENV, "CNI_ARGS", "ECS_CNI_LOG_FILE"]:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    data = stdin if isinstance(stdin, bytes) else json.dumps(stdin).encode()
    monkeypatch.setattr("sys.stdin", FakeStdin(io.BytesIO(data)))
    seen.clear()
    with pytest.raises(SystemExit) as exit_:
        cni.run(TOY, argv or [], terminate=sys.exit)
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), json.loads(out) if out.strip() else None, err


Fixture = tuple[pytest.MonkeyPatch, pytest.CaptureFixture[str]]


@pytest.fixture
def io_(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Fixture:
    return monkeypatch, capsys


def test_add_prints_the_plugins_result_and_exits_zero(io_: Fixture) -> None:
    code, out, _ = call(*io_, env=ENV, stdin=CONFIG)
    assert (code, out) == (0, {"cniVersion": "1.0.0", "ips": []})
    assert seen[0].env.ifname == "eth0"


def test_del_success_prints_nothing(io_: Fixture) -> None:
    code, out, _ = call(*io_, env={**ENV, "CNI_COMMAND": "DEL"}, stdin=CONFIG)
    assert (code, out) == (0, None)


def test_version_lists_every_supported_version(io_: Fixture) -> None:
    code, out, _ = call(*io_, env={"CNI_COMMAND": "VERSION"}, stdin={"cniVersion": "0.4.0"})
    assert code == 0
    assert out == {"cniVersion": "0.4.0", "supportedVersions": list(SUPPORTED_VERSIONS)}


def test_no_command_prints_the_versions_on_stderr(io_: Fixture) -> None:
    code, out, err = call(*io_, env={}, stdin=b"")
    assert (code, out) == (0, None)
    assert "1.1.0" in err


@pytest.mark.parametrize(
    ("env", "stdin", "code", "named"),
    [
        (ENV, {**CONFIG, "cniVersion": "0.5.0"}, 1, '"0.5.0"'),
        (ENV, {**CONFIG, "cniVersion": 1}, 6, "1"),
        ({**ENV, "CNI_COMMAND": "CHECK"}, {**CONFIG, "cniVersion": "0.3.1"}, 1, "CHECK"),
        ({**ENV, "CNI_COMMAND": "GC"}, CONFIG, 1, "GC"),
        ({**ENV, "CNI_COMMAND": "STATUS"}, {**CONFIG, "cniVersion": "0.4.0"}, 1, "STATUS"),
        ({**ENV, "CNI_COMMAND": "BOGUS"}, CONFIG, 4, "BOGUS"),
        ({**ENV, "CNI_NETNS": ""}, CONFIG, 4, "CNI_NETNS"),
        (ENV, b"{not json", 6, "unmarshall"),
        (ENV, b"[1, 2]", 6, "not a JSON object"),
        (ENV, b"\xff\xfe{}", 6, "not UTF-8"),
        (ENV, b" " * (cni.MAX_STDIN + 1), 6, "larger than"),
        (ENV, {**CONFIG, "name": "bad name"}, 7, "'bad name'"),
        (ENV, {**CONFIG, "args": "IP=1.2.3.4"}, 7, "args must be an object"),
        (ENV, {**CONFIG, "runtimeConfig": []}, 7, "runtimeConfig must be an object"),
        (ENV, {**CONFIG, "prevResult": 5}, 7, "prevResult must be an object"),
        ({**ENV, "CNI_ARGS": "IgnoreUnknown"}, CONFIG, 4, "'IgnoreUnknown'"),
        (ENV, {**CONFIG, "fail": 11}, 11, "asked to fail"),
        (ENV, {**CONFIG, "crash": True}, 999, "boom"),
    ],
)
def test_failures_print_one_cni_error_object_and_exit_one(
    io_: Fixture, env: dict[str, str], stdin: object, code: int, named: str
) -> None:
    status, out, _ = call(*io_, env=env, stdin=stdin)
    assert status == 1
    assert out["code"] == code
    assert set(out) <= {"cniVersion", "code", "msg", "details"}
    assert named in out["msg"] + out.get("details", "")


def test_the_error_object_carries_the_configs_version(io_: Fixture) -> None:
    _, out, _ = call(*io_, env=ENV, stdin={**CONFIG, "cniVersion": "0.3.0", "fail": 7})
    assert out == {"cniVersion": "0.3.0", "code": 7, "msg": "asked to fail",
                   "details": "details here"}


@pytest.mark.parametrize("flag", ["--capabilities", "-capabilities"])
def test_capabilities_flag_answers_the_ecs_agent(io_: Fixture, flag: str) -> None:
    code, out, _ = call(*io_, env={}, stdin=b"", argv=[flag])
    assert (code, out) == (0, {"capabilities": ["awsvpc-network-mode"]})


@pytest.mark.parametrize("flag", ["--version", "-version"])
def test_version_flag_prints_one_json_line(io_: Fixture, flag: str) -> None:
    code, out, _ = call(*io_, env={}, stdin=b"", argv=[flag])
    assert code == 0
    assert set(out) == {"version", "dirty", "gitShortHash"}
    assert out["dirty"] is False


def test_an_unwritable_log_file_never_fails_the_call(io_: Fixture, tmp_path: Any) -> None:
    env = {**ENV, "ECS_CNI_LOG_FILE": str(tmp_path / "missing-dir" / "x.log")}
    code, _, _ = call(*io_, env=env, stdin=CONFIG)
    assert code == 0


def test_the_log_file_gets_a_line_with_context(io_: Fixture, tmp_path: Any) -> None:
    log = tmp_path / "x.log"
    call(*io_, env={**ENV, "ECS_CNI_LOG_FILE": str(log)}, stdin={**CONFIG, "fail": 7})
    line = log.read_text()
    assert "ERROR" in line
    assert "containerID=c1" in line
    assert "netns=/run/netns/x" in line
    assert oct(log.stat().st_mode & 0o777) == "0o640"
