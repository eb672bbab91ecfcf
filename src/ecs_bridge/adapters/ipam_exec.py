"""The IPAM delegate: exec the plugin named by `ipam.type` from `CNI_PATH`.

The delegate gets the very stdin bytes ecs-bridge got and the whole environment
with only `CNI_COMMAND` changed, as libcni's delegation does. Its stderr goes to
ours; its stdout is the result or a CNI error object, which is passed on with
its own code.

When the executable found is this installation's own `ecs-ipam`, the caller may
pass `run_local`, which runs that same plugin in this process on the same
environment and stdin: the same answer, without paying a second interpreter
start-up on every container start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence

from ecs_bridge.domain import resultcodec
from ecs_bridge.domain.errors import IPAM_FAILURE, CniError
from ecs_bridge.domain.types import Result

__all__ = ["DELEGATE_MARK", "ExecIpam", "LocalRunner", "find_plugin"]

DEFAULT_TIMEOUT = 60.0
DELEGATE_MARK = "ECS_BRIDGE_IPAM_DELEGATE"
"""Set to 1 in the environment of an exec'd IPAM plugin. ecs-bridge refuses to run with
it: `ipam.type` naming ecs-bridge (or a link to it) would otherwise exec ecs-bridge
from ecs-bridge without end."""

LocalRunner = Callable[[Mapping[str, str], bytes], tuple[int, bytes]]
"""Runs the IPAM plugin in-process: (environment, stdin) -> (exit status, stdout)."""


def find_plugin(name: str, cni_path: Sequence[str]) -> str:
    """The first regular file `<dir>/<name>` along `CNI_PATH`."""
    for directory in cni_path:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    raise CniError(
        IPAM_FAILURE, f'failed to find IPAM plugin "{name}" in CNI_PATH {list(cni_path)}'
    )


class ExecIpam:
    """Satisfies `domain.ports.IpamDelegate` by running the plugin executable."""

    def __init__(
        self,
        plugin: str,
        *,
        cni_path: Sequence[str],
        stdin: bytes,
        environ: Mapping[str, str],
        version: str,
        timeout: float = DEFAULT_TIMEOUT,
        run_local: Callable[[str], LocalRunner | None] | None = None,
    ) -> None:
        """`run_local(executable)` returns a runner when `executable` is a plugin this
        process can run itself, else None (then the executable is exec'd)."""
        self.plugin = plugin
        self.executable = find_plugin(plugin, cni_path)
        self.local = run_local(self.executable) if run_local is not None else None
        self.stdin = stdin
        self.environ = dict(environ)
        self.version = version
        self.timeout = timeout

    def add(self) -> Result:
        out = self._exec("ADD")
        try:
            raw = json.loads(out)
        except ValueError:
            raise CniError(
                IPAM_FAILURE, f"IPAM plugin {self.plugin} printed a result that is not JSON",
                out[:200].decode("utf-8", "replace"),
            ) from None
        return resultcodec.decode(raw, self.version, where=f"IPAM plugin {self.plugin} result")

    def delete(self) -> None:
        self._exec("DEL")

    def check(self) -> None:
        self._exec("CHECK")

    def status(self) -> None:
        self._exec("STATUS")

    def gc(self) -> None:
        self._exec("GC")

    def _exec(self, command: str) -> bytes:
        env = {**self.environ, "CNI_COMMAND": command}
        if self.local is not None:
            status, stdout = self.local(env, self.stdin)
        else:
            status, stdout = self._spawn(env)
        if status != 0:
            raise self._error(command, status, stdout)
        return stdout

    def _spawn(self, env: Mapping[str, str]) -> tuple[int, bytes]:
        import subprocess  # noqa: PLC0415 - not needed when the plugin runs in-process

        try:
            proc = subprocess.run([self.executable], input=self.stdin,
                                  env={**env, DELEGATE_MARK: "1"},
                                  stdout=subprocess.PIPE, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CniError(IPAM_FAILURE, f"cannot run IPAM plugin {self.executable}",
                           str(exc)) from None
        return proc.returncode, proc.stdout

    def _error(self, command: str, status: int, stdout: bytes) -> CniError:
        try:
            obj = json.loads(stdout)
            code, msg = int(obj["code"]), str(obj["msg"])
            details = str(obj.get("details", ""))
        except (ValueError, KeyError, TypeError):
            return CniError(
                IPAM_FAILURE,
                f"IPAM plugin {self.plugin} {command} failed with exit status {status}",
                stdout[:200].decode("utf-8", "replace"),
            )
        return CniError(code, f"IPAM plugin {self.plugin} {command} failed: {msg}", details)
