"""`ecs-bridge-ctl add | del | check` exec the plugin the config names, as a runtime
does: a stub plugin on a temporary CNI path records what it was given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.ctl_support import FakeHost

CONFIG = {"cniVersion": "0.3.0", "name": "ecs-net", "type": "stub", "bridge": "ecs-br0",
          "ipam": {"type": "ecs-ipam", "id": "task-1", "ipv4-subnet": "169.254.172.0/22"}}
RESULT = {"cniVersion": "0.3.0",
          "interfaces": [{"name": "ecs-br0", "mac": "02:00:00:00:00:01"},
                         {"name": "veth00000001", "mac": "02:00:00:00:00:02"},
                         {"name": "eth0", "mac": "0a:58:a9:fe:ac:02",
                          "sandbox": "/run/netns/task1"}],
          "ips": [{"version": "4", "address": "169.254.172.2/22",
                   "gateway": "169.254.172.1", "interface": 2}],
          "routes": [{"dst": "169.254.170.2/32", "gw": "169.254.172.1"}], "dns": {}}


class Stub:
    """An executable `stub` in `bin` that records its stdin and environment and prints
    `answer` on ADD, exiting with `status`."""

    def __init__(self, tmp_path: Path) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.dir = tmp_path
        self.answer(RESULT)
        script = self.bin / "stub"
        script.write_text(f"#!/bin/sh\ncat > {tmp_path}/stdin\nenv > {tmp_path}/env\n"
                          f"cat {tmp_path}/answer\nexit $(cat {tmp_path}/status)\n")
        script.chmod(0o755)
        self.conf = tmp_path / "net.conf"
        self.conf.write_text(json.dumps(CONFIG))

    def answer(self, obj: Any, *, status: int = 0, raw: str | None = None) -> None:
        (self.dir / "answer").write_text(raw if raw is not None else json.dumps(obj))
        (self.dir / "status").write_text(str(status))

    def stdin(self) -> Any:
        return json.loads((self.dir / "stdin").read_text())

    def env(self) -> dict[str, str]:
        lines = (self.dir / "env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def stub(tmp_path: Path) -> Stub:
    return Stub(tmp_path)


def ctl(stub: Stub, *args: str, stdin: str | None = None) -> Any:
    return FakeHost().ctl(*args, stdin=stdin, scripts_dir=stub.bin)


def test_add_execs_the_configs_plugin_with_the_cni_variables_and_the_config(stub: Stub) -> None:
    run = ctl(stub, "add", "--conf", str(stub.conf), "--netns", "task1",
              "--container-id", "c1", "--ifname", "ecs-eth0", "--db", "/tmp/x/ipam.db")
    assert run.exit_code == 0, run.stderr
    env = stub.env()
    assert {k: env[k] for k in env if k.startswith("CNI_") or k == "IPAM_DB_PATH"} == {
        "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/task1",
        "CNI_IFNAME": "ecs-eth0", "CNI_PATH": str(stub.bin), "IPAM_DB_PATH": "/tmp/x/ipam.db"}
    assert stub.stdin() == CONFIG


def test_add_shows_the_result_as_tables(stub: Stub) -> None:
    run = ctl(stub, "add", "--conf", str(stub.conf), "--netns", "/run/netns/task1",
              "--container-id", "c1")
    rows = [line.split() for line in run.stdout.splitlines()]
    assert rows[0] == ["ADD", "succeeded", "(CNI", "0.3.0):", "eth0", "in", "/run/netns/task1"]
    assert ["2", "eth0", "0a:58:a9:fe:ac:02", "/run/netns/task1"] in rows
    assert ["169.254.172.2/22", "169.254.172.1", "2"] in rows
    assert ["169.254.170.2/32", "169.254.172.1"] in rows


def test_add_json_prints_the_plugins_result_unchanged(stub: Stub) -> None:
    run = ctl(stub, "add", "--conf", str(stub.conf), "--netns", "x", "--json")
    assert json.loads(run.stdout) == RESULT


def test_cni_version_overrides_the_configs_and_the_config_may_come_on_stdin(
    stub: Stub,
) -> None:
    stub.answer({**RESULT, "cniVersion": "1.0.0"})
    run = ctl(stub, "add", "--netns", "x", "--cni-version", "1.0.0", stdin=json.dumps(CONFIG))
    assert run.exit_code == 0, run.stderr
    assert stub.stdin() == {**CONFIG, "cniVersion": "1.0.0"}


def test_a_plugin_error_is_one_line_with_its_code(stub: Stub) -> None:
    stub.answer({"cniVersion": "0.3.0", "code": 7, "msg": "bridge name \"a b\" is bad",
                 "details": "no blanks"}, status=1)
    run = ctl(stub, "add", "--conf", str(stub.conf), "--netns", "x")
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr == 'error 7: bridge name "a b" is bad: no blanks\n'


def test_a_plugin_failing_without_an_error_object_is_reported_with_its_status(
    stub: Stub,
) -> None:
    stub.answer(None, status=2, raw="Traceback ...")
    run = ctl(stub, "del", "--conf", str(stub.conf))
    assert run.exit_code == 1
    assert run.stderr == ("error 999: stub DEL failed with exit status 2 and no CNI error "
                          "object: Traceback ...\n")


def test_del_and_check_send_their_command_and_check_sends_prev_result(
    stub: Stub, tmp_path: Path,
) -> None:
    stub.answer(None, raw="")
    run = ctl(stub, "del", "--conf", str(stub.conf), "--netns", "x")
    assert (run.exit_code, run.stdout) == (0, "DEL succeeded: eth0 in /run/netns/x\n")
    assert stub.env()["CNI_COMMAND"] == "DEL"
    prev = tmp_path / "add.json"
    prev.write_text(json.dumps(RESULT))
    run = ctl(stub, "check", "--conf", str(stub.conf), "--netns", "x", "--cni-version",
              "1.0.0", "--prev-result", str(prev))
    assert (run.exit_code, run.stdout) == (0, "CHECK passed: eth0 in /run/netns/x\n")
    assert stub.env()["CNI_COMMAND"] == "CHECK"
    assert stub.stdin() == {**CONFIG, "cniVersion": "1.0.0", "prevResult": RESULT}


def test_a_plugin_missing_from_the_cni_path_is_error_4_naming_the_path(stub: Stub) -> None:
    run = ctl(stub, "add", "--conf", str(stub.conf), "--cni-path", "/nope:/nada")
    assert run.exit_code == 1
    assert run.stderr.startswith("error 4: no executable 'stub' in --cni-path '/nope:/nada'")


@pytest.mark.parametrize(("text", "error"), [
    ("{not json", "error 6: {conf} is not JSON: Expecting property name enclosed in double "
                  "quotes: line 1 column 2 (char 1)"),
    ("[1, 2]", "error 6: network config in {conf} is not a JSON object: found list"),
    ('{"cniVersion": "0.3.0"}', "error 7: network config type '' does not name a plugin"),
    ('{"type": "../stub"}', "error 7: network config type '../stub' does not name a plugin"),
])
def test_a_bad_config_is_refused_before_any_exec(stub: Stub, text: str, error: str) -> None:
    stub.conf.write_text(text)
    run = ctl(stub, "add", "--conf", str(stub.conf))
    assert (run.exit_code, run.stderr) == (1, error.format(conf=stub.conf) + "\n")
    assert not (stub.dir / "stdin").exists()


def test_an_unreadable_config_file_is_error_5(stub: Stub) -> None:
    run = ctl(stub, "add", "--conf", str(stub.dir / "missing.conf"))
    assert (run.exit_code, run.stderr) == (
        1, f"error 5: cannot read {stub.dir}/missing.conf: No such file or directory\n")
