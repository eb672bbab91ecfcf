"""The IPAM delegate: exec the plugin named by `ipam.type` from `CNI_PATH`.

The delegate gets the very stdin bytes ecs-bridge got and the whole environment
with only `CNI_COMMAND` changed, as libcni's delegation does. Its stderr goes to
ours; its stdout is the result or a CNI error object, which is passed on with
its own code.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence

from ecs_bridge.domain import resultcodec
from ecs_bridge.domain.errors import IPAM_FAILURE, CniError
from ecs_bridge.domain.types import Result

__all__ = ["ExecIpam", "find_plugin"]

DEFAULT_TIMEOUT = 60.0


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
    ) -> None:
        self.plugin = plugin
        self.executable = find_plugin(plugin, cni_path)
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
        try:
            proc = subprocess.run(
                [self.executable],
                input=self.stdin,
                env={**self.environ, "CNI_COMMAND": command},
                stdout=subprocess.PIPE,
                timeout=self.timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CniError(IPAM_FAILURE, f"cannot run IPAM plugin {self.executable}", str(exc)) \
                from None
        if proc.returncode != 0:
            raise self._error(command, proc.returncode, proc.stdout)
        return proc.stdout

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
