"""The two plugins under comparison, configured the same shape.

ours: `ecs-bridge` with `ecs-ipam` - bridge ecs-br0, 169.254.172.0/22, one route
      (169.254.170.2/32), the database in a temporary directory.
ref:  Debian's `containernetworking-plugins` `bridge` with `host-local` - bridge
      refbr0, isGateway (the gateway goes on the bridge, as ecs-bridge does),
      169.254.176.0/22, the same route, dataDir in a temporary directory.

Both get cniVersion 0.4.0, MTU 1500, the same CNI_PATH (a directory of symlinks
to the four executables) and a minimal environment. No `ipam.id` in ours, so
ecs-ipam owns each address by CNI_CONTAINERID as host-local does. ecs-bridge
logs at its default level (info) to a file in the temporary directory.

If the installed console scripts are the exec shim in front of a resident
helper (`ecs_bridge.cli.shim`), ours also get ECS_BRIDGE_HELPER_DIR in the
temporary directory, so the benchmark's calls are served by a helper of its
own (not one that other work on the machine is using) and `stop_helpers` can
end it afterwards, and ECS_BRIDGE_HELPER_IDLE=15 (s) so that one left behind
does not stay long. Both are ignored by a build without the helper.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import spawn
from bench.common import BIN_DIR
from bench.netns import RUN_NETNS, inside

__all__ = ["HELPER_OFF", "REF_DIR", "Plugin", "PluginFailed", "cni_bin", "has_helper",
           "helper_env", "helper_peaks_kib", "ours", "ref", "stop_helpers", "stub_ipam"]

REF_DIR = Path("/usr/lib/cni")
ROUTE = {"dst": "169.254.170.2/32"}
VERSION = "0.4.0"
PATH = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
HELPER_OFF = {"ECS_BRIDGE_HELPER": "off"}
"""ecs-bridge and ecs-ipam run the plugin in their own process, helper or not."""
HELPER_CMDLINE = b"ecs_bridge.cli.helper"


def has_helper() -> bool:
    """Are the installed `ecs-bridge`/`ecs-ipam` the shim in front of a resident helper?"""
    script = (BIN_DIR / "ecs-bridge").read_text(errors="replace")
    return "ecs_bridge.cli.shim" in script


def helper_env(tmp: Path, name: str = "helper") -> dict[str, str]:
    """A helper directory of the benchmark's own: `tmp`/`name` (its name starts "helper")."""
    return {"ECS_BRIDGE_HELPER_DIR": str(tmp / name), "ECS_BRIDGE_HELPER_IDLE": "15"}


def _helper_pids(tmp: Path, name: str = "helper*") -> list[int]:
    """The helpers serving from `tmp`'s helper directories (their lock files hold the pid)."""
    pids = []
    for lock in tmp.glob(f"{name}/*.lock"):
        try:
            pid = int(lock.read_text().split()[0])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if HELPER_CMDLINE in f.read():
                    pids.append(pid)
        except (OSError, ValueError, IndexError):
            continue
    return pids


def helper_peaks_kib(tmp: Path) -> list[int]:
    """VmHWM (peak RSS) of each live helper of `tmp`."""
    peaks = []
    for pid in _helper_pids(tmp):
        try:
            with open(f"/proc/{pid}/status") as f:
                peaks += [int(line.split()[1]) for line in f if line.startswith("VmHWM:")]
        except OSError:
            continue
    return peaks


def stop_helpers(tmp: Path, name: str = "helper*", *, wait_started: float = 0.0) -> None:
    """End the helpers this benchmark's calls started (by pid, from the lock files in
    `tmp`/`name`), and wait until they are gone. With `wait_started`, first wait up
    to that many seconds for one to appear (a shim starts its helper in the background)."""
    deadline = time.monotonic() + wait_started
    pids = _helper_pids(tmp, name)
    while not pids and time.monotonic() < deadline:
        time.sleep(0.02)
        pids = _helper_pids(tmp, name)
    for pid in pids:
        try:
            os.kill(pid, 15)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{pid}") for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


class PluginFailed(RuntimeError):
    """A plugin exited non-zero where the benchmark needs it to succeed."""


