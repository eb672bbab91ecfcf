"""CHECK on the real kernel: an untouched attachment passes; each thing ADD built,
removed or changed in turn, fails CHECK with a message naming it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bridgekit import bridge_config, cni_env, run_bridge, veths_on
from tests.e2e.conftest import Netns


def _added(host: Netns, ctr: Netns, cni_bin: Path, tmp_path: Path,
           version: str = "1.0.0") -> tuple[dict[str, str], dict[str, Any]]:
    env = cni_env(ctr, tmp_path, cni_bin)
    config = bridge_config(version=version)
    added = run_bridge(cni_bin, host, env, config)
    assert added.returncode == 0, added.stdout
    return env, {**config, "prevResult": added.json()}


def _check(host: Netns, cni_bin: Path, env: dict[str, str], config: dict[str, Any]) -> Any:
    return run_bridge(cni_bin, host, {**env, "CNI_COMMAND": "CHECK"}, config)


def _release(host: Netns, ctr: Netns, cni_bin: Path, env: dict[str, str],
             config: dict[str, Any]) -> None:
    released = subprocess.run([str(cni_bin / "ecs-ipam")], input=json.dumps(config).encode(),
                              env={**env, "CNI_COMMAND": "DEL"}, capture_output=True)
    assert released.returncode == 0


BREAKAGES: dict[str, tuple[Callable[..., Any], str]] = {
    "container address flushed": (
        lambda h, c, *_: c.ip("addr", "flush", "dev", "eth0"), "lacks address 169.254.172.2/22"),
    "container route deleted": (
        lambda h, c, *_: c.ip("route", "del", "169.254.170.2/32"),
        "lacks route to 169.254.170.2/32"),
    "container interface down": (
        lambda h, c, *_: c.ip("link", "set", "eth0", "down"), "is down"),
    "host veth down": (
        lambda h, c, *_: h.ip("link", "set", veths_on(h, "ecs-br0")[0]["ifname"], "down"),
        "is down"),
    "host veth detached": (
        lambda h, c, *_: h.ip("link", "set", veths_on(h, "ecs-br0")[0]["ifname"], "nomaster"),
        "is not attached to bridge 'ecs-br0'"),
    "bridge address deleted": (
        lambda h, c, *_: h.ip("addr", "del", "169.254.172.1/22", "dev", "ecs-br0"),
        "lacks gateway address 169.254.172.1/22"),
    "allocation released": (_release, "holds no address"),
}


def test_check_passes_on_an_untouched_attachment(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env, config = _added(host_ns, container_ns, cni_bin, tmp_path)
    checked = _check(host_ns, cni_bin, env, config)
    assert (checked.returncode, checked.stdout) == (0, b"")


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_check_fails_naming_what_was_broken(
    case: str, host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env, config = _added(host_ns, container_ns, cni_bin, tmp_path)
    breakage, named = BREAKAGES[case]
    breakage(host_ns, container_ns, cni_bin, env, config)
    checked = _check(host_ns, cni_bin, env, config)
    assert checked.returncode == 1
    error = checked.json()
    assert named in error["msg"] + " " + error.get("details", ""), error


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0", "0.3.0", "0.3.1"])
def test_check_with_a_config_older_than_0_4_0_is_error_1(
    version: str, host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin, command="CHECK")
    checked = run_bridge(cni_bin, host_ns, env, bridge_config(version=version))
    assert checked.returncode == 1
    assert checked.json()["code"] == 1
    assert "CHECK" in checked.json()["msg"]


def test_add_as_a_chained_plugin_keeps_the_previous_result(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "tap0"}],
            "ips": [{"address": "2001:db8::9/64", "interface": 0}], "dns": {}}
    env = cni_env(container_ns, tmp_path, cni_bin)
    added = run_bridge(cni_bin, host_ns, env,
                       {**bridge_config(version="1.0.0"), "prevResult": prev})
    assert added.returncode == 0, added.stdout
    result = added.json()
    assert [i["name"] for i in result["interfaces"]][:2] == ["tap0", "ecs-br0"]
    assert result["ips"][0] == {"address": "2001:db8::9/64", "interface": 0}
    assert result["ips"][1]["interface"] == 3
