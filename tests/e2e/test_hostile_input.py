"""The hostile-input corpus (tests/hostile_corpus.py) exec'd: the installed ecs-bridge,
run in a throwaway host namespace beside a live attachment, refuses every bad call with
its code and an error naming the bad value, and changes nothing: the host and both
container namespaces (links, addresses, routes), the IPAM database's rows and the files
of the state directory are what they were before the call."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

from tests.e2e.bridgekit import allocations, bridge_config, cni_env, ipv4_ipam, link, run_bridge
from tests.e2e.chaos import run_group
from tests.e2e.conftest import _NETNS_PROBLEM, BIN_DIR, Netns
from tests.hostile_corpus import CORPUS, LIVE_BRIDGE, LIVE_CONTAINER, NETWORK, Hostile

IPAM_EXEC = {"ECS_BRIDGE_IPAM_EXEC": "1"}
CASES = [pytest.param(case, {}, id=case.name) for case in CORPUS if case.e2e] + [
    pytest.param(case, IPAM_EXEC, id=f"{case.name} [ecs-ipam exec'd]")
    for case in CORPUS if case.e2e and case.layer == "ipam"]


@frozen
class World:
    host: Netns
    live: Netns
    """The namespace of an attachment made before the corpus runs."""
    target: Netns
    """An empty container namespace: where a hostile ADD would put its interface."""
    root: Path
    places: dict[str, str]

    @property
    def db(self) -> Path:
        return Path(self.places["db"])

    @property
    def log(self) -> Path:
        return self.root / "plugins.log"


def _files(root: Path) -> list[tuple[str, str]]:
    """Every path under the state directory with its type and mode (the log aside)."""
    return sorted((str(p.relative_to(root)), oct(p.lstat().st_mode))
                  for p in root.rglob("*") if p.name != "plugins.log")


def _state(world: World) -> tuple[Any, ...]:
    return (world.host.snapshot(), world.live.snapshot(), world.target.snapshot(),
            allocations(world.db), _files(world.root))


def _wait_for_dad(ns: Netns, timeout: float = 30) -> None:
    """Until the kernel's IPv6 duplicate address detection is over (about a second after
    a link comes up it drops `tentative` and adds local routes): the state compared
    before and after each call must not change by itself."""
    deadline = time.monotonic() + timeout
    while "tentative" in json.dumps(ns.ip_json("addr", "show")):
        assert time.monotonic() < deadline, f"addresses in {ns.name} still tentative"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if _NETNS_PROBLEM:
        pytest.skip(_NETNS_PROBLEM)
    made: list[Netns] = []
    try:
        for role in ("host", "live", "target"):
            ns = Netns(f"ecsbt-hx{role[:2]}-{os.getpid()}")
            subprocess.run(["ip", "netns", "add", ns.name], check=True, capture_output=True)
            made.append(ns)
            ns.ip("link", "set", "lo", "up")
        host, live, target = made
        root = tmp_path_factory.mktemp("hostile")
        cni_bin = root / "cni-bin"
        cni_bin.mkdir()
        for name in ("ecs-bridge", "ecs-ipam"):
            (cni_bin / name).symlink_to(BIN_DIR / name)
        (root / "scratch").mkdir()
        os.mkfifo(root / "scratch" / "fifo")
        env = {**cni_env(live, root, cni_bin, container_id=LIVE_CONTAINER),
               "ECS_CNI_LOG_FILE": str(root / "plugins.log")}
        config = bridge_config(bridge=LIVE_BRIDGE, name=NETWORK, ipam=ipv4_ipam(id="task-1"))
        added = run_bridge(cni_bin, host, env, config)
        assert added.returncode == 0, added.stdout
        for ns in (host, live):
            _wait_for_dad(ns)
        yield World(host=host, live=live, target=target, root=root, places={
            "netns": target.path, "live_netns": live.path, "cni_path": str(cni_bin),
            "db": env["IPAM_DB_PATH"], "tmp": str(root / "scratch")})
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)


@pytest.mark.parametrize(("case", "mode"), CASES)
def test_a_hostile_call_is_refused_and_changes_nothing(
    case: Hostile, mode: dict[str, str], world: World,
) -> None:
    env = {**case.environment(world.places), "ECS_CNI_LOG_FILE": str(world.log), **mode}
    before = _state(world)

    run = run_group(Path(world.places["cni_path"]) / "ecs-bridge", env=env, netns=world.host,
                    stdin=case.stdin_bytes(), timeout=30)

    assert run.returncode == 1, (run.stdout, run.stderr[-500:])
    error = run.json()
    assert error["code"] == case.code, error
    assert case.named.format(**world.places) in error["msg"] + error.get("details", ""), error
    assert _state(world) == before


def test_the_live_attachment_survived_the_whole_corpus(world: World) -> None:
    # Runs after the corpus (file order): the DEL and GC aimed at it refused to act.
    assert link(world.live, "eth0") is not None
    assert [row[4] for row in allocations(world.db) if row[0] == "allocations"] == [
        "", "task-1"]  # owners: the gateway's reservation, and the live task's address
    assert stat.S_ISFIFO(Path(world.places["tmp"], "fifo").lstat().st_mode)


def test_a_fifo_as_the_log_file_neither_hangs_nor_fails_an_add(
    host_ns: Netns, container_ns: Netns, cni_bin: Path, tmp_path: Path,
) -> None:
    fifo = tmp_path / "plugins.log"
    os.mkfifo(fifo)
    env = {**cni_env(container_ns, tmp_path, cni_bin), "ECS_CNI_LOG_FILE": str(fifo)}
    for command in ("ADD", "DEL"):
        run = run_group(cni_bin / "ecs-bridge", env={**env, "CNI_COMMAND": command},
                        netns=host_ns, stdin=json.dumps(bridge_config()).encode(), timeout=30)
        assert run.returncode == 0, run.stdout
    assert link(container_ns, "eth0") is None
    assert fifo.is_fifo()

