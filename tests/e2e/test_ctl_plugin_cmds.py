"""`ecs-bridge-ctl add | check | del` run the installed ecs-bridge on real namespaces."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.bridgekit import global_addrs, link, veths_on
from tests.e2e.conftest import Netns
from tests.e2e.ctlkit import ctl, write_config


def test_add_check_del_round_trip_as_a_runtime_runs_it(
    host_ns: Netns, container_ns: Netns, tmp_path: Path,
) -> None:
    conf = write_config(tmp_path, "task-1")
    where = ("--conf", str(conf), "--netns", container_ns.name, "--container-id", "c1")

    added = ctl(host_ns, tmp_path, "add", *where, "--cni-version", "1.0.0", "--json")
    assert added.returncode == 0, added.stderr
    result = json.loads(added.stdout)
    assert result["cniVersion"] == "1.0.0"
    assert global_addrs(container_ns, "eth0") == ["169.254.172.2/22"]
    prev = tmp_path / "add.json"
    prev.write_text(added.stdout)

    checked = ctl(host_ns, tmp_path, "check", *where, "--cni-version", "1.0.0",
                  "--prev-result", str(prev))
    assert (checked.returncode, checked.stdout) == (
        0, f"CHECK passed: eth0 in {container_ns.path}\n"), checked.stderr

    container_ns.ip("addr", "del", "169.254.172.2/22", "dev", "eth0")
    broken = ctl(host_ns, tmp_path, "check", *where, "--cni-version", "1.0.0",
                 "--prev-result", str(prev))
    assert broken.returncode == 1
    assert broken.stderr.startswith("error 106: container interface 'eth0': lacks address "
                                    "169.254.172.2/22")

    deleted = ctl(host_ns, tmp_path, "del", *where)
    assert (deleted.returncode, deleted.stdout) == (
        0, f"DEL succeeded: eth0 in {container_ns.path}\n"), deleted.stderr
    assert link(container_ns, "eth0") is None
    assert veths_on(host_ns, "ecs-br0") == []
    assert ctl(host_ns, tmp_path, "del", *where).returncode == 0  # DEL is idempotent


def test_add_shows_a_readable_result_and_errors_are_one_line(
    host_ns: Netns, container_ns: Netns, tmp_path: Path,
) -> None:
    conf = write_config(tmp_path, "task-1")
    added = ctl(host_ns, tmp_path, "add", "--conf", str(conf), "--netns", container_ns.path,
                "--container-id", "c1")
    assert added.returncode == 0, added.stderr
    assert "169.254.172.2/22  169.254.172.1  2" in added.stdout
    again = ctl(host_ns, tmp_path, "add", "--conf", str(conf), "--netns", container_ns.path,
                "--container-id", "c1")
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1
    assert again.stderr.startswith("error 4: CNI_IFNAME 'eth0' already exists in CNI_NETNS")
    bad = write_config(tmp_path, "task-2", **{"ipv4-subnet": "169.254.172.0/31"})
    refused = ctl(host_ns, tmp_path, "add", "--conf", str(bad), "--netns", container_ns.path,
                  "--container-id", "c2", "--ifname", "eth1")
    assert refused.returncode == 1
    assert refused.stderr == ("error 7: IPAM plugin ecs-ipam ADD failed: ipam.ipv4-subnet "
                              "'169.254.172.0/31' is too small to allocate from: the prefix "
                              "length must be at most /30\n")
