"""The runtime's side of the CNI exec protocol: what libcni does for one plugin.

Find the executable on the CNI path, exec it with the CNI variables added to the
environment and the network config on stdin, and read its stdout: a result, nothing,
or a CNI error object (re-raised as a `CniError` with the plugin's code).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from attrs import field, frozen

from ecs_bridge.domain.errors import DECODE_FAILURE, INTERNAL, INVALID_ENV, IO_FAILURE, CniError

__all__ = ["PluginCall", "exec_plugin", "find_executable", "load_config", "netns_path"]

DEFAULT_TIMEOUT = 120.0


@frozen
class PluginCall:
    """One exec: the CNI variables, and where the plugins are."""

    command: str
    cni_path: tuple[str, ...]
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    extra_env: Mapping[str, str] = field(factory=dict)
    """More variables for the plugin (`IPAM_DB_PATH`, ...)."""

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with the CNI variables of this call (the others are dropped)."""
        env = {k: v for k, v in base.items() if not k.startswith("CNI_")}
        env.update(self.extra_env)
        env.update({"CNI_COMMAND": self.command, "CNI_CONTAINERID": self.container_id,
                    "CNI_NETNS": self.netns, "CNI_IFNAME": self.ifname,
                    "CNI_PATH": ":".join(self.cni_path)})
        return env


def netns_path(value: str) -> str:
    """A namespace as `CNI_NETNS` wants it: a name made by `ip netns add` becomes its
    /run/netns path; a path is kept."""
    return value if not value or "/" in value else f"/run/netns/{value}"


def find_executable(name: str, cni_path: Sequence[str]) -> str:
    """The first executable `<dir>/<name>` along the CNI path, as libcni looks."""
    for directory in cni_path:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise CniError(INVALID_ENV, f"no executable {name!r} in --cni-path {':'.join(cni_path)!r}",
                   "install the plugins there: ecs-bridge-ctl install --cni-bin-dir DIR")


def load_config(path: Path | None, *, stdin: IO[str], cni_version: str | None,
                prev_result: Path | None = None) -> dict[str, Any]:
    """The network config from `path` (`-` or None: stdin), `cniVersion` overridden
    when asked, `prevResult` inserted from a file when given."""
    from_stdin = path is None or str(path) == "-"
    if from_stdin and stdin.isatty():
        raise CniError(INVALID_ENV, "no network config: give --conf FILE or pipe it on stdin")
    where = "stdin" if from_stdin or path is None else str(path)
    config = _read_json(None if from_stdin else path, stdin, where)
    if not isinstance(config, dict):
        raise CniError(DECODE_FAILURE, f"network config in {where} is not a JSON object",
                       f"found {type(config).__name__}")
    if cni_version:
        config["cniVersion"] = cni_version
    if prev_result is not None:
        config["prevResult"] = _read_json(prev_result, stdin, str(prev_result))
    return config


def _read_json(path: Path | None, stdin: IO[str], where: str) -> Any:
    try:
        text = stdin.read() if path is None else path.read_text()
    except OSError as exc:
        raise CniError(IO_FAILURE, f"cannot read {where}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CniError(DECODE_FAILURE, f"{where} is not JSON: {exc}") from None


def exec_plugin(plugin: str, call: PluginCall, config: Mapping[str, Any], *,
                environ: Mapping[str, str] | None = None, prefix: Sequence[str] = (),
                timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Run `plugin` for `call`; its parsed stdout (None when it printed nothing).

    `prefix` runs it through another command (`ip netns exec NAME`). The plugin's
    stderr is passed through. A failure raises the plugin's own error."""
    executable = find_executable(plugin, call.cni_path)
    env = call.environ(os.environ if environ is None else environ)
    try:
        proc = subprocess.run([*prefix, executable], input=json.dumps(config).encode(),
                              env=env, stdout=subprocess.PIPE, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CniError(IO_FAILURE, f"cannot run {executable}", str(exc)) from None
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise _plugin_error(plugin, call.command, proc.returncode, out)
    if not out.strip():
        return None
    try:
        return json.loads(out)
    except ValueError:
        raise CniError(DECODE_FAILURE, f"{plugin} {call.command} printed something that is "
                       "not JSON", out[:200]) from None


def _plugin_error(plugin: str, command: str, status: int, out: str) -> CniError:
    try:
        obj = json.loads(out)
        return CniError(int(obj["code"]), str(obj["msg"]), str(obj.get("details", "")))
    except (ValueError, KeyError, TypeError):
        return CniError(INTERNAL, f"{plugin} {command} failed with exit status {status} and "
                        "no CNI error object", out[:200])