@dataclass(frozen=True)
class Plugin:
    label: str
    """`ecs-bridge` or `bridge`, as reports name them."""
    exe: str
    ipam_exe: str
    bridge: str
    subnet: str
    config: Mapping[str, Any]
    base_env: Mapping[str, str]

    @property
    def stdin(self) -> bytes:
        return json.dumps(self.config).encode()

    def env(self, command: str, *, netns: str, container_id: str,
            ifname: str = "eth0") -> dict[str, str]:
        return {**self.base_env, "CNI_COMMAND": command, "CNI_CONTAINERID": container_id,
                "CNI_NETNS": netns, "CNI_IFNAME": ifname}

    def start(self, command: str, *, host: str, container: str, container_id: str,
              ifname: str = "eth0", argv: Sequence[str] | None = None,
              extra_env: Mapping[str, str] | None = None) -> spawn.Running:
        """Start the plugin in namespace `host` for the container namespace `container`
        (or `argv` in its place, given the same environment and stdin)."""
        env = self.env(command, netns=f"{RUN_NETNS}/{container}", container_id=container_id,
                       ifname=ifname)
        with inside(host):
            return spawn.start(argv or [self.exe], env={**env, **(extra_env or {})},
                               stdin=self.stdin)

    def call(self, command: str, *, host: str, container: str, container_id: str,
             ifname: str = "eth0") -> spawn.Exit:
        """Run the plugin to its end; `PluginFailed` unless it exits 0."""
        done = spawn.finish(self.start(command, host=host, container=container,
                                       container_id=container_id, ifname=ifname))
        if not done.ok:
            raise PluginFailed(f"{self.label} {command} {container_id}: {done.explain()}")
        return done

    def peak_rss(self, command: str, *, host: str, container: str, container_id: str,
                 report: Path) -> int | None:
        """Peak RSS in KiB of one run (see `spawn.peak_rss_kib`); None without GNU time."""
        env = self.env(command, netns=f"{RUN_NETNS}/{container}", container_id=container_id)
        with inside(host):
            return spawn.peak_rss_kib([self.exe], env=env, stdin=self.stdin, report=str(report))

    @property
    def gateway(self) -> str:
        """The first address of the subnet, which both put on the bridge."""
        a, b, c, _ = self.subnet.split("/")[0].split(".")
        return f"{a}.{b}.{c}.1"


def cni_bin(tmp: Path) -> Path:
    """A plugin directory for CNI_PATH: our two executables and the reference two."""
    d = tmp / "cni-bin"
    d.mkdir(exist_ok=True)
    for name, where in (("ecs-bridge", BIN_DIR), ("ecs-ipam", BIN_DIR),
                        ("bridge", REF_DIR), ("host-local", REF_DIR)):
        if not (d / name).exists():
            (d / name).symlink_to(where / name)
    return d


def ours(tmp: Path, *, cni_path: Path, state: str = "ipam", label: str = "ecs-bridge",
         extra_env: Mapping[str, str] | None = None) -> Plugin:
    """ecs-bridge + ecs-ipam; `state` names the database's directory under `tmp`."""
    subnet = "169.254.172.0/22"
    ipam = {"type": "ecs-ipam", "ipv4-subnet": subnet, "ipv4-routes": [ROUTE]}
    config = {"type": "ecs-bridge", "cniVersion": VERSION, "name": "ecs-net",
              "bridge": "ecs-br0", "mtu": 1500, "ipam": ipam}
    env = {"PATH": PATH, "CNI_PATH": str(cni_path),
           "IPAM_DB_PATH": str(tmp / state / "ipam.db"),
           "ECS_CNI_LOG_FILE": str(tmp / "ecs-cni.log"), **helper_env(tmp),
           **(extra_env or {})}
    return Plugin(label, str(cni_path / "ecs-bridge"), str(cni_path / "ecs-ipam"),
                  "ecs-br0", subnet, config, env)


def ref(tmp: Path, *, cni_path: Path, state: str = "host-local") -> Plugin:
    """Debian's bridge + host-local; `state` names the dataDir under `tmp`."""
    subnet = "169.254.176.0/22"
    ipam = {"type": "host-local", "subnet": subnet, "routes": [ROUTE],
            "dataDir": str(tmp / state)}
    config = {"cniVersion": VERSION, "name": "ref-net", "type": "bridge", "bridge": "refbr0",
              "isGateway": True, "mtu": 1500, "ipam": ipam}
    env = {"PATH": PATH, "CNI_PATH": str(cni_path)}
    return Plugin("bridge", str(cni_path / "bridge"), str(cni_path / "host-local"),
                  "refbr0", subnet, config, env)


def stub_ipam(plugin: Plugin, directory: Path, address_suffix: int = 250) -> Plugin:
    """The same plugin with a CNI_PATH whose IPAM is a /bin/sh stub printing a fixed
    result: the peak RSS of the process tree is then the bridge plugin's own (the
    stub's is smaller than either: its floor is the plugin's size when it spawns
    the stub), not the larger of it and its IPAM's."""
    directory.mkdir(parents=True, exist_ok=True)
    base = plugin.subnet.rsplit(".", 1)[0]
    result = {"cniVersion": VERSION,
              "ips": [{"version": "4", "address": f"{base}.{address_suffix}/22",
                       "gateway": plugin.gateway}],
              "routes": [{"dst": ROUTE["dst"], "gw": plugin.gateway}], "dns": {}}
    name = os.path.basename(plugin.ipam_exe)
    script = directory / name
    script.write_text("#!/bin/sh\ncat >/dev/null\n"
                      f"[ \"$CNI_COMMAND\" = ADD ] && echo '{json.dumps(result)}'\nexit 0\n")
    script.chmod(0o755)
    exe = directory / os.path.basename(plugin.exe)
    if not exe.exists():
        exe.symlink_to(os.path.realpath(plugin.exe))
    return Plugin(plugin.label, str(exe), str(script), plugin.bridge, plugin.subnet,
                  plugin.config, {**plugin.base_env, "CNI_PATH": str(directory)})
