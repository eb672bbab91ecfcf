"""`ecs-bridge`: the CNI executable. Wires the real adapters to the bridge use cases."""

from __future__ import annotations

import os
from typing import Any, NoReturn

from ecs_bridge.cli.cni import Plugin, Request, run
from ecs_bridge.domain import bridge, check, gc, plan, resultcodec
from ecs_bridge.domain.errors import INVALID_ENV, CniError
from ecs_bridge.domain.netconf import parse_bridge_config
from ecs_bridge.domain.ports import IpamDelegate, Kernel
from ecs_bridge.domain.types import Result

__all__ = ["PLUGIN", "main"]

DEFAULT_LOG_FILE = "/log/ecs-cni-bridge-plugin.log"
_ATTACHMENT = ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")


def _kernel() -> Kernel:
    from ecs_bridge.adapters.netlink import NetlinkKernel  # noqa: PLC0415 - only commands that need it pay for pyroute2

    return NetlinkKernel()


def _ipam(request: Request, plugin: str) -> IpamDelegate:
    from ecs_bridge.adapters.ipam_exec import ExecIpam  # noqa: PLC0415 - subprocess is not free

    return ExecIpam(plugin, cni_path=request.env.path, stdin=request.stdin,
                    environ=request.environ, version=request.version)


def _prev_result(request: Request) -> Result | None:
    prev = request.config.get("prevResult")
    return None if prev is None else resultcodec.decode(prev, request.version,
                                                         where="prevResult")


def handle(request: Request) -> dict[str, Any] | None:
    env = request.env
    config = parse_bridge_config(request.config, command=env.command)
    request.log.bind(bridge=config.bridge)
    where = bridge.Attachment(netns=env.netns, ifname=env.ifname, container_id=env.container_id)
    if env.command == "ADD":
        ipam = _ipam(request, config.ipam_type)  # a missing plugin fails before any change
        result = bridge.add(config, where, kernel=_kernel(), ipam=ipam, log=request.log,
                            random_bytes=os.urandom)
        return resultcodec.encode(plan.chain_result(_prev_result(request), result),
                                  request.version)
    if env.command == "DEL":
        delegate = _ipam(request, config.ipam_type) if config.ipam_type else None
        bridge.delete(config, where, kernel=_kernel(), ipam=delegate, log=request.log)
        return None
    if env.command == "CHECK":
        check.check(config, where, _prev_result(request), kernel=_kernel(),
                    ipam=_ipam(request, config.ipam_type))
        return None
    delegate = _ipam(request, config.ipam_type) if config.ipam_type else None
    if env.command == "STATUS":
        if delegate is not None:
            delegate.status()
        return None
    if env.command == "GC":
        gc.collect(config.bridge, gc.valid_attachments(request.config), kernel=_kernel(),
                   ipam=delegate, log=request.log)
        return None
    raise CniError(INVALID_ENV, f"CNI_COMMAND {env.command} is not supported by ecs-bridge")


PLUGIN = Plugin(
    name="ecs-bridge",
    default_log_file=DEFAULT_LOG_FILE,
    required_env={"ADD": _ATTACHMENT, "DEL": ("CNI_IFNAME",), "CHECK": _ATTACHMENT},
    handle=handle,
)


def main() -> NoReturn:
    run(PLUGIN)
