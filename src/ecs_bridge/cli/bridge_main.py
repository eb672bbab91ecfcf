"""`ecs-bridge`: the CNI executable. Wires the real adapters to the bridge use cases."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from ecs_bridge.cli.cni import Plugin, Request, run, serve
from ecs_bridge.domain import bridge, check, gc, plan, resultcodec
from ecs_bridge.domain.errors import INVALID_CONFIG, INVALID_ENV, CniError
from ecs_bridge.domain.netconf import parse_bridge_config
from ecs_bridge.domain.ports import IpamDelegate, Kernel
from ecs_bridge.domain.types import Result

if TYPE_CHECKING:
    from ecs_bridge.adapters.ipam_exec import LocalRunner

__all__ = ["PLUGIN", "main"]

DEFAULT_LOG_FILE = "/log/ecs-cni-bridge-plugin.log"
IPAM_EXEC = "ECS_BRIDGE_IPAM_EXEC"
"""Set to 1 to exec ecs-ipam even when it is this installation's own (see `_own_ipam`)."""
_ATTACHMENT = ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")


def _kernel() -> Kernel:
    from ecs_bridge.adapters.netlink import NetlinkKernel  # noqa: PLC0415 - only commands that need it pay for pyroute2

    return NetlinkKernel()


def _ipam(request: Request, plugin: str) -> IpamDelegate:
    from ecs_bridge.adapters.ipam_exec import ExecIpam  # noqa: PLC0415 - not every command

    return ExecIpam(plugin, cni_path=request.env.path, stdin=request.stdin,
                    environ=request.environ, version=request.version,
                    run_local=None if request.environ.get(IPAM_EXEC) == "1" else _own_ipam)


def _own_ipam(executable: str) -> LocalRunner | None:
    """Run ecs-ipam in this process when CNI_PATH leads to this installation's own:
    the same code on the same input, without a second interpreter start-up."""
    own = os.path.join(os.path.dirname(sys.executable), "ecs-ipam")
    if os.path.realpath(executable) != os.path.realpath(own):
        return None

    def run(environ: Mapping[str, str], stdin: bytes) -> tuple[int, bytes]:
        from ecs_bridge.cli import ipam_main  # noqa: PLC0415 - only when delegating

        status, output = serve(ipam_main.PLUGIN, environ, lambda: stdin)
        return status, output.encode()

    return run


def _prev_result(request: Request) -> Result | None:
    prev = request.config.get("prevResult")
    return None if prev is None else resultcodec.decode(prev, request.version,
                                                         where="prevResult")


def handle(request: Request) -> dict[str, Any] | None:
    from ecs_bridge.adapters.ipam_exec import DELEGATE_MARK  # noqa: PLC0415 - as in _ipam

    if request.environ.get(DELEGATE_MARK):
        raise CniError(INVALID_CONFIG, "ecs-bridge was exec'd as the IPAM plugin of ecs-bridge",
                       "ipam.type must name an IPAM plugin such as ecs-ipam, not ecs-bridge")
    env = request.env
    config = parse_bridge_config(request.config, command=env.command)
    request.log.bind(bridge=config.bridge)
    where = bridge.Attachment(netns=env.netns, ifname=env.ifname, container_id=env.container_id)
    # Found before anything changes, so a missing plugin fails first; ADD and CHECK
    # always have one (parse_bridge_config), DEL, STATUS and GC may not ("ipam": {}).
    ipam = _ipam(request, config.ipam_type) if config.ipam_type else None
    if env.command == "ADD":
        assert ipam is not None
        result = bridge.add(config, where, kernel=_kernel(), ipam=ipam, log=request.log,
                            random_bytes=os.urandom)
        return resultcodec.encode(plan.chain_result(_prev_result(request), result),
                                  request.version)
    if env.command == "CHECK":
        assert ipam is not None
        check.check(config, where, _prev_result(request), kernel=_kernel(), ipam=ipam)
        return None
    if env.command == "DEL":
        bridge.delete(config, where, kernel=_kernel(), ipam=ipam, log=request.log)
        return None
    if env.command == "STATUS":
        if ipam is not None:
            ipam.status()
        return None
    if env.command == "GC":
        gc.collect(config.bridge, gc.valid_attachments(request.config), kernel=_kernel(),
                   ipam=ipam, log=request.log)
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
