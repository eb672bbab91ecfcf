"""SIGKILL at any instant of an ADD or a DEL loses nothing, leaks nothing for good and
never corrupts the IPAM database.

For each way the installed ecs-bridge can run, a normal ADD and DEL are timed (T),
then for i = 1..30 an ADD is killed T*i/30 after it was started, and a DEL likewise,
each on a fresh host namespace, one container namespace and one database for the
whole sweep. After each kill, the runtime's DEL for the same container must leave the
host and the database clean, `PRAGMA integrity_check` must pass, and a new ADD must
work.

Clean means:
- host namespace: no link but `lo` and the bridge, and the bridge carries no global
  address but its gateway's; IPv4 routes only the gateway's prefix route. The bridge
  and its gateway address may stay: they are shared by every container on the bridge
  and the original never removes them (a kill may even leave the bridge down: the
  next ADD brings it up);
- container namespace: only `lo`, no global address, no IPv4 route;
- database: no address held by a container (the gateway's reservation and the
  subnet's cursor are shared state and stay), and `PRAGMA integrity_check` is ok.

Killing the process group (ecs-bridge with an ecs-ipam it exec'd) is checked strictly:
the DEL, run once every process of the killed call is gone, must clean everything.
Where part of the killed call can outlive the kill (only ecs-bridge killed, as the ECS
agent's timeout does, while its ecs-ipam child runs on; or a resident helper's worker,
which notices its shim's death a moment later), the DEL runs at once, as a runtime's
would, and may be too early to see what the straggler does next: CNI GC (1.1.0, with
no valid attachment) must then collect whatever is left.

The ECS agent's own DEL sends `"ipam": {}` and releases the address with a separate
ecs-ipam DEL, which an agent restart loses for good: that DEL cannot see an address
taken by a killed ADD (or held by a killed DEL's container), and the operator's
`ecs-bridge-ctl ipam gc` (the agent never sends CNI GC) must collect each one.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

from tests.e2e.bridgekit import bridge_config, cni_env, global_addrs, link
from tests.e2e.chaos import feed, finish, held, integrity, kill_group, run_group, settle, start
from tests.e2e.conftest import BIN_DIR, Netns, PluginRun, exec_plugin

POINTS = 30
BRIDGE = "ecs-br0"
GATEWAY = "169.254.172.1/22"


@frozen
class Mode:
    env: dict[str, str]
    """How the killed calls run (the runtime's DEL and the new ADD run as installed)."""
    kill_group: bool = True
    """True: SIGKILL to the whole process group; False: to ecs-bridge alone."""
    stragglers: bool = False
    """Part of a killed call may outlive the kill: the DEL follows at once, GC may be
    needed after it."""
    agent_del: bool = False
    """DEL as the ECS agent sends it, `"ipam": {}`, with the agent's own ecs-ipam release
    lost (an agent restart): GC must collect the addresses."""
    dense: bool = False
    """30 more kill points between the end of start-up and T, where the changes are."""


NO_HELPER = {"ECS_BRIDGE_HELPER": "off"}
EXEC_IPAM = {**NO_HELPER, "ECS_BRIDGE_IPAM_EXEC": "1"}
MODES = {
    "one process per call": Mode(NO_HELPER, dense=True),
    "ecs-ipam exec'd": Mode(EXEC_IPAM, dense=True),
    "ecs-ipam exec'd, only ecs-bridge killed": Mode(EXEC_IPAM, kill_group=False,
                                                    stragglers=True),
    "resident helper": Mode({}, stragglers=True),
    "ECS agent's DEL, release lost": Mode(NO_HELPER, agent_del=True),
}


@frozen
class Sweep:
    mode: Mode
    cni_bin: Path
    tmp_path: Path
    container: Netns

    @property
    def db(self) -> Path:
        return self.tmp_path / "ipam" / "ipam.db"

    def env(self, command: str, *, victim: bool = False) -> dict[str, str]:
        env = cni_env(self.container, self.tmp_path, self.cni_bin, command=command)
        return {**env, **self.mode.env} if victim else env

    def config(self, command: str) -> bytes:
        agent = command == "DEL" and self.mode.agent_del
        return json.dumps(bridge_config(ipam={} if agent else None)).encode()

    def call(self, host: Netns, command: str, *, victim: bool = False) -> PluginRun:
        run = run_group(self.cni_bin / "ecs-bridge", env=self.env(command, victim=victim),
                        netns=host, stdin=self.config(command))
        settle(host)
        return run

    def timed(self, host: Netns, command: str, **env: str) -> float:
        began = time.monotonic()
        run = run_group(self.cni_bin / "ecs-bridge",
                        env={**self.env(command, victim=True), **env}, netns=host,
                        stdin=self.config(command))
        settle(host)
        if env:  # refused before any change: code 3, the namespace does not exist
            assert (run.returncode, run.json()["code"]) == (1, 3), run.stdout
        else:
            assert run.returncode == 0, run.stdout
        return time.monotonic() - began

    def killed(self, host: Netns, command: str, after: float) -> bool:
        """Start `command`, SIGKILL it `after` seconds later; True if it was still running."""
        began = time.monotonic()  # as for T: from the exec
        proc = start(self.cni_bin / "ecs-bridge", env=self.env(command, victim=True),
                     netns=host)
        feed(proc, self.config(command))
        time.sleep(max(0.0, after - (time.monotonic() - began)))
        running = proc.poll() is None
        if self.mode.kill_group:
            kill_group(proc)
        else:
            proc.kill()
        finish(proc)
        if not self.mode.stragglers:
            settle(host)  # every process of the call is gone before the runtime's DEL
        return running

    def collect(self, host: Netns) -> None:
        """What the ECS agent's host has (no CNI GC) for the agent mode: the operator's
        `ecs-bridge-ctl ipam gc`; else CNI GC with no valid attachment."""
        if self.mode.agent_del:
            ctl = [str(BIN_DIR / "ecs-bridge-ctl"), "ipam", "gc", "--db", str(self.db),
                   "--min-age", "0s"]
            done = host.run(ctl, capture_output=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
        else:
            gc = self.gc(host)
            assert (gc.returncode, gc.stdout) == (0, b""), gc.stdout

    def gc(self, host: Netns) -> PluginRun:
        config = {**bridge_config(version="1.1.0"), "cni.dev/valid-attachments": []}
        env = {"CNI_COMMAND": "GC", "CNI_PATH": str(self.cni_bin),
               "IPAM_DB_PATH": str(self.db), "ECS_CNI_LOG_FILE": str(self.tmp_path / "gc.log")}
        run = exec_plugin(self.cni_bin / "ecs-bridge", env=env, stdin=config, netns=host)
        settle(host)
        return run


def leftovers(host: Netns, container: Netns, db: Path) -> list[str]:
    """What is not clean (see the module docstring); [] when clean."""
    found = []
    links = {x["ifname"]: x for x in host.ip_json("-d", "link", "show")}
    found += [f"host link {name}" for name in links if name not in ("lo", BRIDGE)]
    if BRIDGE in links:
        found += [f"bridge address {a}" for a in global_addrs(host, BRIDGE) if a != GATEWAY]
    found += [f"host route {r['dst']}" for r in host.ip_json("-4", "route", "show")
              if r.get("dev") != BRIDGE or r["dst"] != "169.254.172.0/22"]
    found += [f"container link {x['ifname']}" for x in container.ip_json("link", "show")
              if x["ifname"] != "lo"]
    found += [f"container route {r['dst']}" for r in container.ip_json("-4", "route", "show")]
    found += [f"allocation {address} of {owner}" for owner, address in held(db)]
    if db.exists():
        assert integrity(db) == "ok"
    return found


def stage(host: Netns, container: Netns, db: Path) -> str:
    """How far a killed call got, from what it left (before any cleanup)."""
    bridge = link(host, BRIDGE)
    parts = [
        "bridge" if bridge else "",
        "up" if bridge and "UP" in bridge["flags"] else "",
        "gateway" if bridge and GATEWAY in global_addrs(host, BRIDGE) else "",
        "allocation" if held(db) else "",
        "veth" if link(container, "eth0") else "",
        "address" if link(container, "eth0") and global_addrs(container, "eth0") else "",
    ]
    return "+".join(p for p in parts if p) or "nothing"


def kill_points(t: float, t_start: float, *, dense: bool) -> list[float]:
    """T*i/30 for i = 1..30; when `dense`, also 30 points from the end of start-up
    (`t_start`, all imports done, nothing changed yet) to T."""
    whole = [t * i / POINTS for i in range(1, POINTS + 1)]
    busy = [t_start + (t - t_start) * i / POINTS for i in range(1, POINTS + 1)]
    return whole + busy if dense else whole


@pytest.mark.parametrize("mode", MODES)
def test_sigkill_at_30_instants_of_add_and_of_del_leaves_nothing_a_del_or_gc_cannot_clean(
    mode: str, container_ns: Netns, make_netns: Callable[[str], Netns], cni_bin: Path,
    tmp_path: Path, record_property: Callable[[str, object], None],
) -> None:
    sweep = Sweep(MODES[mode], cni_bin, tmp_path, container_ns)
    warm = make_netns("warm")
    times: dict[str, list[float]] = {"ADD": [], "DEL": [], "start-up": []}
    for _ in range(3):  # the median of three (the first call may start the helper)
        for command in ("ADD", "DEL"):
            times[command].append(sweep.timed(warm, command))
        # An ADD into a namespace that does not exist: start-up and imports, no change.
        times["start-up"].append(sweep.timed(warm, "ADD", CNI_NETNS="/run/netns/ecsbt-none"))
    if sweep.mode.agent_del:  # the timing DELs released nothing either
        sweep.collect(warm)
    assert leftovers(warm, container_ns, sweep.db) == []  # the sweep starts clean
    _delete(warm)
    t_add, t_del, t_start = (statistics.median(times[k]) for k in ("ADD", "DEL", "start-up"))
    delays = {"ADD": kill_points(t_add, t_start, dense=sweep.mode.dense),
              "DEL": kill_points(t_del, t_start, dense=sweep.mode.dense)}
    stages: dict[str, Counter[str]] = {"ADD": Counter(), "DEL": Counter()}
    collected: list[tuple[str, int, list[str]]] = []

    for i in range(len(delays["ADD"])):
        host = make_netns("kill")
        for command in ("ADD", "DEL"):
            if command == "DEL":  # a new ADD works, then its DEL is the victim
                added = sweep.call(host, "ADD")
                assert added.returncode == 0, (i, added.stdout)
                assert global_addrs(container_ns, "eth0") == [
                    added.json()["ips"][0]["address"]]
            running = sweep.killed(host, command, delays[command][i])
            if not running:
                stages[command]["finished"] += 1
            elif not sweep.mode.stragglers:  # (else the DEL must follow the kill at once)
                stages[command][stage(host, container_ns, sweep.db)] += 1
            else:
                stages[command]["killed"] += 1
            deleted = sweep.call(host, "DEL")
            assert (deleted.returncode, deleted.stdout) == (0, b""), (command, i)
            left = leftovers(host, container_ns, sweep.db)
            if sweep.mode.agent_del:  # the DEL could not see the addresses: only those
                assert all(x.startswith("allocation ") for x in left), (command, i, left)
            if left and (sweep.mode.stragglers or sweep.mode.agent_del):
                collected.append((command, i, left))
                sweep.collect(host)
                left = leftovers(host, container_ns, sweep.db)
            assert left == [], (command, i, left)
        _delete(host)

    final = sweep.call(make_netns("final"), "ADD")  # the database still serves
    assert final.returncode == 0
    assert integrity(sweep.db) == "ok"
    summary: dict[str, Any] = {
        "T_add": round(t_add, 3), "T_del": round(t_del, 3), "T_start": round(t_start, 3),
        "kill_points": len(delays["ADD"]), "stages": {k: dict(v) for k, v in stages.items()},
        "collected_by_gc": dict(Counter(f"{c}: {', '.join(x.split(' ')[0] for x in left)}"
                                        for c, _, left in collected)),
        "collected_examples": collected[:3]}
    record_property("kill_sweep", summary)
    print(f"\n{mode}: {json.dumps(summary)}")


def _delete(ns: Netns) -> None:
    subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)
