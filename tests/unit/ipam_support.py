"""Helpers shared by the ecs-ipam unit tests: both stores, and short constructors."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ecs_bridge.adapters.memory_store import MemoryStore
from ecs_bridge.adapters.sqlite_store import SqliteStore
from ecs_bridge.domain.allocation import Allocation, AllocationStore
from ecs_bridge.domain.ipamconf import IpamConfig, parse_ipam_config
from ecs_bridge.domain.types import IPAddress, IPNetwork

STORE_KINDS = ("memory", "sqlite")


def open_store(kind: str, tmp_path: Path) -> Iterator[AllocationStore]:
    """A fresh, empty store of `kind`, closed afterwards (a fixture body)."""
    if kind == "memory":
        yield MemoryStore()
        return
    store = SqliteStore.open(str(tmp_path / "db" / "ipam.db"), timeout=5.0)
    try:
        yield store
    finally:
        store.close()


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def net(text: str) -> IPNetwork:
    return ipaddress.ip_network(text)


def alloc(address: str, subnet: str, owner: str = "o", **kw: Any) -> Allocation:
    return Allocation(address=ip(address), subnet=net(subnet), owner=owner, **kw)


def ipam_config(**keys: Any) -> IpamConfig:
    """An ADD config from `ipam` keys written with underscores (`ipv4_subnet=...`)."""
    raw = {k.replace("_", "-"): v for k, v in keys.items()}
    return parse_ipam_config({"ipam": {"type": "ecs-ipam", **raw}}, command="ADD")
