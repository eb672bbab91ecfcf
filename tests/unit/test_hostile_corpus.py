"""The hostile-input corpus (tests/hostile_corpus.py) in-process: each call that ecs-bridge
or ecs-ipam refuses before the kernel gets its CNI code and an error naming the bad
value, and leaves no file behind. The same table runs exec'd as root, in namespaces, in
tests/e2e/test_hostile_input.py."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

from ecs_bridge.adapters.ipam_exec import DELEGATE_MARK
from ecs_bridge.cli import bridge_main, cni, ipam_main
from tests.hostile_corpus import BASE_CONFIG, CORPUS, Hostile

IN_PROCESS = [case for case in CORPUS if case.layer != "kernel"]
NOT_RUN = "unit corpus: the IPAM plugin must not run"


class _Stdin(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


class _NoKernel:
    """Stands in for the kernel: in-process cases must be refused before any netlink."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the hostile call reached the kernel ({name})")


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(bridge_main, "_kernel", _NoKernel)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    os.mkfifo(scratch / "fifo")
    cni_bin = tmp_path / "cni-bin"
    cni_bin.mkdir()
    ipam = cni_bin / "ecs-ipam"  # found on CNI_PATH, and fails loudly if ever run
    ipam.write_text(f"#!/bin/sh\necho '{{\"code\": 999, \"msg\": \"{NOT_RUN}\"}}'\nexit 1\n")
    ipam.chmod(0o755)
    return {"netns": "/run/netns/ecs-hostile-unit", "live_netns": "/run/netns/ecs-hostile-live",
            "cni_path": str(cni_bin), "db": str(tmp_path / "db" / "ipam.db"),
            "tmp": str(scratch)}


def serve(plugin: cni.Plugin, env: dict[str, str], stdin: bytes,
          monkeypatch: pytest.MonkeyPatch) -> tuple[int, Any]:
    monkeypatch.setattr("sys.stdin", _Stdin(io.BytesIO(stdin)))
    status, out = cni.serve(plugin, env, cni._read_stdin)  # the executable's own stdin read
    return status, json.loads(out) if out else None


def test_the_corpus_is_big_and_its_names_are_unique() -> None:
    assert len(CORPUS) >= 40
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", IN_PROCESS, ids=[case.name for case in IN_PROCESS])
def test_a_hostile_call_gets_its_code_and_an_error_naming_the_bad_value(
    case: Hostile, places: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin = bridge_main.PLUGIN if case.layer == "bridge" else ipam_main.PLUGIN
    env = {**case.environment(places), "ECS_CNI_LOG_FILE": str(tmp_path / "plugin.log")}
    before = sorted(p.name for p in tmp_path.rglob("*"))

    status, error = serve(plugin, env, case.stdin_bytes(), monkeypatch)

    assert status == 1
    assert set(error) <= {"cniVersion", "code", "msg", "details"}
    assert (error["code"], NOT_RUN not in error["msg"]) == (case.code, True), error
    assert case.named.format(**places) in error["msg"] + error.get("details", ""), error
    # No database, no directory: only the log file may be new.
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert [name for name in after if name not in before] == ["plugin.log"]
    assert Path(places["tmp"], "fifo").is_fifo()


def test_ecs_bridge_exec_d_as_an_ipam_plugin_refuses_before_reading_its_config(
    places: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ipam.type "ecs-bridge" made each ecs-bridge exec the next, without end; the
    # mark ExecIpam sets on an exec'd IPAM plugin stops the second one.
    env = {**Hostile("x", 0, "", "bridge").environment(places), DELEGATE_MARK: "1",
           "ECS_CNI_LOG_FILE": str(tmp_path / "plugin.log")}
    config = {**BASE_CONFIG, "ipam": {**BASE_CONFIG["ipam"], "type": "ecs-bridge"}}
    status, error = serve(bridge_main.PLUGIN, env, json.dumps(config).encode(), monkeypatch)
    assert (status, error["code"]) == (1, 7)
    assert "ecs-bridge was exec'd as the IPAM plugin" in error["msg"]
