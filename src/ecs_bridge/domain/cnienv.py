"""The CNI environment (`CNI_COMMAND`, `CNI_NETNS`, ...), parsed and validated.

The caller passes the environment as a mapping, so this stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from attrs import frozen

from ecs_bridge.domain.errors import INVALID_ENV, UNKNOWN_CONTAINER, CniError

__all__ = ["COMMANDS", "CniEnv", "check_ifname", "parse_cni_args", "parse_env"]

COMMANDS = frozenset({"ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"})
IFNAMSIZ = 16
_CONTAINER_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")  # fullmatch: `$` allows "id\n"
_VARIABLES = {
    "command": "CNI_COMMAND",
    "container_id": "CNI_CONTAINERID",
    "netns": "CNI_NETNS",
    "ifname": "CNI_IFNAME",
    "path": "CNI_PATH",
}


@frozen
class CniEnv:
    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    path: tuple[str, ...] = ()
    args: tuple[tuple[str, str], ...] = ()


def parse_env(environ: Mapping[str, str], *, required: Collection[str] = ()) -> CniEnv:
    """Read the CNI variables; `required` names (like `CNI_NETNS`) must be non-empty."""
    missing = [name for name in _VARIABLES.values() if name in required and not environ.get(name)]
    if missing:
        if missing == ["CNI_CONTAINERID"]:
            raise CniError(UNKNOWN_CONTAINER, "missing containerID")
        raise CniError(INVALID_ENV, f"required env variables [{','.join(missing)}] missing")
    command = environ.get("CNI_COMMAND", "")
    if command not in COMMANDS:
        raise CniError(INVALID_ENV, f"unknown CNI_COMMAND: {command}")
    container_id = environ.get("CNI_CONTAINERID", "")
    if container_id and not _CONTAINER_ID.fullmatch(container_id):
        raise CniError(
            INVALID_ENV,
            f"invalid characters in containerID {container_id!r}",
            "CNI_CONTAINERID must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$",
        )
    ifname = environ.get("CNI_IFNAME", "")
    if ifname:
        check_ifname(ifname, "CNI_IFNAME", code=INVALID_ENV)
    netns = environ.get("CNI_NETNS", "")
    if netns and not netns.startswith("/"):
        raise CniError(INVALID_ENV, f"CNI_NETNS {netns!r} is not an absolute path")
    return CniEnv(
        command=command,
        container_id=container_id,
        netns=netns,
        ifname=ifname,
        path=_parse_path(environ.get("CNI_PATH", "")),
        args=parse_cni_args(environ.get("CNI_ARGS", "")),
    )


def check_ifname(name: str, where: str, *, code: int) -> None:
    """Refuse what the kernel would refuse or misread as an interface name."""
    problem = ""
    if len(name.encode()) >= IFNAMSIZ:
        problem = f"is longer than {IFNAMSIZ - 1} bytes"
    elif name in (".", ".."):
        problem = "is not allowed"
    elif any(c in name for c in "/:\0") or any(c.isspace() for c in name):
        problem = "contains '/', ':', whitespace or NUL"
    elif not name:
        problem = "is empty"
    if problem:
        raise CniError(code, f"{where} {name!r} {problem}")


def _parse_path(value: str) -> tuple[str, ...]:
    dirs = tuple(d for d in value.split(":") if d)
    for d in dirs:
        if not d.startswith("/"):
            raise CniError(INVALID_ENV, f"CNI_PATH entry {d!r} is not an absolute path")
    return dirs


def parse_cni_args(value: str) -> tuple[tuple[str, str], ...]:
    """`K1=V1;K2=V2` as pairs; a pair without exactly one `=` is error 4."""
    pairs = []
    for item in value.split(";"):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key or "=" in val:
            raise CniError(INVALID_ENV, f"CNI_ARGS: invalid pair {item!r}")
        pairs.append((key, val))
    return tuple(pairs)
