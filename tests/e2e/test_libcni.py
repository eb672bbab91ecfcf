"""libcni 1.1 (the library runtimes use) is the judge: it drives both plugins
through AddNetworkList, CheckNetworkList, DelNetworkList, GetVersionInfo and
ValidateNetworkList, alone and chained before the reference `tuning` plugin."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bridgekit import allocations, global_addrs, ipv4_ipam, link, veths_on
from tests.e2e.conftest import Netns

LIBCNI_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"]


def drive(driver: Path, host: Netns, cni_bin: Path, tmp_path: Path, *args: str,
          ) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_PATH": str(cni_bin),
           "DRIVER_CACHE_DIR": str(tmp_path / "cache"),
           "IPAM_DB_PATH": str(tmp_path / "ipam.db"),
           "ECS_CNI_LOG_FILE": str(tmp_path / "plugins.log")}
    return subprocess.run(["ip", "netns", "exec", host.name, str(driver), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def conflist(tmp_path: Path, version: str, *, chain_tuning: bool = False) -> Path:
    plugins: list[dict[str, Any]] = [{"type": "ecs-bridge", "bridge": "ecs-br0", "mtu": 1500,
                                      "ipam": ipv4_ipam()}]
    if chain_tuning:
        plugins.append({"type": "tuning", "allmulti": True})
    path = tmp_path / "net.conflist"
    path.write_text(json.dumps({"cniVersion": version, "name": "ecs-net", "plugins": plugins}))
    return path


@pytest.mark.parametrize("version", LIBCNI_VERSIONS)
def test_libcni_adds_checks_and_deletes_a_network_list(
    version: str, libcni_driver: Path, host_ns: Netns, container_ns: Netns, cni_bin: Path,
    tmp_path: Path,
) -> None:
    conf = str(conflist(tmp_path, version))
    attachment = (container_ns.path, "eth0", "ctr-1")
    run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "validate", conf)
    assert run.returncode == 0, run.stderr

    run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "add", conf, *attachment)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["cniVersion"] == version
    assert global_addrs(container_ns, "eth0") == ["169.254.172.2/22"]

    if version >= "0.4.0":
        run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "check", conf, *attachment)
        assert run.returncode == 0, run.stderr
        container_ns.ip("addr", "flush", "dev", "eth0")
        run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "check", conf, *attachment)
        assert run.returncode != 0
        assert "169.254.172.2/22" in run.stderr

    run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "del", conf, *attachment)
    assert run.returncode == 0, run.stderr
    assert link(container_ns, "eth0") is None
    assert veths_on(host_ns, "ecs-br0") == []
    assert not any("task-1" in map(str, r) for r in allocations(tmp_path / "ipam.db"))


@pytest.mark.parametrize("plugin", ["ecs-bridge", "ecs-ipam"])
def test_libcni_reads_the_supported_versions(
    plugin: str, libcni_driver: Path, host_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "version", plugin)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [*LIBCNI_VERSIONS, "1.1.0"]


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"])
def test_a_list_with_tuning_after_ecs_bridge_adds_checks_and_deletes(
    version: str, libcni_driver: Path, host_ns: Netns, container_ns: Netns, cni_bin: Path,
    tmp_path: Path,
) -> None:
    if not (cni_bin / "tuning").exists():
        pytest.fail("tuning missing: `make test` installs containernetworking-plugins")
    conf = str(conflist(tmp_path, version, chain_tuning=True))
    attachment = (container_ns.path, "eth0", "ctr-1")
    run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "add", conf, *attachment)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["ips"][0]["address"] == "169.254.172.2/22"
    eth0 = link(container_ns, "eth0")
    assert eth0 is not None
    assert "ALLMULTI" in eth0["flags"]
    run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "check", conf, *attachment)
    assert run.returncode == 0, run.stderr
    run = drive(libcni_driver, host_ns, cni_bin, tmp_path, "del", conf, *attachment)
    assert run.returncode == 0, run.stderr
    assert link(container_ns, "eth0") is None
