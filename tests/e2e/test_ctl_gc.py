"""`ecs-bridge-ctl ipam gc` on real namespaces: live containers and stale allocations
side by side; only the stale ones go, nothing live is touched."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.bridgekit import global_addrs
from tests.e2e.conftest import BIN_DIR, Netns, exec_plugin
from tests.e2e.ctlkit import attach, ctl, ctl_env, status, write_config


def held(host: Netns, tmp_path: Path) -> dict[str, str]:
    """address -> owner ("" for a gateway), read with `ipam ls --json`."""
    run = ctl(host, tmp_path, "ipam", "ls", "--json")
    assert run.returncode == 0, run.stderr
    return {a["address"]: a["owner"] for a in json.loads(run.stdout)}


def leak(tmp_path: Path, owner: str) -> None:
    """An address held with no veth at all: ecs-ipam ADD by hand, as a runtime whose
    bridge ADD then died would leave it."""
    env = {**ctl_env(tmp_path), "CNI_COMMAND": "ADD", "CNI_CONTAINERID": f"ctr-{owner}",
           "CNI_NETNS": "/run/netns/none", "CNI_IFNAME": "eth0", "CNI_PATH": str(BIN_DIR)}
    config = json.loads(write_config(tmp_path, owner).read_text())
    run = exec_plugin(BIN_DIR / "ecs-ipam", env=env, stdin=config)
    assert run.returncode == 0, run.stdout


def gc(host: Netns, tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    run = ctl(host, tmp_path, "ipam", "gc", "--json", *args)
    return run.returncode, json.loads(run.stdout or "[]"), run.stderr


def test_gc_releases_only_the_owners_no_veth_serves(
    host_ns: Netns, make_netns: Callable[[str], Netns], tmp_path: Path,
) -> None:
    live1, live2, gone = make_netns("ctr"), make_netns("ctr"), make_netns("ctr")
    attach(host_ns, live1, tmp_path, "task-1", "c1")
    attach(host_ns, gone, tmp_path, "task-2", "c2")
    attach(host_ns, live2, tmp_path, "task-3", "c3")
    leak(tmp_path, "task-4")
    gone.ip("link", "del", "eth0")  # the container went without a DEL
    before = held(host_ns, tmp_path)
    assert sorted(before.values()) == ["", "task-1", "task-2", "task-3", "task-4"]

    # everything is seconds old: the default minimum age protects ADDs in flight
    code, plan, err = gc(host_ns, tmp_path)
    assert code == 0, err
    assert {(p["owner"], p["action"]) for p in plan} == {("task-2", "kept: too young"),
                                                         ("task-4", "kept: too young")}
    code, plan, err = gc(host_ns, tmp_path, "--min-age", "0s", "--dry-run")
    assert code == 0, err
    assert {(p["owner"], p["action"]) for p in plan} == {("task-2", "would release"),
                                                         ("task-4", "would release")}
    assert held(host_ns, tmp_path) == before

    code, plan, err = gc(host_ns, tmp_path, "--min-age", "0s")
    assert code == 0, err
    assert sorted(p["owner"] for p in plan) == ["task-2", "task-4"]
    after = held(host_ns, tmp_path)
    assert after == {a: o for a, o in before.items() if o not in ("task-2", "task-4")}
    assert "" in after.values()  # the gateway's reservation stays
    for ctr, owner in ((live1, "task-1"), (live2, "task-3")):
        [address] = [a for a, o in after.items() if o == owner]
        assert global_addrs(ctr, "eth0") == [f"{address}/22"]
    assert status(host_ns, tmp_path)[0] == 0


def test_gc_keep_spares_an_owner_and_a_second_gc_finds_nothing(
    host_ns: Netns, container_ns: Netns, tmp_path: Path,
) -> None:
    attach(host_ns, container_ns, tmp_path, "task-1", "c1")
    leak(tmp_path, "task-8")
    leak(tmp_path, "task-9")
    code, plan, _ = gc(host_ns, tmp_path, "--min-age", "0s", "--keep", "task-9")
    assert code == 0
    assert {(p["owner"], p["action"]) for p in plan} == {("task-8", "released"),
                                                         ("task-9", "kept: --keep")}
    code, plan, _ = gc(host_ns, tmp_path, "--min-age", "0s", "--keep", "task-9")
    assert (code, [p["action"] for p in plan]) == (0, ["kept: --keep"])
    assert sorted(held(host_ns, tmp_path).values()) == ["", "task-1", "task-9"]


def test_gc_refuses_when_a_veth_on_the_bridge_cannot_be_placed(
    host_ns: Netns, container_ns: Netns, make_netns: Callable[[str], Netns], tmp_path: Path,
) -> None:
    attach(host_ns, container_ns, tmp_path, "task-1", "c1")
    leak(tmp_path, "task-9")
    # a veth on the bridge with no alias, its peer in a namespace that only an open file
    # descriptor keeps alive: no path leads there, so whose it is cannot be told
    hidden = make_netns("hidden")
    host_ns.ip("link", "add", "vethforeign", "type", "veth", "peer", "name", "eth0",
               "netns", hidden.name)
    host_ns.ip("link", "set", "vethforeign", "master", "ecs-br0")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_FD, hidden.path],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        subprocess.run(["ip", "netns", "del", hidden.name], check=True)
        code, _, err = gc(host_ns, tmp_path, "--min-age", "0s")
        assert code == 1
        assert err.startswith("error 3: cannot tell whose these veths are: vethforeign "
                              "(no cni: alias, peer in namespace id ")
        assert "task-9" in held(host_ns, tmp_path).values()
        code, plan, err = gc(host_ns, tmp_path, "--min-age", "0s", "--force")
        assert (code, [p["owner"] for p in plan]) == (0, ["task-9"]), err
    finally:
        holder.kill()
        holder.wait()


HOLD_FD = "import os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); " \
          "print('holding', flush=True); time.sleep(600)"
