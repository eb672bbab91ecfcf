"""Hostile input for ecs-bridge: every entry is one bad call, the CNI code it must get,
and a piece of text the error must contain (the bad value, or the key that names it).

One table, read by two tests:

- `tests/unit/test_hostile_corpus.py` runs the entries whose `layer` is `bridge` or
  `ipam` in-process, through `cli.cni.serve` and the real plugin's handle (ecs-bridge's
  for `bridge`, ecs-ipam's for `ipam`: ecs-bridge passes ecs-ipam's error on with its
  code), unprivileged and with no kernel.
- `tests/e2e/test_hostile_input.py` execs the installed ecs-bridge with every entry
  (except those an environment cannot carry, `e2e=False`) in a throwaway host
  namespace beside a live attachment, and checks that the host, both container
  namespaces, the IPAM database's rows and the state directory are unchanged.

A call is the base ADD below with `config` merged into its top level (`ipam`
merged into its `ipam` object; a value `DROP` removes the key), or raw `stdin`
bytes, with `env` merged into the base environment (`None` removes the variable).
Environment values may name places the test makes: `{netns}` (an empty container
namespace), `{live_netns}` (the namespace of the live attachment), `{cni_path}`,
`{db}` (the IPAM database, holding the live attachment's rows), `{tmp}` (a scratch
directory with a FIFO at `{tmp}/fifo`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from attrs import field, frozen

__all__ = [
    "BASE_CONFIG",
    "BASE_ENV",
    "CORPUS",
    "DROP",
    "LIVE_BRIDGE",
    "LIVE_CONTAINER",
    "NETWORK",
    "Hostile",
]

NETWORK = "ecs-net"
LIVE_BRIDGE = "ecs-br0"
"""The bridge of the live attachment the e2e test makes before the corpus runs."""
LIVE_CONTAINER = "live-ctr"
BRIDGE = "ecs-hostile"
"""The bridge a hostile ADD names: absent, so an ADD that created it must remove it."""
DROP = object()
"""As a value in `config` or `ipam`: remove the key."""

BASE_CONFIG: Mapping[str, Any] = {
    "type": "ecs-bridge", "cniVersion": "0.3.0", "name": NETWORK, "bridge": BRIDGE, "mtu": 1500,
    "ipam": {"type": "ecs-ipam", "id": "hostile-task", "ipv4-subnet": "169.254.172.0/22",
             "ipv4-routes": [{"dst": "169.254.170.2/32"}]},
}
BASE_ENV: Mapping[str, str] = {
    "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "hostile-ctr", "CNI_NETNS": "{netns}",
    "CNI_IFNAME": "eth0", "CNI_PATH": "{cni_path}", "IPAM_DB_PATH": "{db}",
}

Layer = Literal["bridge", "ipam", "kernel"]


@frozen
class Hostile:
    """One bad call. `layer` says who must refuse it: `bridge` (ecs-bridge before it asks
    IPAM), `ipam` (ecs-ipam, whose error ecs-bridge passes on) or `kernel` (only a real
    namespace or file can show it: e2e only)."""

    name: str
    code: int
    named: str
    """Text the error's msg or details must contain."""
    layer: Layer
    config: Mapping[str, Any] = field(factory=dict)
    ipam: Mapping[str, Any] = field(factory=dict)
    env: Mapping[str, str | None] = field(factory=dict)
    stdin: bytes | None = field(default=None, repr=False)
    e2e: bool = True

    def config_json(self) -> Any:
        """The config as a JSON value (the base with the changes), or None for raw stdin."""
        if self.stdin is not None:
            return None
        config = {k: v for k, v in {**BASE_CONFIG, **self.config}.items() if v is not DROP}
        if self.ipam and isinstance(config.get("ipam"), dict):
            merged = {**config["ipam"], **self.ipam}
            config["ipam"] = {k: v for k, v in merged.items() if v is not DROP}
        return config

    def stdin_bytes(self) -> bytes:
        return self.stdin if self.stdin is not None else json.dumps(self.config_json()).encode()

    def environment(self, places: Mapping[str, str]) -> dict[str, str]:
        """The CNI environment of the call, with `{place}` names filled in."""
        env: dict[str, str] = {}
        for key, value in {**BASE_ENV, **self.env}.items():
            if value is not None:
                env[key] = value.format(**places)
        return env


