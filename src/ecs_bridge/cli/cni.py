"""The CNI exec protocol, shared by `ecs-bridge` and `ecs-ipam`.

Reads flags, the environment and stdin; answers VERSION; checks what every
command shares (JSON, `cniVersion`, `name`, the CNI variables); hands the
request to the plugin; prints the result or the CNI error object on stdout and
exits 0 or 1. This module is on the hot path of every container start: it
imports only the standard library and the domain.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any, NoReturn

from attrs import frozen

from ecs_bridge import __version__
from ecs_bridge.adapters.filelog import FileLog
from ecs_bridge.domain.cnienv import CniEnv, parse_env
from ecs_bridge.domain.errors import (
    DECODE_FAILURE,
    INCOMPATIBLE_VERSION,
    INTERNAL,
    INVALID_CONFIG,
    CniError,
)
from ecs_bridge.domain.versions import LATEST, SUPPORTED_VERSIONS, at_least, require_supported

__all__ = ["MAX_STDIN", "Plugin", "Request", "run", "serve"]

MAX_STDIN = 1 << 20
"""A network config is a few hundred bytes; anything past 1 MiB is refused unread."""

_NETWORK_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")
"""Matched with `fullmatch`: `$` would let a trailing newline through, as Go's `$` does not."""
_MIN_VERSION = {"CHECK": "0.4.0", "STATUS": "1.1.0", "GC": "1.1.0"}


@frozen
class Request:
    """One CNI call: the parsed environment and the decoded config."""

    env: CniEnv
    config: Mapping[str, Any]
    version: str
    stdin: bytes
    environ: Mapping[str, str]
    log: FileLog


@frozen
class Plugin:
    name: str
    """`ecs-bridge` or `ecs-ipam`."""
    default_log_file: str
    required_env: Mapping[str, Collection[str]]
    """For each command, the CNI variables that must be non-empty."""
    handle: Callable[[Request], dict[str, Any] | None]
    """Runs one command; returns the object to print, or None for no output."""


