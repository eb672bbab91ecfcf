"""Opening the ecs-ipam database file: create it safely, recognise it, initialise it once.

- The parent directory, and any missing above it, is created 0700; the file is
  created 0600 by us (`O_CREAT|O_EXCL|O_NOFOLLOW`) before SQLite sees it (SQLite
  gives its -wal and -shm files the database's mode). A symbolic link or a
  non-regular file at the path is refused.
- A file is ours when its SQLite header carries our `application_id` and its
  `meta` table says `format = ecs-ipam`. The header is read with plain `read()`
  before SQLite opens anything, so garbage bytes or another application's
  database are reported (code 5) and never modified: no table is created in
  them and their journal mode is left alone.
- An empty file is initialised inside `BEGIN IMMEDIATE`, after checking again
  under the lock, so many processes starting at once initialise it exactly once.
  The journal is then switched to WAL.
"""

from __future__ import annotations

import os
import sqlite3
import stat

from ecs_bridge.domain.errors import IO_FAILURE, TRY_AGAIN, CniError

__all__ = ["APPLICATION_ID", "FORMAT", "SCHEMA_VERSION", "open_database", "storage_error"]

FORMAT = "ecs-ipam"
SCHEMA_VERSION = 1
APPLICATION_ID = int.from_bytes(b"ECIP", "big")
_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # address: big-endian, 4 bytes (IPv4) or 16 (IPv6), so that byte order is numeric
    # order and "the next free address" is a range search on the primary key.
    """CREATE TABLE allocations (
        family INTEGER NOT NULL, address BLOB NOT NULL, subnet TEXT NOT NULL,
        owner TEXT NOT NULL, gateway INTEGER NOT NULL, container_id TEXT NOT NULL,
        ifname TEXT NOT NULL, network TEXT NOT NULL, since REAL NOT NULL,
        PRIMARY KEY (family, address)) WITHOUT ROWID""",
    "CREATE INDEX allocations_by_owner ON allocations (owner)",
    "CREATE TABLE cursors (subnet TEXT PRIMARY KEY, address BLOB NOT NULL) WITHOUT ROWID",
)


def open_database(path: str, *, timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous FULL.

    `timeout` bounds each wait for another process's lock (error code 11 past it).
    """
    _make_parent(path)
    header = _create_and_read_header(path)
    if _interrupted_start(path, header):
        _roll_back(path, timeout)
        header = _create_and_read_header(path)
    _refuse_foreign(path, header)
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise storage_error(exc, path, timeout) from None
    try:
        if not header:
            _initialise(conn, path)
        _check_meta(conn, path)
        if header[18:20] != b"\x02\x02":  # not yet WAL (file format versions 2 = WAL)
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        conn.close()
        raise storage_error(exc, path, timeout) from None
    except BaseException:
        conn.close()
        raise
    return conn


def storage_error(exc: sqlite3.Error, path: str, timeout: float) -> CniError:
    """Code 11 for a lock held past `timeout`, code 5 for anything else."""
    primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # extended codes: BUSY_RECOVERY, ...
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc):
        return CniError(TRY_AGAIN, f"IPAM database {path!r} is locked by another process",
                        f"gave up after {timeout:g}s (IPAM_DB_CONNECTION_TIMEOUT): {exc}")
    return CniError(IO_FAILURE, f"IPAM database {path!r}: {exc}", type(exc).__name__)


def _io_error(path: str, what: str, exc: OSError) -> CniError:
    return CniError(IO_FAILURE, f"cannot {what} {path!r}: {exc.strerror or exc}")


def _make_parent(path: str) -> None:
    parent = os.path.dirname(path) or "."
    try:
        _make_private_dirs(parent)
    except OSError as exc:
        raise _io_error(parent, "create the IPAM database directory", exc) from None


def _make_private_dirs(directory: str) -> None:
    # Every directory created is 0700, not only the last: os.makedirs makes the
    # intermediate ones 0777 & ~umask, world-writable under umask 0, where anyone
    # could swap the database's directory for their own.
    if os.path.isdir(directory):
        return
    above = os.path.dirname(directory)
    if above and above != directory:
        _make_private_dirs(above)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise


def _create_and_read_header(path: str) -> bytes:
    """Create the file 0600 if absent; refuse a symlink or a non-regular file; return
    the first 100 bytes (empty for a new or empty file)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise _io_error(path, "create the IPAM database", exc) from None
    if os.path.islink(path):
        raise CniError(IO_FAILURE, f"IPAM database {path!r} is a symbolic link "
                       f"(to {os.readlink(path)!r}); refusing to follow it")
    try:
        # O_NONBLOCK: a FIFO must be refused as not a regular file, not block the open.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _io_error(path, "open the IPAM database", exc) from None
    try:  # closed before SQLite opens the file: closing would drop its POSIX locks
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CniError(IO_FAILURE, f"IPAM database {path!r} is not a regular file")
        return os.read(fd, _HEADER_SIZE)
    except OSError as exc:
        raise _io_error(path, "read the IPAM database", exc) from None
    finally:
        os.close(fd)


def _interrupted_start(path: str, header: bytes) -> bool:
    """A first initialisation killed half-way: a hot rollback journal beside a file
    whose header is incomplete or not yet stamped with any application id. (Another
    application's database is never rolled back by us: its id is set.)"""
    if not header or not os.path.isfile(path + "-journal"):
        return False
    unstamped = len(header) == _HEADER_SIZE and int.from_bytes(header[68:72], "big") == 0
    return len(header) < _HEADER_SIZE or not header.startswith(_MAGIC) or unstamped


def _roll_back(path: str, timeout: float) -> None:
    """Let SQLite roll the hot journal back (any read does), restoring the file as it
    was before the interrupted initialisation (empty)."""
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # then the header check below reports the file as it is


def _refuse_foreign(path: str, header: bytes) -> None:
    if not header:
        return
    if len(header) < _HEADER_SIZE or not header.startswith(_MAGIC):
        raise CniError(IO_FAILURE, f"IPAM database {path!r} is not an SQLite database; "
                       "left untouched", f"found {header[:16]!r}...")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id != APPLICATION_ID:
        raise CniError(IO_FAILURE, f"IPAM database {path!r} is an SQLite database of another "
                       "application; left untouched",
                       f"found application_id {app_id:#010x}, ecs-ipam's is {APPLICATION_ID:#010x}")


def _initialise(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("BEGIN IMMEDIATE")  # waits for any other process initialising it
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
        if app_id == APPLICATION_ID:  # another process was first
            conn.execute("ROLLBACK")
            return
        if app_id or tables:
            raise CniError(IO_FAILURE, f"IPAM database {path!r} became another application's "
                           "database while opening; left untouched",
                           f"found application_id {app_id:#010x}, tables {tables}")
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                         [("format", FORMAT), ("schema", str(SCHEMA_VERSION))])
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _check_meta(conn: sqlite3.Connection, path: str) -> None:
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.OperationalError:
        meta = {}
    if meta.get("format") != FORMAT:
        raise CniError(IO_FAILURE, f"IPAM database {path!r} is not an ecs-ipam database; "
                       "left untouched", f"meta table holds {meta!r}")
    schema = meta.get("schema", "")
    if schema != str(SCHEMA_VERSION):
        raise CniError(IO_FAILURE, f"IPAM database {path!r} has schema {schema!r}; this "
                       f"ecs-ipam reads schema {SCHEMA_VERSION}", "was it written by a newer one?")
