"""`ecs-bridge-ctl ipam ls | release | gc` on the fake kernel and the in-memory store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecs_bridge.adapters.sqlite_store import SqliteStore
from ecs_bridge.cli.ctl.context import open_sqlite_store
from ecs_bridge.domain.errors import CniError
from tests.unit.ctl_support import NOW, V6, FakeHost
from tests.unit.ipam_support import alloc

GATEWAY = ("169.254.172.1", "")


def test_ls_lists_every_address_with_family_owner_and_since() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1", families=("ipv4", "ipv6"))
    run = host.ctl("ipam", "ls")
    assert run.exit_code == 0
    rows = [line.split() for line in run.stdout.splitlines()]
    assert rows[0] == ["ADDRESS", "FAMILY", "OWNER", "SINCE", "ATTACHMENT", "SUBNET"]
    assert rows[1:] == [
        ["169.254.172.1", "ipv4", "(gateway)", "2027-01-15T08:00:00Z", "-", "169.254.172.0/22"],
        ["169.254.172.2", "ipv4", "task-1", "2027-01-15T08:00:00Z", "c1/eth0",
         "169.254.172.0/22"],
        ["2001:db8:172::1", "ipv6", "(gateway)", "2027-01-15T08:00:00Z", "-", V6],
        ["2001:db8:172::2", "ipv6", "task-1", "2027-01-15T08:00:00Z", "c1/eth0", V6],
    ]


def test_ls_json_is_one_object_per_allocation() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    listed = json.loads(host.ctl("ipam", "ls", "--json").stdout)
    assert listed[1] == {"address": "169.254.172.2", "family": "ipv4",
                         "subnet": "169.254.172.0/22", "owner": "task-1", "gateway": False,
                         "containerID": "c1", "ifname": "eth0", "network": "",
                         "since": "2027-01-15T08:00:00Z"}


def test_ls_of_an_empty_database_says_so() -> None:
    run = FakeHost().ctl("ipam", "ls", "--db", "/nowhere/x.db")
    assert (run.exit_code, run.stdout) == (0, "no addresses held in /nowhere/x.db\n")


def test_release_by_id_frees_every_address_of_that_owner_only() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1", families=("ipv4", "ipv6"))
    host.attach("c2", owner="task-2")
    run = host.ctl("ipam", "release", "--id", "task-1")
    assert run.exit_code == 0
    assert "169.254.172.2" in run.stdout
    assert "2001:db8:172::2" in run.stdout
    assert host.held() == [GATEWAY, ("169.254.172.3", "task-2"), ("2001:db8:172::1", "")]


def test_release_by_address_frees_just_that_address() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1", families=("ipv4", "ipv6"))
    run = host.ctl("ipam", "release", "--address", "2001:db8:172::2", "--json")
    assert run.exit_code == 0
    assert [a["address"] for a in json.loads(run.stdout)] == ["2001:db8:172::2"]
    assert ("169.254.172.2", "task-1") in host.held()


def test_releasing_what_nobody_holds_succeeds_and_says_so() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    run = host.ctl("ipam", "release", "--address", "169.254.172.9")
    assert (run.exit_code, run.stdout) == (0, "nothing to release: 169.254.172.9 holds "
                                              "nothing\n")
    run = host.ctl("ipam", "release", "--id", "task-9")
    assert (run.exit_code, run.stdout) == (0, "nothing to release: id 'task-9' holds nothing\n")
    assert ("169.254.172.2", "task-1") in host.held()


def test_a_gateway_is_never_released() -> None:
    host = FakeHost()
    host.attach("c1", owner="task-1")
    run = host.ctl("ipam", "release", "--address", "169.254.172.1")
    assert run.exit_code == 1
    assert run.stderr == ("error 103: 169.254.172.1 is the gateway of 169.254.172.0/22; "
                          "gateway reservations are never released\n")
    assert GATEWAY in host.held()


def test_release_errors_name_the_bad_value() -> None:
    host = FakeHost()
    run = host.ctl("ipam", "release", "--address", "169.254.300.1")
    assert (run.exit_code, run.stderr) == (
        1, "error 7: --address '169.254.300.1' is not an IP address\n")
    run = host.ctl("ipam", "release")
    assert (run.exit_code, run.stderr) == (
        1, "error 7: ipam release needs either --id or --address, got neither\n")
    run = host.ctl("ipam", "release", "--id", "a", "--address", "169.254.172.2")
    assert run.exit_code == 1
    assert run.stderr.endswith("got both\n")


def _gc_host() -> FakeHost:
    """task-1 attached, `lost` held for an hour with no veth, `fresh` held 10 s ago."""
    host = FakeHost()
    host.attach("c1", owner="task-1")
    host.hold("169.254.172.50", "lost")
    host.hold("169.254.172.51", "fresh", at=NOW - 10)
    return host


def test_gc_dry_run_shows_what_it_would_release_and_changes_nothing() -> None:
    host = _gc_host()
    before = host.held()
    run = host.ctl("ipam", "gc", "--dry-run")
    assert run.exit_code == 0
    rows = {line.split()[0]: line.split()[-3:] for line in run.stdout.splitlines()[1:-1]}
    assert rows == {"169.254.172.50": ["169.254.172.0/22", "would", "release"],
                    "169.254.172.51": ["kept:", "too", "young"]}
    assert "would release 1 address(es) of 1 owner(s) (dry run: nothing changed)" in run.stdout
    assert host.held() == before


def test_gc_releases_only_owners_no_veth_serves_and_never_gateways() -> None:
    host = _gc_host()
    run = host.ctl("ipam", "gc", "--json")
    assert run.exit_code == 0
    assert [(a["address"], a["action"]) for a in json.loads(run.stdout)] == [
        ("169.254.172.50", "released"), ("169.254.172.51", "kept: too young")]
    assert host.held() == [GATEWAY, ("169.254.172.2", "task-1"), ("169.254.172.51", "fresh")]


def test_gc_min_age_zero_takes_young_owners_and_keep_spares_named_ones() -> None:
    host = _gc_host()
    run = host.ctl("ipam", "gc", "--min-age", "0", "--keep", "lost")
    assert run.exit_code == 0
    assert host.held() == [GATEWAY, ("169.254.172.2", "task-1"), ("169.254.172.50", "lost")]


def test_gc_keeps_an_owner_whose_other_address_is_attached() -> None:
    # task-1 held 169.254.172.50 under container c0 (a retried ADD by the same owner gets
    # its address back, still recorded under c0); its IPv6 address came with c1.
    host = FakeHost()
    host.hold("169.254.172.50", "task-1", container_id="c0")
    host.attach("c1", owner="task-1", families=("ipv4", "ipv6"))
    assert host.ctl("ipam", "gc", "--min-age", "0").exit_code == 0
    assert ("169.254.172.50", "task-1") in host.held()


def test_gc_refuses_when_a_veth_on_the_gateways_bridge_cannot_be_placed() -> None:
    host = _gc_host()
    [veth] = [link for link in host.host().list_links() if link.kind == "veth"]
    host.host().set_link(veth.name, alias="")
    host.kernel.namespaces.pop("/run/netns/c1")  # its peer is now under no path
    run = host.ctl("ipam", "gc")
    assert run.exit_code == 1
    assert run.stderr.startswith(f"error 3: cannot tell whose these veths are: {veth.name} "
                                 "(no cni: alias, peer in namespace id 0, found under no path)")
    assert "--force" in run.stderr
    assert ("169.254.172.50", "lost") in host.held()
    forced = host.ctl("ipam", "gc", "--force")
    assert forced.exit_code == 0
    assert ("169.254.172.50", "lost") not in host.held()


def test_gc_ignores_foreign_bridges_veths() -> None:
    host = _gc_host()
    host.kernel.add_namespace("/run/netns/docker-ctr")
    other = host.host()
    other.add_bridge("docker0", mtu=1500, mac="02:00:00:00:00:aa")
    other.add_veth("vethdocker", peer_name="eth0", peer_ns=host.kernel.open(
        "/run/netns/docker-ctr"), mtu=1500)
    other.set_link("vethdocker", master="docker0")
    host.kernel.namespaces.pop("/run/netns/docker-ctr")
    assert host.ctl("ipam", "gc").exit_code == 0


def test_gc_bad_min_age_names_the_value() -> None:
    run = FakeHost().ctl("ipam", "gc", "--min-age", "soon")
    assert (run.exit_code, run.stderr.splitlines()[0]) == (
        1, "error 4: --min-age 'soon' is not a duration: write it as Go does: \"5s\", "
           "\"500ms\", \"1m30s\"")


def test_gc_of_a_bridge_less_host_releases_every_old_owner() -> None:
    host = FakeHost()
    host.hold("169.254.172.50", "lost")
    assert host.ctl("ipam", "gc").exit_code == 0
    assert host.held() == []


def test_the_real_store_reads_a_database_and_never_creates_one(tmp_path: Path) -> None:
    missing = tmp_path / "data" / "eni-ipam.db"
    with open_sqlite_store(str(missing)) as store, store.transaction() as tx:
        assert tx.every_allocation() == []
    assert not missing.parent.exists()
    with SqliteStore.open(str(missing)) as made, made.transaction() as tx:
        tx.insert(alloc("169.254.172.2", "169.254.172.0/22", "task-1"))
    with open_sqlite_store(str(missing)) as store, store.transaction() as tx:
        assert [a.owner for a in tx.every_allocation()] == ["task-1"]


def test_a_database_path_that_cannot_be_looked_at_is_error_5(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(CniError, match=r"cannot read the IPAM database .*: Not a directory"), \
            open_sqlite_store(str(tmp_path / "file" / "x.db")):
        pass
