"""The `AllocationStore` of ecs-ipam: one SQLite file shared by every plugin process.

Each transaction is `BEGIN IMMEDIATE ... COMMIT`: it takes the database's write
lock before reading, so two processes never both see an address as free. The
journal is WAL with `synchronous=FULL`, so a process killed at any instant
leaves either the whole transaction or none of it. See `sqlite_file` for how
the file is created, recognised and initialised.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ecs_bridge.adapters.sqlite_file import open_database, storage_error
from ecs_bridge.domain.allocation import Allocation
from ecs_bridge.domain.errors import ADDRESS_CONFLICT, CniError
from ecs_bridge.domain.types import IPAddress, IPNetwork

__all__ = ["DEFAULT_PATH", "PAUSE_MARKER", "SQL", "SqliteStore", "SqliteTransaction"]

DEFAULT_PATH = "/data/eni-ipam.db"
PAUSE_MARKER = "ecs-ipam: test pause inside the write transaction"
"""Printed on stderr by the test-only pause (see `SqliteStore.open`)."""

EVERY_ALLOCATION = (
    "SELECT family, address, subnet, owner, gateway, container_id, ifname, network, since "
    "FROM allocations ORDER BY family, address"
)
"""A whole-table read (GC, operators): kept out of `SQL`, whose statements must all
use an index, since ADD and DEL run them."""

SQL = {
    "holder": "SELECT family, address, subnet, owner, gateway, container_id, ifname, network, "
              "since FROM allocations WHERE family = ? AND address = ?",
    "held_by": "SELECT family, address, subnet, owner, gateway, container_id, ifname, network, "
               "since FROM allocations WHERE owner = ? ORDER BY family, address",
    "lowest_free": "SELECT address FROM allocations WHERE family = ? AND address >= ? "
                   "AND address <= ? ORDER BY family, address",
    "insert": "INSERT INTO allocations (family, address, subnet, owner, gateway, container_id, "
              "ifname, network, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "delete": "DELETE FROM allocations WHERE family = ? AND address = ?",
    "cursor": "SELECT address FROM cursors WHERE subnet = ?",
    "set_cursor": "INSERT INTO cursors (subnet, address) VALUES (?, ?) "
                  "ON CONFLICT (subnet) DO UPDATE SET address = excluded.address",
}
"""Every statement a transaction runs; each is an indexed lookup or range search."""


def _allocation(row: tuple[Any, ...]) -> Allocation:
    _, address, subnet, owner, gateway, container_id, ifname, network, since = row
    return Allocation(address=ipaddress.ip_address(address), subnet=ipaddress.ip_network(subnet),
                      owner=owner, gateway=bool(gateway), container_id=container_id,
                      ifname=ifname, network=network, since=since)


class SqliteTransaction:
    """The `StoreTransaction` of one open `BEGIN IMMEDIATE`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def holder(self, address: IPAddress) -> Allocation | None:
        row = self._conn.execute(SQL["holder"], (address.version, address.packed)).fetchone()
        return None if row is None else _allocation(row)

    def held_by(self, owner: str) -> list[Allocation]:
        return [_allocation(row) for row in self._conn.execute(SQL["held_by"], (owner,))]

    def every_allocation(self) -> list[Allocation]:
        return [_allocation(row) for row in self._conn.execute(EVERY_ALLOCATION)]

    def lowest_free(self, first: IPAddress, last: IPAddress) -> IPAddress | None:
        # Walk the held addresses from `first` up; the first gap is the answer. Rows
        # are read one at a time, so this stops after the run of held addresses.
        candidate = int(first)
        rows = self._conn.execute(SQL["lowest_free"], (first.version, first.packed, last.packed))
        try:
            for (blob,) in rows:
                if int.from_bytes(blob, "big") != candidate:
                    break
                candidate += 1
        finally:
            rows.close()
        return first + (candidate - int(first)) if candidate <= int(last) else None

    def insert(self, allocation: Allocation) -> None:
        a = allocation
        try:
            self._conn.execute(SQL["insert"], (
                a.address.version, a.address.packed, a.subnet.with_prefixlen, a.owner,
                int(a.gateway), a.container_id, a.ifname, a.network, a.since))
        except sqlite3.IntegrityError:
            raise CniError(ADDRESS_CONFLICT, f"address {a.address} is already held") from None

    def delete(self, address: IPAddress) -> None:
        self._conn.execute(SQL["delete"], (address.version, address.packed))

    def cursor(self, subnet: IPNetwork) -> IPAddress | None:
        row = self._conn.execute(SQL["cursor"], (subnet.with_prefixlen,)).fetchone()
        return None if row is None else ipaddress.ip_address(row[0])

    def set_cursor(self, subnet: IPNetwork, address: IPAddress) -> None:
        self._conn.execute(SQL["set_cursor"], (subnet.with_prefixlen, address.packed))


class SqliteStore:
    def __init__(self, conn: sqlite3.Connection, *, path: str, timeout: float,
                 pause_in_transaction: float = 0.0) -> None:
        self._conn = conn
        self.path = path
        self.timeout = timeout
        self._pause = pause_in_transaction

    @classmethod
    def open(cls, path: str = DEFAULT_PATH, *, timeout: float = 5.0,
             pause_in_transaction: float = 0.0) -> SqliteStore:
        """Open (creating and initialising if needed) the database at `path`.

        `pause_in_transaction` is for tests only (ecs-ipam reads it from
        `ECS_IPAM_TEST_PAUSE_IN_TXN`, unset in production): that many seconds are
        spent inside every write transaction, after its writes and before COMMIT,
        once `PAUSE_MARKER` is on stderr, so a test can kill the process there.
        """
        conn = open_database(path, timeout=timeout)
        return cls(conn, path=path, timeout=timeout, pause_in_transaction=pause_in_transaction)

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path, self.timeout) from None
        try:
            yield SqliteTransaction(self._conn)
            self._test_pause()
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise storage_error(exc, self.path, self.timeout) from None
        except BaseException:
            self._rollback()
            raise

    def _test_pause(self) -> None:
        if self._pause > 0:
            sys.stderr.write(PAUSE_MARKER + "\n")
            sys.stderr.flush()
            time.sleep(self._pause)

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the connection is closed next; SQLite rolls back then

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
