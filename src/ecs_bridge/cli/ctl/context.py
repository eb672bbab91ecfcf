"""The one place where `ecs-bridge-ctl` is wired to its adapters.

Commands get a `CtlContext` from typer's `ctx.obj`; `real()` builds the one for a
real host (netlink, the SQLite store, /run/netns and /proc), and tests build one
around a `FakeKernel` and a `MemoryStore`.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

from attrs import frozen

from ecs_bridge.domain.allocation import AllocationStore
from ecs_bridge.domain.duration import parse_go_duration
from ecs_bridge.domain.errors import IO_FAILURE, CniError
from ecs_bridge.domain.inventory import NetnsIds
from ecs_bridge.domain.ports import Kernel, Logger

__all__ = ["DB_TIMEOUT_ENV", "CtlContext", "file_log", "open_sqlite_store", "real"]

DB_TIMEOUT_ENV = "IPAM_DB_CONNECTION_TIMEOUT"
T = TypeVar("T")


def file_log(command: str) -> Logger:
    """ecs-ipam's log file (`ECS_CNI_LOG_FILE`, else its default), lines marked as the
    operator's: a release by hand is on record beside the plugin's own."""
    from ecs_bridge.adapters.filelog import FileLog  # noqa: PLC0415
    from ecs_bridge.cli.ipam_main import DEFAULT_LOG_FILE  # noqa: PLC0415

    return FileLog(os.environ.get("ECS_CNI_LOG_FILE") or DEFAULT_LOG_FILE,
                   level=os.environ.get("ECS_CNI_LOGLEVEL", "info"),
                   command=f"ecs-bridge-ctl {command}")


@frozen
class CtlContext:
    make_kernel: Callable[[], Kernel]
    """A kernel for the namespace the command runs in; closed after use if it can be."""
    open_store: Callable[[str], AbstractContextManager[AllocationStore]]
    """The allocation store at a database path (an empty one when there is no file)."""
    make_netns_ids: Callable[[], NetnsIds]
    """Namespace ids as the namespace the command runs in knows them."""
    other_namespaces: Callable[[], list[str]]
    """Paths of the namespaces where the container ends of host veths may be."""
    now: Callable[[], float] = time.time
    scripts_dir: Path = Path(sysconfig.get_path("scripts"))
    """Where the console scripts (`ecs-bridge`, `ecs-ipam`) of this install are."""
    python: str = sys.executable
    """The interpreter launchers written by `install` run."""
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0
    make_log: Callable[[str], Logger] = file_log
    """Where changes to the allocations are logged, for the record."""

    def kernel(self) -> AbstractContextManager[Kernel]:
        return _closing(self.make_kernel())

    def netns_ids(self) -> AbstractContextManager[NetnsIds]:
        return _closing(self.make_netns_ids())


@contextmanager
def _closing(adapter: T) -> Iterator[T]:
    """`adapter`, closed afterwards if it can be (the fakes need no closing)."""
    try:
        yield adapter
    finally:
        close = getattr(adapter, "close", None)
        if callable(close):
            close()


@contextmanager
def open_sqlite_store(path: str) -> Iterator[AllocationStore]:
    """ecs-ipam's SQLite store at `path`; a missing file reads as an empty store and is
    not created (an operator's look must not make a database appear)."""
    from ecs_bridge.adapters.memory_store import MemoryStore  # noqa: PLC0415
    from ecs_bridge.adapters.sqlite_store import SqliteStore  # noqa: PLC0415

    try:
        os.lstat(path)
    except FileNotFoundError:
        yield MemoryStore()
        return
    except OSError as exc:  # not "absent": we may not look (EACCES), so we cannot tell
        raise CniError(IO_FAILURE, f"cannot read the IPAM database {path!r}: "
                       f"{exc.strerror or exc}") from None
    timeout = parse_go_duration(os.environ.get(DB_TIMEOUT_ENV) or "5s", DB_TIMEOUT_ENV)
    with SqliteStore.open(path, timeout=timeout) as store:
        yield store


def real() -> CtlContext:
    """The context of a real host: netlink, SQLite, /run/netns and /proc."""
    from ecs_bridge.adapters.netlink import NetlinkKernel  # noqa: PLC0415 - pyroute2 on use
    from ecs_bridge.adapters.netns_ids import NetlinkNetnsIds  # noqa: PLC0415
    from ecs_bridge.adapters.netns_paths import other_namespaces  # noqa: PLC0415

    return CtlContext(make_kernel=NetlinkKernel, open_store=open_sqlite_store,
                      make_netns_ids=NetlinkNetnsIds, other_namespaces=other_namespaces)