def _v4(**keys: Any) -> dict[str, Any]:
    return {k.replace("_", "-"): v for k, v in keys.items()}


_GC = {"cniVersion": "1.1.0", "bridge": LIVE_BRIDGE}
_LIVE = {"CNI_CONTAINERID": LIVE_CONTAINER, "CNI_NETNS": "{live_netns}"}

CORPUS: tuple[Hostile, ...] = (
    # -- stdin that is not a JSON object (code 6) --
    Hostile("malformed JSON", 6, "line 1 column", "bridge",
            stdin=b'{"cniVersion": "0.3.0", "name": '),
    Hostile("empty stdin", 6, "Expecting value", "bridge", stdin=b""),
    Hostile("a JSON array, not an object", 6, "not a JSON object", "bridge", stdin=b"[1, 2]"),
    Hostile("a JSON string, not an object", 6, "'\"ecs-bridge\"'", "bridge",
            stdin=b'"ecs-bridge"'),
    Hostile("stdin that is not UTF-8", 6, "not UTF-8", "bridge",
            stdin=b'{"bridge": "\xff\xfe"}'),
    Hostile("10 MiB of stdin", 6, "larger than 1048576 bytes", "bridge",
            stdin=b'{"pad": "' + b"x" * (10 << 20) + b'"}'),
    Hostile("JSON nested 100000 deep", 6, "nested too deeply", "bridge",
            stdin=b"[" * 100_000 + b"]" * 100_000),
    # -- version and name (codes 1, 6, 7) --
    Hostile("an unknown cniVersion", 1, '"9.9.9"', "bridge", config={"cniVersion": "9.9.9"}),
    Hostile("cniVersion as a number", 6, "got 3", "bridge", config={"cniVersion": 3}),
    Hostile("a network name with a space", 7, "'ecs net'", "bridge", config={"name": "ecs net"}),
    Hostile("a network name ending in a newline", 7, "'ecs-net\\n'", "bridge",
            config={"name": "ecs-net\n"}),
    Hostile("prevResult that is not an object", 7, "prevResult", "bridge",
            config={"prevResult": "x"}),
    # -- wrong types (code 7) --
    Hostile("bridge as a number", 7, "bridge must be a string, got number 7", "bridge",
            config={"bridge": 7}),
    Hostile("mtu as a string", 7, "mtu must be an integer, got string '1500'", "bridge",
            config={"mtu": "1500"}),
    Hostile("mtu as a boolean", 7, "got boolean True", "bridge", config={"mtu": True}),
    Hostile("mtu as a fraction", 7, "1500.5", "bridge", config={"mtu": 1500.5}),
    Hostile("mtu as NaN", 7, "nan", "bridge", stdin=json.dumps(
        {**BASE_CONFIG, "mtu": float("nan")}).encode()),
    Hostile("ipam as a string", 7, "ipam must be an object, got string 'ecs-ipam'", "bridge",
            config={"ipam": "ecs-ipam"}),
    Hostile("ipam.type as a number", 7, "ipam.type", "bridge", ipam={"type": 5}),
    Hostile("ipam.ipv4-subnet as a number", 7, "ipam.ipv4-subnet must be a string, got number 42",
            "ipam", ipam=_v4(ipv4_subnet=42)),
    Hostile("ipam.ipv4-routes as an object", 7, "ipam.ipv4-routes must be an array", "ipam",
            ipam=_v4(ipv4_routes={"dst": "169.254.170.2/32"})),
    Hostile("ipam.id as a number", 7, "ipam.id must be a string, got number 5", "ipam",
            ipam={"id": 5}),
    # -- missing keys (code 7) --
    Hostile("no bridge", 7, '"bridge"', "bridge", config={"bridge": DROP}),
    Hostile("no ipam on ADD", 7, "IPAM config missing", "bridge", config={"ipam": DROP}),
    Hostile("an empty ipam on ADD", 7, "has no type", "bridge", config={"ipam": {}}),
    Hostile("ipam without a subnet", 7, "found neither", "ipam",
            ipam={"ipv4-subnet": DROP, "ipv4-routes": DROP}),
    Hostile("a route without dst", 7, "ipam.ipv4-routes[0]", "ipam",
            ipam=_v4(ipv4_routes=[{"gw": "169.254.172.1"}])),
    # -- CIDRs and addresses (code 7) --
    Hostile("a subnet with octet 300", 7, "'169.254.300.0/22' is not a valid CIDR", "ipam",
            ipam=_v4(ipv4_subnet="169.254.300.0/22")),
    Hostile("a subnet with prefix /33", 7, "'169.254.172.0/33'", "ipam",
            ipam=_v4(ipv4_subnet="169.254.172.0/33")),
    Hostile("a subnet with host bits set", 7, "'169.254.172.5/22' has host bits set", "ipam",
            ipam=_v4(ipv4_subnet="169.254.172.5/22")),
    Hostile("a /31 subnet", 7, "'169.254.172.0/31' is too small", "ipam",
            ipam=_v4(ipv4_subnet="169.254.172.0/31")),
    Hostile("a /32 subnet", 7, "'169.254.172.0/32' is too small", "ipam",
            ipam=_v4(ipv4_subnet="169.254.172.0/32")),
    Hostile("a /127 IPv6 subnet", 7, "'2001:db8::/127' is too small", "ipam",
            ipam=_v4(ipv4_subnet=DROP, ipv4_routes=DROP, ipv6_subnet="2001:db8::/127")),
    Hostile("a gateway outside the subnet", 7, "'169.254.200.1' is not in", "ipam",
            ipam=_v4(ipv4_gateway="169.254.200.1")),
    Hostile("the network address as gateway", 7, "'169.254.172.0' is the network address",
            "ipam", ipam=_v4(ipv4_gateway="169.254.172.0")),
    Hostile("an address outside the subnet", 7, "'169.254.200.9/22' is not in", "ipam",
            ipam=_v4(ipv4_address="169.254.200.9/22")),
    Hostile("the network address asked for", 7, "'169.254.172.0/22' is the network address",
            "ipam", ipam=_v4(ipv4_address="169.254.172.0/22")),
    Hostile("the broadcast address asked for", 7,
            "'169.254.175.255/22' is the broadcast address", "ipam",
            ipam=_v4(ipv4_address="169.254.175.255/22")),
    Hostile("the IPv6 network address asked for", 7, "'2001:db8::/64' is the network address",
            "ipam", ipam=_v4(ipv6_subnet="2001:db8::/64", ipv6_address="2001:db8::/64")),
    Hostile("the gateway asked for as the address", 7, "'169.254.172.1/22' is the gateway",
            "ipam", ipam=_v4(ipv4_address="169.254.172.1/22")),
    Hostile("an address without a prefix length", 7, "'169.254.172.9' is not in CIDR", "ipam",
            ipam=_v4(ipv4_address="169.254.172.9")),
    Hostile("an IPv4 subnet in the IPv6 field", 7,
            "'169.254.172.0/22' is an IPv4 value where IPv6 is expected", "ipam",
            ipam=_v4(ipv6_subnet="169.254.172.0/22")),
    Hostile("an IPv6 subnet in the IPv4 field", 7,
            "'2001:db8::/64' is an IPv6 value where IPv4 is expected", "ipam",
            ipam=_v4(ipv4_subnet="2001:db8::/64")),
    Hostile("an IPv6 route in the IPv4 routes", 7, "'2001:db8::/64' is an IPv6 value", "ipam",
            ipam=_v4(ipv4_routes=[{"dst": "2001:db8::/64"}])),
    Hostile("an IPv6 next hop on an IPv4 route", 7, "'2001:db8::1' is an IPv6 value", "ipam",
            ipam=_v4(ipv4_routes=[{"dst": "169.254.170.2/32", "gw": "2001:db8::1"}])),
    # -- mtu out of range (code 7) --
    Hostile("mtu -1", 7, "mtu -1 is out of range", "bridge", config={"mtu": -1}),
    Hostile("mtu 67", 7, "mtu 67 is out of range", "bridge", config={"mtu": 67}),
    Hostile("mtu 65536", 7, "mtu 65536 is out of range", "bridge", config={"mtu": 65536}),
    Hostile("mtu 2**64", 7, f"mtu {2**64} is out of range", "bridge", config={"mtu": 2**64}),
    # -- bridge names (code 7) --
    Hostile("a bridge name of 16 bytes", 7, "'ecs-br0-16-bytes' is longer than 15", "bridge",
            config={"bridge": "ecs-br0-16-bytes"}),
    Hostile("a bridge name of 9 characters in 16 bytes", 7, "longer than 15 bytes", "bridge",
            config={"bridge": "brüüüüüüü"}),
    Hostile("a bridge name with a slash", 7, "'br/0'", "bridge", config={"bridge": "br/0"}),
    Hostile("the bridge name ..", 7, "'..'", "bridge", config={"bridge": ".."}),
    Hostile("a bridge name with a space", 7, "'br 0'", "bridge", config={"bridge": "br 0"}),
    Hostile("a bridge name with a newline", 7, "'br\\n0'", "bridge", config={"bridge": "br\n0"}),
    Hostile("a bridge name with NUL", 7, "'br\\x000'", "bridge", config={"bridge": "br\x000"}),
    Hostile("a bridge name with a colon", 7, "'br:0'", "bridge", config={"bridge": "br:0"}),
    Hostile("an empty bridge name", 7, "bridge name '' is empty", "bridge", config={"bridge": ""}),
    # -- interface names (code 4) --
    Hostile("an ifname of 16 bytes", 4, "'eth0-of-16-bytes' is longer than 15", "bridge",
            env={"CNI_IFNAME": "eth0-of-16-bytes"}),
    Hostile("an ifname with a slash", 4, "'eth/0'", "bridge", env={"CNI_IFNAME": "eth/0"}),
    Hostile("the ifname ..", 4, "'..'", "bridge", env={"CNI_IFNAME": ".."}),
    Hostile("an ifname with a space", 4, "'eth 0'", "bridge", env={"CNI_IFNAME": "eth 0"}),
    Hostile("an ifname with NUL", 4, "'eth\\x000'", "bridge", env={"CNI_IFNAME": "eth\x000"},
            e2e=False),  # exec cannot carry a NUL in the environment
    Hostile("no ifname", 4, "[CNI_IFNAME]", "bridge", env={"CNI_IFNAME": None}),
    # -- the container's namespace (codes 3, 4) --
    Hostile("CNI_NETNS naming a regular file", 3, "'/etc/hostname'", "kernel",
            env={"CNI_NETNS": "/etc/hostname"}),
    Hostile("CNI_NETNS naming a FIFO", 3, "{tmp}/fifo", "kernel",
            env={"CNI_NETNS": "{tmp}/fifo"}),
    Hostile("CNI_NETNS naming a directory", 3, "'/run/netns'", "kernel",
            env={"CNI_NETNS": "/run/netns"}),
    Hostile("CNI_NETNS naming a mount namespace", 3, "'/proc/self/ns/mnt'", "kernel",
            env={"CNI_NETNS": "/proc/self/ns/mnt"}),
    Hostile("CNI_NETNS that does not exist", 3, "'/run/netns/ecs-hostile-none'", "kernel",
            env={"CNI_NETNS": "/run/netns/ecs-hostile-none"}),
    Hostile("a relative CNI_NETNS", 4, "'run/netns/x'", "bridge", env={"CNI_NETNS": "run/netns/x"}),
    # -- the container id (codes 3, 4) --
    Hostile("no container id", 3, "missing containerID", "bridge", env={"CNI_CONTAINERID": ""}),
    Hostile("a container id with a slash", 4, "'../etc'", "bridge",
            env={"CNI_CONTAINERID": "../etc"}),
    Hostile("a container id ending in a newline", 4, "'ctr\\n'", "bridge",
            env={"CNI_CONTAINERID": "ctr\n"}),
    Hostile("a container id of 300 bytes", 4, "a" * 40, "bridge",
            env={"CNI_CONTAINERID": "a" * 300}),
    # -- plugin lookup (codes 4, 7, 101) --
    Hostile("a relative CNI_PATH", 4, "'bin'", "bridge", env={"CNI_PATH": "bin"}),
    Hostile("an empty CNI_PATH", 4, "[CNI_PATH]", "bridge", env={"CNI_PATH": ""}),
    Hostile("a CNI_PATH without the IPAM plugin", 101, "ecs-ipam", "bridge",
            env={"CNI_PATH": "/nonexistent-cni-bin"}),
    Hostile("an ipam.type that climbs out of CNI_PATH", 7, "'../ecs-ipam'", "bridge",
            ipam={"type": "../ecs-ipam"}),
    Hostile("an ipam.type that is an absolute path", 7, "'/bin/sh'", "bridge",
            ipam={"type": "/bin/sh"}),
    Hostile("ecs-bridge named as its own IPAM plugin", 7, "ecs-bridge", "kernel",
            ipam={"type": "ecs-bridge"}),
    # -- the command and CNI_ARGS (code 4) --
    Hostile("an unknown CNI_COMMAND", 4, "unknown CNI_COMMAND: BOGUS", "bridge",
            env={"CNI_COMMAND": "BOGUS"}),
    Hostile("a lower-case CNI_COMMAND", 4, "unknown CNI_COMMAND: add", "bridge",
            env={"CNI_COMMAND": "add"}),
    Hostile("CNI_ARGS without =", 4, "'IgnoreUnknown'", "bridge",
            env={"CNI_ARGS": "IgnoreUnknown"}),
    # -- the IPAM database (codes 4, 5) --
    Hostile("a relative IPAM_DB_PATH", 4, "'ipam.db'", "ipam", env={"IPAM_DB_PATH": "ipam.db"}),
    Hostile("IPAM_DB_PATH naming a FIFO", 5, "{tmp}/fifo", "ipam",
            env={"IPAM_DB_PATH": "{tmp}/fifo"}),
    Hostile("IPAM_DB_PATH naming a directory", 5, "not a regular file", "ipam",
            env={"IPAM_DB_PATH": "{tmp}"}),
    Hostile("IPAM_DB_PATH naming a character device", 5, "'/dev/null'", "ipam",
            env={"IPAM_DB_PATH": "/dev/null"}),
    Hostile("an IPAM_DB_CONNECTION_TIMEOUT that is not a duration", 4, "'soon'", "ipam",
            env={"IPAM_DB_CONNECTION_TIMEOUT": "soon"}),
    # -- DEL and GC aimed at the live attachment must refuse before touching it --
    Hostile("DEL of the live attachment without a bridge", 7, '"bridge"', "bridge",
            config={"bridge": DROP}, env={"CNI_COMMAND": "DEL", **_LIVE}),
    Hostile("DEL of the live attachment with a bad ipam.type", 7, "'../ecs-ipam'", "bridge",
            config={"bridge": LIVE_BRIDGE}, ipam={"type": "../ecs-ipam", "id": "task-1"},
            env={"CNI_COMMAND": "DEL", **_LIVE}),
    Hostile("GC with valid-attachments that is not an array", 7,
            "cni.dev/valid-attachments must be an array", "bridge",
            config={**_GC, "cni.dev/valid-attachments": "all"}, env={"CNI_COMMAND": "GC"}),
    Hostile("GC with an attachment without ifname", 7, "cni.dev/valid-attachments[0]", "bridge",
            config={**_GC, "cni.dev/valid-attachments": [{"containerID": LIVE_CONTAINER}]},
            env={"CNI_COMMAND": "GC"}),
    Hostile("GC under a 1.0.0 config", 1, "GC", "bridge",
            config={**_GC, "cniVersion": "1.0.0", "cni.dev/valid-attachments": []},
            env={"CNI_COMMAND": "GC"}),
)
"""Every hostile call; names are unique (they are the test ids)."""
