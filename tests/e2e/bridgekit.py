"""Helpers for ecs-bridge e2e tests: configs, the CNI environment, what the kernel shows."""

from __future__ import annotations

import ipaddress
import json
import sqlite3
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Netns, PluginRun, exec_plugin

V4_SUBNET = "169.254.172.0/22"
V6_SUBNET = "2001:db8:172::/64"
CREDENTIALS = "169.254.170.2/32"


def bridge_config(
    *,
    bridge: str = "ecs-br0",
    version: str = "0.3.0",
    mtu: int | None = 1500,
    ipam: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The seed README's example config (IPv4 link-local, one route), adjustable."""
    config: dict[str, Any] = {
        "type": "ecs-bridge", "cniVersion": version, "name": "ecs-net", "bridge": bridge,
        "ipam": ipam if ipam is not None else ipv4_ipam(),
        **extra,
    }
    if mtu is not None:
        config["mtu"] = mtu
    return config


def ipv4_ipam(**extra: Any) -> dict[str, Any]:
    return {"type": "ecs-ipam", "id": "task-1", "ipv4-subnet": V4_SUBNET,
            "ipv4-routes": [{"dst": CREDENTIALS}], **extra}


def ipv6_ipam(**extra: Any) -> dict[str, Any]:
    return {"type": "ecs-ipam", "id": "task-1", "ipv6-subnet": V6_SUBNET,
            "ipv6-routes": [{"dst": "2001:db8:170::2/128"}], **extra}


def cni_env(
    container: Netns | str, tmp_path: Path, cni_bin: Path, *, command: str = "ADD",
    ifname: str = "eth0", container_id: str = "ctr-1",
) -> dict[str, str]:
    return {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": container if isinstance(container, str) else container.path,
        "CNI_IFNAME": ifname,
        "CNI_PATH": str(cni_bin),
        "IPAM_DB_PATH": str(tmp_path / "ipam" / "ipam.db"),
        "ECS_CNI_LOG_FILE": str(tmp_path / "plugins.log"),
        "ECS_CNI_LOGLEVEL": "debug",
    }


def run_bridge(cni_bin: Path, host: Netns, env: dict[str, str], config: Any) -> PluginRun:
    """Exec ecs-bridge inside the namespace playing the host, as a runtime does."""
    return exec_plugin(cni_bin / "ecs-bridge", env=env, stdin=config, netns=host)


def link(ns: Netns, name: str) -> dict[str, Any] | None:
    found = [x for x in ns.ip_json("-d", "link", "show") if x["ifname"] == name]
    return found[0] if found else None


def global_addrs(ns: Netns, name: str) -> list[str]:
    """`address/prefix` of every global address on `name`, per `ip -j addr`."""
    shown = ns.ip_json("addr", "show", "dev", name)
    return sorted(
        f"{a['local']}/{a['prefixlen']}"
        for entry in shown for a in entry.get("addr_info", [])
        if a.get("scope") == "global"
    )


def routes(ns: Netns, name: str) -> set[tuple[str, str | None]]:
    """(dst, gw) of main-table routes out of `name`, both families, without the
    kernel's IPv6 link-local and multicast routes."""
    found = set()
    for family in ("-4", "-6"):
        for r in ns.ip_json(family, "route", "show", "dev", name):
            dst = r["dst"]
            if dst.startswith(("fe80::", "ff00::", "multicast")):
                continue
            if dst == "default":
                dst = "0.0.0.0/0" if family == "-4" else "::/0"
            elif "/" not in dst:
                dst += "/32" if family == "-4" else "/128"
            found.add((dst, r.get("gateway")))
    return found


def veths_on(ns: Netns, bridge: str) -> list[dict[str, Any]]:
    return [x for x in ns.ip_json("-d", "link", "show")
            if x.get("master") == bridge and x.get("linkinfo", {}).get("info_kind") == "veth"]


def allocations(db: Path) -> list[tuple[Any, ...]]:
    """Every row of every table of the IPAM database, read with sqlite3 directly."""
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return [(t, *row) for t in tables for row in conn.execute(f"SELECT * FROM {t}")]  # noqa: S608


def udp_reaches_host(host: Netns, container: Netns, address: str, port: int = 47123) -> bool:
    """Send a real datagram from the container to `address`; True if a socket bound
    to it in the host namespace receives it."""
    family = "AF_INET6" if ":" in address else "AF_INET"
    receiver = textwrap.dedent(f"""
        import socket, sys
        s = socket.socket(socket.{family}, socket.SOCK_DGRAM)
        s.bind(({address!r}, {port}))
        print("ready", flush=True)
        s.settimeout(10)
        data, _ = s.recvfrom(100)
        print(data.decode(), flush=True)
    """)
    sender = textwrap.dedent(f"""
        import socket, time
        s = socket.socket(socket.{family}, socket.SOCK_DGRAM)
        for _ in range(20):
            s.sendto(b"hello-from-container", ({address!r}, {port}))
            time.sleep(0.1)
    """)
    recv = subprocess.Popen(["ip", "netns", "exec", host.name, "python3", "-c", receiver],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert recv.stdout is not None
        if recv.stdout.readline().strip() != "ready":
            return False
        container.run(["python3", "-c", sender], check=True, timeout=30)
        out, _ = recv.communicate(timeout=15)
        return "hello-from-container" in out
    finally:
        recv.kill()
        recv.wait()


def container_mac_for(address: str) -> str:
    packed = ipaddress.ip_address(address).packed
    return ":".join(f"{b:02x}" for b in b"\x0a\x58" + packed)


def fake_ipam(cni_bin: Path, name: str, *, add_output: dict[str, Any] | None = None,
              fail: bool = False) -> None:
    """A stand-in IPAM executable: prints `add_output` on ADD, or fails every call."""
    if fail:
        body = 'echo \'{"code": 101, "msg": "fake ipam always fails"}\'; exit 1'
    else:
        body = (f"if [ \"$CNI_COMMAND\" = ADD ]; then echo '{json.dumps(add_output)}'; fi; "
                "exit 0")
    script = cni_bin / name
    script.write_text(f"#!/bin/sh\ncat > /dev/null\n{body}\n")
    script.chmod(0o755)