def run(plugin: Plugin, argv: list[str] | None = None, *,
        terminate: Callable[[int], NoReturn] | None = None) -> NoReturn:
    """The executable's main: flags, or one CNI call on os.environ and stdin.

    After a call the process ends with `os._exit` once its output is flushed: the
    answer is out, and tearing down a few hundred modules would add about 25 ms to
    every call that runs in its own process. `terminate` replaces that (the helper's
    worker passes `sys.exit`, to report the status before it exits)."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        sys.exit(_flags(plugin, args))
    if not os.environ.get("CNI_COMMAND"):
        sys.stderr.write(
            f"{plugin.name} {__version__}: a CNI plugin; run it with CNI_COMMAND set\n"
            f"CNI protocol versions supported: {', '.join(SUPPORTED_VERSIONS)}\n"
        )
        sys.exit(0)
    status, output = serve(plugin, os.environ, _read_stdin)
    if output:
        sys.stdout.write(output)
    sys.stdout.flush()
    sys.stderr.flush()
    (terminate or os._exit)(status)


def serve(
    plugin: Plugin, environ: Mapping[str, str], read_stdin: Callable[[], bytes]
) -> tuple[int, str]:
    """One CNI call: the exit status and what goes on stdout (a JSON line, or "").

    Touches no process-wide state, so a caller may run a plugin in-process with an
    environment of its own (see `adapters.ipam_exec.LocalIpam`)."""
    log = FileLog(
        environ.get("ECS_CNI_LOG_FILE") or plugin.default_log_file,
        level=environ.get("ECS_CNI_LOGLEVEL", "info"),
        command=environ.get("CNI_COMMAND", ""),
        containerID=environ.get("CNI_CONTAINERID", ""),
        netns=environ.get("CNI_NETNS", ""),
        ifname=environ.get("CNI_IFNAME", ""),
    )
    version = LATEST
    command = environ.get("CNI_COMMAND", "")
    try:
        stdin = read_stdin()
        if command == "VERSION":
            return 0, _json_line(_version_info(stdin))
        config = _decode_config(stdin)
        version = require_supported(_config_version(config))
        if command in _MIN_VERSION and not at_least(version, _MIN_VERSION[command]):
            raise CniError(
                INCOMPATIBLE_VERSION,
                f"config version does not allow {command}",
                f'config is "{version}", {command} needs {_MIN_VERSION[command]} or later',
            )
        _check_name(config)
        _check_reserved(config)
        env = parse_env(environ, required=plugin.required_env.get(command, ()))
        output = plugin.handle(Request(env, config, version, stdin, environ, log))
        log.info(f"{command} succeeded")
        return 0, "" if output is None else _json_line(output)
    except CniError as exc:
        log.error(f"{command} failed: {exc}", code=exc.code)
        return 1, _json_line(_error_object(exc, version))
    except Exception as exc:  # a bug: still answer the runtime in its protocol
        log.error(f"internal error: {type(exc).__name__}: {exc}")
        error = CniError(INTERNAL, "internal error", f"{type(exc).__name__}: {exc}")
        return 1, _json_line(_error_object(error, version))
    finally:
        log.close()


def _flags(plugin: Plugin, args: list[str]) -> int:
    flag = args[0]
    if flag in ("--version", "-version"):
        _print({"version": __version__, "dirty": False, "gitShortHash": _git_hash()})
        return 0
    if flag in ("--capabilities", "-capabilities"):
        _print({"capabilities": ["awsvpc-network-mode"]})
        return 0
    sys.stderr.write(f"usage: {plugin.name} [--version | --capabilities]\n"
                     f"unknown flag {flag!r}; run it as a CNI plugin with CNI_COMMAND set\n")
    return 2


def _git_hash() -> str:
    from ecs_bridge import buildinfo  # noqa: PLC0415 - read only for --version

    return buildinfo.git_short_hash()


def _read_stdin() -> bytes:
    if sys.stdin is None or sys.stdin.isatty():
        return b""
    data = sys.stdin.buffer.read(MAX_STDIN + 1)
    if len(data) > MAX_STDIN:
        raise CniError(DECODE_FAILURE, f"network config on stdin is larger than {MAX_STDIN} bytes")
    return data


def _decode_config(stdin: bytes) -> Mapping[str, Any]:
    try:
        text = stdin.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CniError(DECODE_FAILURE, "error unmarshall network config: stdin is not UTF-8",
                       f"invalid byte at offset {exc.start}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CniError(DECODE_FAILURE, f"error unmarshall network config: {exc}") from None
    except RecursionError:  # `[[[[...` well under MAX_STDIN: bad input, not a bug (999)
        raise CniError(DECODE_FAILURE, "error unmarshall network config: nested too deeply",
                       f"{len(stdin)} bytes of arrays or objects inside each other") from None
    if not isinstance(config, dict):
        raise CniError(DECODE_FAILURE,
                       f"error unmarshall network config: not a JSON object: {text[:60]!r}")
    return config


def _config_version(config: Mapping[str, Any]) -> str:
    value = config.get("cniVersion", "")
    if not isinstance(value, str):
        raise CniError(DECODE_FAILURE, f"cniVersion must be a string, got {value!r}")
    return value


def _check_name(config: Mapping[str, Any]) -> None:
    # libcni always sends a name; the ECS agent's direct IPAM calls may not, so
    # a missing name is accepted and only a malformed one refused.
    name = config.get("name")
    if name is None:
        return
    if not isinstance(name, str) or not _NETWORK_NAME.fullmatch(name):
        raise CniError(INVALID_CONFIG, f"invalid characters found in network name {name!r}")


def _check_reserved(config: Mapping[str, Any]) -> None:
    # What the runtime inserts must have the shape the spec gives it, or nothing later
    # can trust it (prevResult is decoded by the commands that read it).
    for key in ("args", "runtimeConfig", "prevResult", "capabilities"):
        value = config.get(key)
        if value is not None and not isinstance(value, dict):
            raise CniError(INVALID_CONFIG, f"{key} must be an object, got {value!r:.60}")


def _version_info(stdin: bytes) -> dict[str, Any]:
    asked = ""
    try:
        asked = json.loads(stdin or b"{}").get("cniVersion", "")
    except (ValueError, AttributeError, RecursionError):  # VERSION answers whatever came
        pass
    version = asked if asked in SUPPORTED_VERSIONS else LATEST
    return {"cniVersion": version, "supportedVersions": list(SUPPORTED_VERSIONS)}


def _error_object(exc: CniError, version: str) -> dict[str, Any]:
    out: dict[str, Any] = {"cniVersion": version, "code": exc.code, "msg": exc.msg}
    if exc.details:
        out["details"] = exc.details
    return out


def _json_line(obj: object) -> str:
    return json.dumps(obj) + "\n"


def _print(obj: object) -> None:
    sys.stdout.write(_json_line(obj))
    sys.stdout.flush()
