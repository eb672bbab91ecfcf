"""`ecs-bridge-ctl status` on real namespaces: containers attached with `ecs-bridge-ctl
add`, then broken by hand; every break reported, exit status 1."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ecs_bridge.adapters.netns_ids import NetlinkNetnsIds
from tests.e2e.bridgekit import bridge_config, veths_on
from tests.e2e.conftest import Netns
from tests.e2e.ctlkit import attach, ctl, status


def kinds(report: dict[str, object]) -> list[str]:
    return [p["kind"] for p in report["problems"]]  # type: ignore[attr-defined]


def test_status_shows_each_veth_with_its_containers_namespace_and_owner(
    host_ns: Netns, make_netns: Callable[[str], Netns], tmp_path: Path,
) -> None:
    ctr1, ctr2 = make_netns("ctr"), make_netns("ctr")
    attach(host_ns, ctr1, tmp_path, "task-1", "c1")
    attach(host_ns, ctr2, tmp_path, "task-2", "c2")
    # a second "host" with its own container, listed first in /run/netns: their
    # interfaces have the same indexes, so only namespace ids tell the peers apart
    decoy_host, decoy_ctr = make_netns("a-decoy"), make_netns("a-decoy")
    attach(decoy_host, decoy_ctr, tmp_path / "decoy", "task-9", "c9")

    code, report = status(host_ns, tmp_path)
    assert code == 0, report["problems"]
    assert report["bridge"]["addresses"] == ["169.254.172.1/22"]
    seen = {v["attachment"]["containerID"]: (v["peer"], v["owners"]) for v in report["veths"]}
    assert seen == {
        "c1": ({"netns": ctr1.path, "ifname": "eth0", "addresses": ["169.254.172.2/22"]},
               ["task-1"]),
        "c2": ({"netns": ctr2.path, "ifname": "eth0", "addresses": ["169.254.172.3/22"]},
               ["task-2"]),
    }
    shown = ctl(host_ns, tmp_path, "status", "--bridge", "ecs-br0")
    assert shown.returncode == 0
    assert "0 problem(s)" in shown.stdout
    assert ctr1.path in shown.stdout


def test_status_reports_a_released_allocation_a_foreign_bridge_address_and_a_lost_veth(
    host_ns: Netns, make_netns: Callable[[str], Netns], tmp_path: Path,
) -> None:
    ctr1, ctr2 = make_netns("ctr"), make_netns("ctr")
    attach(host_ns, ctr1, tmp_path, "task-1", "c1")
    attach(host_ns, ctr2, tmp_path, "task-2", "c2")

    assert ctl(host_ns, tmp_path, "ipam", "release", "--id", "task-2").returncode == 0
    code, report = status(host_ns, tmp_path)
    assert (code, kinds(report)) == (1, ["veth-without-allocation"])
    [veth2] = [v["name"] for v in report["veths"] if v["attachment"]["containerID"] == "c2"]
    assert veth2 in report["problems"][0]["message"]

    host_ns.ip("addr", "add", "169.254.99.1/24", "dev", "ecs-br0")
    code, report = status(host_ns, tmp_path)
    assert (code, kinds(report)) == (1, ["veth-without-allocation",
                                         "bridge-address-not-gateway"])
    assert "169.254.99.1/24" in report["problems"][1]["message"]

    ctr1.ip("link", "del", "eth0")
    code, report = status(host_ns, tmp_path)
    assert code == 1
    assert "allocation-without-veth" in kinds(report)
    human = ctl(host_ns, tmp_path, "status", "--bridge", "ecs-br0")
    assert human.returncode == 1
    assert "169.254.172.2 of 'task-1' (c1/eth0) has no host veth on 'ecs-br0'" in human.stdout


@pytest.fixture
def unnamed_netns(host_ns: Netns) -> Iterator[str]:
    """A namespace only a process holds (as a task's pause container holds its own):
    its path is /proc/<pid>/ns/net."""
    holder = subprocess.Popen(["ip", "netns", "exec", host_ns.name, "unshare", "--net",
                               "sleep", "600"])
    path = f"/proc/{holder.pid}/ns/net"
    try:
        host_inode = os.stat(host_ns.path).st_ino
        deadline = time.monotonic() + 10
        while os.stat(path).st_ino == host_inode or os.readlink(
                f"/proc/{holder.pid}/exe").endswith("/ip"):
            assert time.monotonic() < deadline, "the holder never entered its namespace"
            time.sleep(0.02)
        yield path
    finally:
        holder.kill()
        holder.wait()


def test_status_finds_a_container_namespace_that_has_no_name(
    host_ns: Netns, unnamed_netns: str, tmp_path: Path,
) -> None:
    run = ctl(host_ns, tmp_path, "add", "--netns", unnamed_netns, "--container-id", "c1",
              stdin=json.dumps(bridge_config()))
    assert run.returncode == 0, run.stderr
    code, report = status(host_ns, tmp_path)
    assert code == 0, report["problems"]
    [veth] = report["veths"]
    assert veth["peer"] == {"netns": unnamed_netns, "ifname": "eth0",
                            "addresses": ["169.254.172.2/22"]}
    assert isinstance(veth["peerNetnsId"], int)
    assert [v["ifname"] for v in veths_on(host_ns, "ecs-br0")] == [veth["name"]]


def test_namespace_ids_of_paths_that_are_no_namespace_are_none(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # must not hang the open
    (tmp_path / "file").write_text("")
    ids = NetlinkNetnsIds()
    try:
        assert [ids.of(str(tmp_path / name)) for name in ("fifo", "file", "missing")] == [
            None, None, None]
    finally:
        ids.close()
