"""Many ADDs and DELs at once on one bridge and one IPAM database: every call succeeds,
no address is ever held twice, and nothing is left behind."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.bridgekit import (
    V4_SUBNET,
    bridge_config,
    cni_env,
    global_addrs,
    ipv4_ipam,
    link,
    veths_on,
)
from tests.e2e.chaos import finish, held, integrity, settle, start_together
from tests.e2e.conftest import Netns

CONTAINERS = 64
ROUNDS = 5
GATEWAY = "169.254.172.1"


MODES = {
    "resident helper": {},
    "one process per call": {"ECS_BRIDGE_HELPER": "off"},
}
"""How the installed ecs-bridge runs: handed to its warm helper (cli/shim.py), or the
whole call in the exec'd process (what happens whenever no helper can serve)."""


def _calls(cni_bin: Path, tmp_path: Path, containers: list[Netns], round_: int,
           command: str, mode: dict[str, str]) -> list[tuple[dict[str, str], dict[str, object]]]:
    return [({**cni_env(ctr, tmp_path, cni_bin, command=command,
                        container_id=f"ctr-{round_}-{n}"), **mode},
             bridge_config(ipam=ipv4_ipam(id=f"task-{round_}-{n}")))
            for n, ctr in enumerate(containers)]


def _wave(cni_bin: Path, host: Netns, calls: list[tuple[dict[str, str], dict[str, object]]],
          ) -> tuple[list[bytes], float]:
    began = time.monotonic()
    procs = start_together(cni_bin / "ecs-bridge", calls, netns=host)
    runs = [finish(proc, timeout=300) for proc in procs]
    elapsed = time.monotonic() - began
    failed = [(n, run.returncode, run.stdout, run.stderr[-300:]) for n, run in enumerate(runs)
              if run.returncode != 0]
    assert failed == [], failed
    settle(host)
    return [run.stdout for run in runs], elapsed


@pytest.mark.parametrize("mode", MODES)
def test_64_concurrent_adds_then_64_concurrent_dels_five_times_lose_and_leak_nothing(
    mode: str, host_ns: Netns, make_netns: Callable[[str], Netns], cni_bin: Path,
    tmp_path: Path, record_property: Callable[[str, object], None],
) -> None:
    containers = [make_netns(f"s{n}") for n in range(CONTAINERS)]
    db = tmp_path / "ipam" / "ipam.db"
    timings = []
    for round_ in range(ROUNDS):
        outputs, add_time = _wave(cni_bin, host_ns, _calls(cni_bin, tmp_path, containers,
                                                           round_, "ADD", MODES[mode]))
        got = [json.loads(out)["ips"][0]["address"] for out in outputs]
        # Every result distinct, in the subnet, never the gateway ...
        assert len(set(got)) == CONTAINERS, sorted(got)
        assert all(ipaddress.ip_interface(a).network == ipaddress.ip_network(V4_SUBNET)
                   for a in got)
        assert f"{GATEWAY}/22" not in got
        # ... the database holds exactly those, one per owner ...
        holdings = held(db)
        assert sorted(a for _, a in holdings) == sorted(a.split("/")[0] for a in got)
        assert sorted(o for o, _ in holdings) == sorted(f"task-{round_}-{n}"
                                                        for n in range(CONTAINERS))
        # ... and the kernel shows each on its own container, one host veth each.
        assert len(veths_on(host_ns, "ecs-br0")) == CONTAINERS
        assert [global_addrs(ctr, "eth0") for ctr in containers] == [[a] for a in got]

        _, del_time = _wave(cni_bin, host_ns, _calls(cni_bin, tmp_path, containers,
                                                     round_, "DEL", MODES[mode]))
        assert veths_on(host_ns, "ecs-br0") == []
        assert held(db) == []
        assert [link(ctr, "eth0") for ctr in containers] == [None] * CONTAINERS
        timings.append((round(add_time, 2), round(del_time, 2)))
    assert integrity(db) == "ok"
    assert global_addrs(host_ns, "ecs-br0") == [f"{GATEWAY}/22"]  # shared: stays
    record_property("wave_seconds_add_del", timings)
    print(f"\n{mode}: {CONTAINERS} ADDs then {CONTAINERS} DELs at once, seconds per wave "
          f"(ADD, DEL): {timings}")

