"""`ecs-ipam`: the CNI IPAM executable. Wires the SQLite store to the IPAM use cases.

On the hot path of every container start: imports only the standard library,
attrs, the domain and the SQLite adapter (no typer, no pyroute2).

The owner of an allocation is `ipam.id` when the config has one (the ECS agent
sends the task's ENI MAC), else `CNI_CONTAINERID`, so configs without `id` (from
other runtimes) work too. Only ADD needs `CNI_CONTAINERID`; ecs-ipam never
enters a namespace, so `CNI_NETNS`, `CNI_IFNAME` and `CNI_PATH` are never
required (the ECS agent's own DEL sends an empty container id and a namespace
path that does not exist).

Environment: `IPAM_DB_PATH` (absolute; default /data/eni-ipam.db),
`IPAM_DB_CONNECTION_TIMEOUT` (a Go duration; default 5s), and, for tests only,
`ECS_IPAM_TEST_PAUSE_IN_TXN` (seconds to sleep inside the write transaction;
see `SqliteStore.open`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, NoReturn

from attrs import frozen

from ecs_bridge.adapters.memory_store import MemoryStore
from ecs_bridge.adapters.sqlite_store import DEFAULT_PATH, SqliteStore
from ecs_bridge.cli.cni import Plugin, Request, run
from ecs_bridge.domain import ipam, resultcodec
from ecs_bridge.domain.allocation import Attachment
from ecs_bridge.domain.duration import parse_go_duration
from ecs_bridge.domain.errors import INVALID_ENV, NOT_AVAILABLE, CniError
from ecs_bridge.domain.ipamconf import IpamConfig, parse_ipam_config

__all__ = ["DEFAULT_LOG_FILE", "PLUGIN", "StoreSettings", "handle", "main", "store_settings"]

DEFAULT_LOG_FILE = "/log/ecs-cni-ipam-plugin.log"
DB_PATH = "IPAM_DB_PATH"
DB_TIMEOUT = "IPAM_DB_CONNECTION_TIMEOUT"
TEST_PAUSE = "ECS_IPAM_TEST_PAUSE_IN_TXN"


@frozen
class StoreSettings:
    path: str
    timeout: float
    """Seconds to wait for another process's lock."""
    test_pause: float = 0.0


def store_settings(environ: Mapping[str, str]) -> StoreSettings:
    """The database settings of the environment; a bad value is error code 4."""
    path = environ.get(DB_PATH) or DEFAULT_PATH
    if not os.path.isabs(path):
        raise CniError(INVALID_ENV, f"{DB_PATH} {path!r} is not an absolute path")
    timeout = parse_go_duration(environ.get(DB_TIMEOUT) or "5s", DB_TIMEOUT)
    pause = environ.get(TEST_PAUSE) or "0"
    try:
        test_pause = float(pause)
    except ValueError:
        raise CniError(INVALID_ENV, f"{TEST_PAUSE} {pause!r} is not a number") from None
    return StoreSettings(path=path, timeout=timeout, test_pause=test_pause)


def _open_store(settings: StoreSettings) -> SqliteStore:
    return SqliteStore.open(settings.path, timeout=settings.timeout,
                            pause_in_transaction=settings.test_pause)


def handle(request: Request) -> dict[str, Any] | None:
    command = request.env.command
    settings = store_settings(request.environ)
    request.log.bind(db=settings.path)
    config = parse_ipam_config(request.config, command=command)
    network = str(request.config.get("name") or "")
    if command == "STATUS":
        _status(settings, config)
        return None
    if command == "GC":
        _collect(settings, config, network, request)
        return None
    who = Attachment(owner=ipam.owner_of(config, request.env.container_id),
                     container_id=request.env.container_id, ifname=request.env.ifname,
                     network=network)
    request.log.bind(ipamID=who.owner)
    if command == "DEL" and not os.path.lexists(settings.path):
        # No database holds nothing: release against an empty store, create no file.
        ipam.release(MemoryStore(), config, who, log=request.log)
        return None
    with _open_store(settings) as store:
        if command == "ADD":
            result = ipam.allocate(store, config, who, now=time.time(), log=request.log)
            return resultcodec.encode(result, request.version)
        if command == "DEL":
            ipam.release(store, config, who, log=request.log)
        else:
            ipam.check(store, config, who)
    return None


def _status(settings: StoreSettings, config: IpamConfig) -> None:
    try:
        with _open_store(settings) as store:
            ipam.status(store, config)
    except CniError as exc:
        if exc.code == NOT_AVAILABLE:
            raise
        raise CniError(NOT_AVAILABLE, f"ecs-ipam cannot serve ADD: {exc.msg}",
                       exc.details) from None


def _collect(settings: StoreSettings, config: IpamConfig, network: str,
             request: Request) -> None:
    if not os.path.lexists(settings.path):
        return  # no database holds nothing
    from ecs_bridge.domain.gc import valid_attachments  # noqa: PLC0415 - GC only

    valid = valid_attachments(request.config)
    subnets = {family.subnet for family in config.families}
    with _open_store(settings) as store:
        ipam.collect(store, network, subnets, valid, log=request.log)


PLUGIN = Plugin(
    name="ecs-ipam",
    default_log_file=DEFAULT_LOG_FILE,
    required_env={"ADD": ("CNI_CONTAINERID",)},
    handle=handle,
)


def main() -> NoReturn:
    run(PLUGIN)
