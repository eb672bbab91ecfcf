"""ecs-bridge as runtimes see it: every CNI version, VERSION, host-local as the IPAM
plugin, 20 ADDs at once, and a lean process that never stays in the container."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ecs_bridge.domain.versions import SUPPORTED_VERSIONS
from tests.e2e.bridgekit import (
    allocations,
    bridge_config,
    cni_env,
    global_addrs,
    link,
    run_bridge,
    veths_on,
)
from tests.e2e.conftest import Netns, exec_plugin


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_the_result_is_printed_in_the_configs_version(
    version: str, host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin)
    config = bridge_config(version=version, ipam={
        "type": "ecs-ipam", "id": "t", "cniVersion": version,
        "ipv4-subnet": "169.254.172.0/22", "ipv4-routes": [{"dst": "169.254.170.2/32"}]})
    added = run_bridge(cni_bin, host_ns, env, config)
    assert added.returncode == 0, added.stdout
    result = added.json()
    assert result["cniVersion"] == version
    if version in ("0.1.0", "0.2.0"):
        assert result["ip4"]["ip"] == "169.254.172.2/22"
        assert result["ip4"]["gateway"] == "169.254.172.1"
        assert {"dst": "169.254.170.2/32", "gw": "169.254.172.1"} in result["ip4"]["routes"]
        return
    names = [i["name"] for i in result["interfaces"]]
    assert names[0] == "ecs-br0"
    assert names[1] == veths_on(host_ns, "ecs-br0")[0]["ifname"]
    assert result["interfaces"][2] == {"name": "eth0", "mac": "0a:58:a9:fe:ac:02",
                                       "sandbox": container_ns.path}
    assert result["interfaces"][0]["mac"] == link(host_ns, "ecs-br0")["address"]  # type: ignore[index]
    [ip] = result["ips"]
    assert ip["address"] == "169.254.172.2/22"
    assert ip["gateway"] == "169.254.172.1"
    assert ip["interface"] == 2
    assert ("version" in ip) == (version < "1.0.0")


def test_version_reports_every_supported_version(cni_bin: Path) -> None:
    out = exec_plugin(cni_bin / "ecs-bridge", env={"CNI_COMMAND": "VERSION"},
                      stdin={"cniVersion": "1.0.0"})
    assert out.returncode == 0
    assert out.json() == {"cniVersion": "1.0.0", "supportedVersions": list(SUPPORTED_VERSIONS)}


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_host_local_works_as_the_ipam_plugin(
    version: str, host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    if not (cni_bin / "host-local").exists():
        pytest.fail("host-local missing: `make test` installs containernetworking-plugins")
    env = cni_env(container_ns, tmp_path, cni_bin)
    config = bridge_config(version=version, ipam={
        "type": "host-local", "subnet": "169.254.172.0/22", "dataDir": str(tmp_path / "hl"),
        "routes": [{"dst": "169.254.170.2/32"}]})
    added = run_bridge(cni_bin, host_ns, env, config)
    assert added.returncode == 0, added.stdout + added.stderr
    assert global_addrs(container_ns, "eth0") == ["169.254.172.2/22"]
    assert global_addrs(host_ns, "ecs-br0") == ["169.254.172.1/22"]
    assert (tmp_path / "hl" / "ecs-net" / "169.254.172.2").exists()
    deleted = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "DEL"}, config)
    assert deleted.returncode == 0, deleted.stdout
    assert not (tmp_path / "hl" / "ecs-net" / "169.254.172.2").exists()
    assert link(container_ns, "eth0") is None


def test_twenty_adds_at_once_share_one_new_bridge(
    host_ns: Netns, make_netns: Callable[[str], Netns], cni_bin: Path, tmp_path: Path
) -> None:
    containers = [make_netns(f"c{i}") for i in range(20)]
    procs = []
    for i, ctr in enumerate(containers):
        env = cni_env(ctr, tmp_path, cni_bin, container_id=f"ctr-{i}")
        config = json.dumps(bridge_config(ipam={
            "type": "ecs-ipam", "id": f"task-{i}", "ipv4-subnet": "169.254.172.0/22"}))
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", host_ns.name, str(cni_bin / "ecs-bridge")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env}))
        assert procs[-1].stdin is not None
        procs[-1].stdin.write(config.encode())
    for proc in procs:  # all started and fed: now let them all go at once
        assert proc.stdin is not None
        proc.stdin.close()
    outputs = [(p.wait(timeout=120), p.stdout.read() if p.stdout else b"") for p in procs]
    assert [rc for rc, _ in outputs] == [0] * 20, outputs
    bridges = [x for x in host_ns.ip_json("-d", "link", "show")
               if x.get("linkinfo", {}).get("info_kind") == "bridge"]
    assert [b["ifname"] for b in bridges] == ["ecs-br0"]
    assert len(veths_on(host_ns, "ecs-br0")) == 20
    addresses = {json.loads(out)["ips"][0]["address"] for _, out in outputs}
    assert len(addresses) == 20
    for ctr in containers:
        [address] = global_addrs(ctr, "eth0")
        assert address in addresses
    assert len([r for r in allocations(Path(tmp_path / "ipam" / "ipam.db"))
                if any(str(v).startswith("task-") for v in r)]) == 20


MODULE_DUMP = """
import os, sys
target = sys.argv[1]
real_exit = os._exit
def dump_and_exit(status):  # the plugin ends with os._exit, which skips atexit
    with open(target, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
    real_exit(status)
os._exit = dump_and_exit
sys.argv = ["ecs-bridge"]
from ecs_bridge.cli.bridge_main import main
main()
"""


def test_an_add_imports_neither_typer_nor_anything_unused(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "modules.txt"
    env = cni_env(container_ns, tmp_path, cni_bin)
    proc = host_ns.run([sys.executable, "-c", MODULE_DUMP, str(dump)],
                       input=json.dumps(bridge_config()).encode(), capture_output=True,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    modules = set(dump.read_text().split())
    assert "ecs_bridge.domain.bridge" in modules
    assert not {m for m in modules if m.split(".")[0] in ("typer", "click", "rich")}
