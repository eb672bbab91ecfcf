"""The ecs-bridge network config, parsed and validated before anything on the host changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from ecs_bridge.domain import fields
from ecs_bridge.domain.cnienv import check_ifname
from ecs_bridge.domain.errors import INVALID_CONFIG

__all__ = ["DEFAULT_MTU", "MAX_MTU", "MIN_MTU", "BridgeConfig", "parse_bridge_config"]

DEFAULT_MTU = 1500
MIN_MTU = 68
"""The smallest MTU IPv4 allows (RFC 791); the kernel refuses less on a bridge."""
MAX_MTU = 65535


@frozen
class BridgeConfig:
    bridge: str
    mtu: int
    ipam_type: str
    """The IPAM plugin to delegate to; `` when the config has no IPAM (`"ipam": {}`)."""
    network: str = ""


def parse_bridge_config(raw: Mapping[str, Any], *, command: str) -> BridgeConfig:
    """Validate the keys ecs-bridge reads; unknown keys (`isGateway`, ...) are ignored.

    An `ipam` object with a `type` is required for ADD and CHECK; on DEL, an empty
    or missing `ipam` means "skip IPAM" (the ECS agent releases the address itself).
    """
    bridge = fields.opt_str(raw, "bridge", "bridge")
    if bridge is None:
        raise fields.invalid('missing required key "bridge" (the name of the bridge)')
    check_ifname(bridge, "bridge name", code=INVALID_CONFIG)
    mtu = fields.opt_int(raw, "mtu", "mtu")
    if mtu is None or mtu == 0:  # the ECS agent sends 0 for "default"
        mtu = DEFAULT_MTU
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise fields.invalid(f"mtu {mtu} is out of range", f"must be {MIN_MTU} to {MAX_MTU}")
    return BridgeConfig(
        bridge=bridge,
        mtu=mtu,
        ipam_type=_ipam_type(raw, required=command in ("ADD", "CHECK")),
        network=fields.opt_str(raw, "name", "name") or "",
    )


def _ipam_type(raw: Mapping[str, Any], *, required: bool) -> str:
    ipam = fields.opt_object(raw, "ipam", "ipam")
    plugin = "" if ipam is None else fields.opt_str(ipam, "type", "ipam.type") or ""
    if not plugin:
        if required:
            what = "missing" if ipam is None else "has no type"
            raise fields.invalid(f'IPAM config {what}: "ipam" must name a plugin in "type"')
        return ""
    if "/" in plugin or plugin in (".", "..") or "\0" in plugin:
        raise fields.invalid(f"invalid IPAM plugin name {plugin!r}", "ipam.type must be a name")
    return plugin
