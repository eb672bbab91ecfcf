"""A failed ADD leaves both namespaces and the IPAM database as they were;
DEL succeeds whatever is already gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.bridgekit import (
    allocations,
    bridge_config,
    cni_env,
    fake_ipam,
    ipv4_ipam,
    link,
    run_bridge,
    veths_on,
)
from tests.e2e.conftest import Netns
from tests.kernel_contract import eventually

NO_GATEWAY = {"cniVersion": "0.3.0", "ips": [{"version": "4", "address": "169.254.172.9/22"}]}


def _seed_allocation(cni_bin: Path, host: Netns, ctr: Netns, tmp_path: Path) -> None:
    """One other container attached first, so the database is not empty."""
    env = cni_env(ctr, tmp_path, cni_bin, container_id="other", ifname="eth9")
    config = bridge_config(ipam=ipv4_ipam(id="other-task"), bridge="ecs-seed")
    assert run_bridge(cni_bin, host, env, config).returncode == 0


@pytest.mark.parametrize(
    ("case", "code", "named"),
    [
        ("ipam-not-on-cni-path", 101, "ecs-ipam-missing"),
        ("ipam-returns-an-error", 7, "169.254.200.5"),
        ("ipam-result-without-gateway", 101, "without a gateway"),
        ("ifname-exists-in-container", 4, "eth0"),
        ("netns-missing", 3, "/run/netns/ecsbt-does-not-exist"),
        ("bridge-name-taken-by-non-bridge", 104, "not a bridge"),
    ],
)
def test_a_failed_add_leaves_no_trace(
    case: str, code: int, named: str, host_ns: Netns, container_ns: Netns,
    make_netns: Callable[[str], Netns], cni_bin: Path, tmp_path: Path,
) -> None:
    _seed_allocation(cni_bin, host_ns, make_netns("seed"), tmp_path)
    env = cni_env(container_ns, tmp_path, cni_bin)
    config = bridge_config()
    if case == "ipam-not-on-cni-path":
        config = bridge_config(ipam=ipv4_ipam(type="ecs-ipam-missing"))
    elif case == "ipam-returns-an-error":
        config = bridge_config(ipam=ipv4_ipam(**{"ipv4-address": "169.254.200.5/22"}))
    elif case == "ipam-result-without-gateway":
        fake_ipam(cni_bin, "no-gateway-ipam", add_output=NO_GATEWAY)
        config = bridge_config(ipam={"type": "no-gateway-ipam"})
    elif case == "ifname-exists-in-container":
        container_ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0peer")
    elif case == "netns-missing":
        env["CNI_NETNS"] = "/run/netns/ecsbt-does-not-exist"
    elif case == "bridge-name-taken-by-non-bridge":
        host_ns.ip("link", "add", "ecs-br0", "type", "veth", "peer", "name", "ecs-br0peer")
    db = Path(env["IPAM_DB_PATH"])
    before = (host_ns.snapshot(), container_ns.snapshot(), allocations(db))

    added = run_bridge(cni_bin, host_ns, env, config)

    assert added.returncode == 1
    error = added.json()
    assert error["code"] == code, error
    assert named in error["msg"] + error.get("details", "")
    assert (host_ns.snapshot(), container_ns.snapshot(), allocations(db)) == before


def test_del_twice_in_a_row_succeeds(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin)
    assert run_bridge(cni_bin, host_ns, env, bridge_config()).returncode == 0
    for _ in range(2):
        deleted = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "DEL"}, bridge_config())
        assert (deleted.returncode, deleted.stdout) == (0, b"")
    assert link(container_ns, "eth0") is None
    assert veths_on(host_ns, "ecs-br0") == []


def test_del_without_a_prior_add_succeeds(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin, command="DEL")
    deleted = run_bridge(cni_bin, host_ns, env, bridge_config())
    assert (deleted.returncode, deleted.stdout) == (0, b"")


def test_del_after_the_container_namespace_was_deleted_releases_the_address(
    host_ns: Netns, make_netns: Callable[[str], Netns], cni_bin: Path, tmp_path: Path
) -> None:
    ctr = make_netns("gone")
    env = cni_env(ctr, tmp_path, cni_bin)
    assert run_bridge(cni_bin, host_ns, env, bridge_config()).returncode == 0
    ctr.ip("link", "show")  # still there
    import subprocess  # noqa: PLC0415

    subprocess.run(["ip", "netns", "del", ctr.name], check=True)
    deleted = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "DEL"}, bridge_config())
    assert (deleted.returncode, deleted.stdout) == (0, b"")
    # The pair goes with the namespace, once the kernel has torn it down: that
    # happens in a work queue after `ip netns del`, so it may take a moment under load.
    assert eventually(lambda: veths_on(host_ns, "ecs-br0") == [], timeout=30)
    assert not any("task-1" in map(str, r) for r in allocations(Path(env["IPAM_DB_PATH"])))


def test_del_succeeds_when_the_ipam_plugin_fails(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin)
    assert run_bridge(cni_bin, host_ns, env, bridge_config()).returncode == 0
    fake_ipam(cni_bin, "failing-ipam", fail=True)
    config = bridge_config(ipam={"type": "failing-ipam"})
    deleted = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "DEL"}, config)
    assert (deleted.returncode, deleted.stdout) == (0, b"")
    assert link(container_ns, "eth0") is None
    assert "fake ipam always fails" in (tmp_path / "plugins.log").read_text()


def test_del_with_empty_ipam_deletes_the_veth_and_keeps_the_allocation(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path
) -> None:
    env = cni_env(container_ns, tmp_path, cni_bin)
    assert run_bridge(cni_bin, host_ns, env, bridge_config()).returncode == 0
    deleted = run_bridge(cni_bin, host_ns, {**env, "CNI_COMMAND": "DEL"},
                         bridge_config(ipam={}))
    assert (deleted.returncode, deleted.stdout) == (0, b"")
    assert link(container_ns, "eth0") is None
    assert any("task-1" in map(str, r) for r in allocations(Path(env["IPAM_DB_PATH"])))
