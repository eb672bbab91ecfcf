"""The installed `ecs-ipam`, exec'd with env + stdin: results in every CNI version,
the ECS agent's calls, and the error objects of every failure path."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ecs_bridge.domain.versions import SUPPORTED_VERSIONS, at_least
from tests.e2e.conftest import exec_plugin
from tests.e2e.ipam_support import (
    ECS_IPAM,
    agent_config,
    agent_del,
    cni_env,
    db_rows,
    error_of,
    run_ipam,
)


def expected_result(version: str) -> dict[str, Any]:
    address, gateway, route = "169.254.172.2/22", "169.254.172.1", {"dst": "169.254.170.2/32"}
    if not at_least(version, "0.3.0"):
        return {"cniVersion": version, "ip4": {"ip": address, "gateway": gateway,
                                               "routes": [route]}, "dns": {}}
    ip: dict[str, Any] = {"address": address, "gateway": gateway}
    if not at_least(version, "1.0.0"):
        ip = {"version": "4", **ip}
    return {"cniVersion": version, "ips": [ip], "routes": [route], "dns": {}}


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_add_prints_the_result_in_the_configs_version(tmp_path: Path, version: str) -> None:
    run = run_ipam(tmp_path, "ADD", agent_config(version))
    assert (run.returncode, run.stderr) == (0, b"")
    assert run.json() == expected_result(version)


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_dual_stack_lists_ipv4_first_in_every_version(tmp_path: Path, version: str) -> None:
    config = agent_config(version, **{"ipv6-subnet": "fd00:ec2::172:0/112",
                                      "ipv6-routes": [{"dst": "fd00:ec2::254/128"}]})
    out = run_ipam(tmp_path, "ADD", config).json()
    if at_least(version, "0.3.0"):
        assert [ip["address"] for ip in out["ips"]] == ["169.254.172.2/22", "fd00:ec2::172:2/112"]
        assert [r["dst"] for r in out["routes"]] == ["169.254.170.2/32", "fd00:ec2::254/128"]
        assert "interfaces" not in out
        assert all("interface" not in ip for ip in out["ips"])
    else:
        assert out["ip4"]["ip"] == "169.254.172.2/22"
        assert out["ip6"] == {"ip": "fd00:ec2::172:2/112", "gateway": "fd00:ec2::172:1",
                              "routes": [{"dst": "fd00:ec2::254/128"}]}


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_del_and_check_print_nothing_on_success(tmp_path: Path, version: str) -> None:
    config = agent_config(version)
    assert run_ipam(tmp_path, "ADD", config).returncode == 0
    if at_least(version, "0.4.0"):
        check = run_ipam(tmp_path, "CHECK", config)
        assert (check.returncode, check.stdout) == (0, b"")
    else:
        assert error_of(run_ipam(tmp_path, "CHECK", config))["code"] == 1
    delete = run_ipam(tmp_path, "DEL", config)
    assert (delete.returncode, delete.stdout) == (0, b"")


def test_the_ecs_agents_own_del_releases_by_id_without_container_or_netns(
    tmp_path: Path,
) -> None:
    config = agent_config()
    assert run_ipam(tmp_path, "ADD", config).returncode == 0
    run = agent_del(tmp_path, config)
    assert (run.returncode, run.stdout) == (0, b"")
    db = tmp_path / "data" / "eni-ipam.db"
    assert db_rows(db, "SELECT owner FROM allocations WHERE gateway = 0") == []
    assert agent_del(tmp_path, config).returncode == 0  # again: nothing to release, success


def test_del_before_any_add_succeeds_without_creating_the_database(tmp_path: Path) -> None:
    run = agent_del(tmp_path, agent_config())
    assert (run.returncode, run.stdout) == (0, b"")
    assert not (tmp_path / "data").exists()
    config = agent_config()
    del config["ipam"]["id"]
    assert error_of(agent_del(tmp_path, config))["code"] == 7  # still checked


def test_a_retried_add_returns_the_same_address_and_a_new_id_gets_the_next(
    tmp_path: Path,
) -> None:
    first = run_ipam(tmp_path, "ADD", agent_config()).json()
    again = run_ipam(tmp_path, "ADD", agent_config()).json()
    other = run_ipam(tmp_path, "ADD", agent_config(id="other-task")).json()
    assert first == again
    assert other["ips"][0]["address"] == "169.254.172.3/22"


def test_without_ipam_id_the_container_id_owns_the_address(tmp_path: Path) -> None:
    config = agent_config()
    del config["ipam"]["id"]
    assert run_ipam(tmp_path, "ADD", config, CNI_CONTAINERID="ctr-a").returncode == 0
    assert run_ipam(tmp_path, "ADD", config, CNI_CONTAINERID="ctr-b").json()["ips"][0][
        "address"] == "169.254.172.3/22"
    assert run_ipam(tmp_path, "DEL", config, CNI_CONTAINERID="ctr-a").returncode == 0
    db = tmp_path / "data" / "eni-ipam.db"
    assert db_rows(db, "SELECT owner, container_id, ifname, network FROM allocations "
                       "WHERE gateway = 0") == [("ctr-b", "ctr-b", "ecs-eth0", "network-name")]


def test_an_exact_address_from_the_agent_is_honoured(tmp_path: Path) -> None:
    out = run_ipam(tmp_path, "ADD", agent_config(**{"ipv4-address": "169.254.172.77/22"}))
    assert out.json()["ips"][0]["address"] == "169.254.172.77/22"


ERRORS: list[tuple[str, Any, dict[str, str], int, str]] = [
    # (what, config, env overrides, code, text the message must contain)
    ("bad subnet", agent_config(**{"ipv4-subnet": "169.254.0.0/31"}), {}, 7, "169.254.0.0/31"),
    ("v6 value in v4 field", agent_config(**{"ipv4-subnet": "fd00::/64"}), {}, 7, "fd00::/64"),
    ("no ipam", {"cniVersion": "0.3.0", "name": "n", "type": "ecs-bridge"}, {}, 7, '"ipam"'),
    ("id not a string", agent_config(id=12), {}, 7, "ipam.id"),
    ("no container id on ADD", agent_config(), {"CNI_CONTAINERID": ""}, 3, "containerID"),
    ("bad timeout", agent_config(), {"IPAM_DB_CONNECTION_TIMEOUT": "5 seconds"}, 4,
     "'5 seconds'"),
    ("relative db path", agent_config(), {"IPAM_DB_PATH": "data/ipam.db"}, 4, "'data/ipam.db'"),
    ("not JSON", "{not json", {}, 6, "unmarshall"),
    ("unknown version", agent_config("0.9.9"), {}, 1, "incompatible CNI versions"),
]


@pytest.mark.parametrize(("config", "env", "code", "needle"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_a_failed_add_prints_the_error_object_and_exits_non_zero(
    tmp_path: Path, config: Any, env: dict[str, str], code: int, needle: str
) -> None:
    err = error_of(run_ipam(tmp_path, "ADD", config, **env))
    assert err["code"] == code
    assert needle in err["msg"] + err.get("details", "")


def test_an_exhausted_pool_is_error_102(tmp_path: Path) -> None:
    small = {"ipv4-subnet": "10.9.0.0/30"}  # one container address
    assert run_ipam(tmp_path, "ADD", agent_config(**small)).returncode == 0
    err = error_of(run_ipam(tmp_path, "ADD", agent_config(id="second", **small)))
    assert err["code"] == 102
    assert "no available address" in err["msg"]


def test_an_address_held_by_another_id_is_error_103(tmp_path: Path) -> None:
    exact = {"ipv4-address": "169.254.172.9/22"}
    assert run_ipam(tmp_path, "ADD", agent_config(**exact)).returncode == 0
    err = error_of(run_ipam(tmp_path, "ADD", agent_config(id="thief", **exact)))
    assert err["code"] == 103
    assert "169.254.172.9" in err["msg"]


def test_del_naming_nothing_to_release_is_error_7(tmp_path: Path) -> None:
    config = agent_config()
    del config["ipam"]["id"]
    err = error_of(agent_del(tmp_path, config))
    assert err["code"] == 7
    assert "CNI_CONTAINERID is empty" in err["msg"]


def test_check_of_an_id_holding_nothing_is_error_105_naming_id_and_subnet(
    tmp_path: Path,
) -> None:
    err = error_of(run_ipam(tmp_path, "CHECK", agent_config("1.0.0")))
    assert err["code"] == 105
    assert "'0a:1b:2c:3d:4e:5f'" in err["msg"]
    assert "169.254.172.0/22" in err["msg"]


def test_version_lists_every_supported_version(tmp_path: Path) -> None:
    run = exec_plugin(ECS_IPAM, env={"CNI_COMMAND": "VERSION"}, stdin={"cniVersion": "0.4.0"})
    assert run.json() == {"cniVersion": "0.4.0", "supportedVersions": list(SUPPORTED_VERSIONS)}


@pytest.mark.parametrize("flag", ["--capabilities", "-capabilities"])
def test_capabilities_flag_answers_the_ecs_agent(flag: str) -> None:
    run = subprocess.run([str(ECS_IPAM), flag], capture_output=True, timeout=60)
    assert run.returncode == 0
    assert json.loads(run.stdout) == {"capabilities": ["awsvpc-network-mode"]}


def test_operations_are_logged_to_ecs_cni_log_file(tmp_path: Path) -> None:
    run_ipam(tmp_path, "ADD", agent_config())
    agent_del(tmp_path, agent_config())
    log = (tmp_path / "ipam.log").read_text()
    assert "holding 169.254.172.2/22 for 0a:1b:2c:3d:4e:5f" in log
    assert "ADD succeeded" in log
    assert "released 169.254.172.2 of 0a:1b:2c:3d:4e:5f" in log


def test_an_unwritable_log_location_does_not_fail_the_operation(tmp_path: Path) -> None:
    run = exec_plugin(ECS_IPAM, stdin=agent_config(), env=cni_env(
        tmp_path, "ADD", ECS_CNI_LOG_FILE=str(tmp_path / "missing-dir" / "x.log")))
    assert run.returncode == 0


def test_status_is_silent_success_when_the_database_is_usable(tmp_path: Path) -> None:
    run = run_ipam(tmp_path, "STATUS", agent_config("1.1.0"))
    assert (run.returncode, run.stdout) == (0, b"")


def test_status_is_error_50_when_the_database_is_not_ecs_ipams(tmp_path: Path) -> None:
    db = tmp_path / "data" / "eni-ipam.db"
    db.parent.mkdir()
    db.write_bytes(b"not a database" * 10)
    err = error_of(run_ipam(tmp_path, "STATUS", agent_config("1.1.0")))
    assert err["code"] == 50
    assert str(db) in err["msg"]


def test_gc_releases_what_no_valid_attachment_holds_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    for n in range(3):
        added = run_ipam(tmp_path, "ADD", agent_config("1.1.0", id=f"task-{n}"),
                         CNI_CONTAINERID=f"ctr-{n}")
        assert added.returncode == 0, added.stdout
    valid = [{"containerID": "ctr-1", "ifname": "ecs-eth0"},
             {"containerID": "ctr-2", "ifname": "other-if"}]
    gc = run_ipam(tmp_path, "GC", {**agent_config("1.1.0"), "cni.dev/valid-attachments": valid})
    assert (gc.returncode, gc.stdout) == (0, b"")
    db = tmp_path / "data" / "eni-ipam.db"
    assert db_rows(db, "SELECT owner FROM allocations WHERE gateway = 0") == [("task-1",)]
    assert db_rows(db, "SELECT count(*) FROM allocations WHERE gateway = 1") == [(1,)]


def test_gc_of_another_network_name_touches_nothing(tmp_path: Path) -> None:
    assert run_ipam(tmp_path, "ADD", agent_config("1.1.0")).returncode == 0
    other = {**agent_config("1.1.0"), "name": "another-network",
             "cni.dev/valid-attachments": []}
    assert run_ipam(tmp_path, "GC", other).returncode == 0
    db = tmp_path / "data" / "eni-ipam.db"
    assert db_rows(db, "SELECT count(*) FROM allocations WHERE gateway = 0") == [(1,)]
