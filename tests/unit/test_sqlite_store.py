"""The SQLite store's file handling: creation, recognition of foreign files (never
modified), symlinks, the lock timeout, and indexed queries."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ecs_bridge.adapters.sqlite_file import APPLICATION_ID
from ecs_bridge.adapters.sqlite_store import SQL, SqliteStore
from ecs_bridge.domain.errors import IO_FAILURE, TRY_AGAIN, CniError
from tests.unit.ipam_support import alloc, ip


def open_store(path: Path, timeout: float = 5.0) -> SqliteStore:
    return SqliteStore.open(str(path), timeout=timeout)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_database_and_its_directory_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "ipam.db"
    open_store(path).close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_database_is_marked_as_ours_and_journals_with_wal(tmp_path: Path) -> None:
    path = tmp_path / "ipam.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert dict(conn.execute("SELECT key, value FROM meta")) == {
            "format": "ecs-ipam", "schema": "1"}
    finally:
        conn.close()


def test_an_empty_file_is_initialised_and_an_existing_one_keeps_its_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ipam.db"
    path.touch(mode=0o644)
    with open_store(path) as store, store.transaction() as tx:
        tx.insert(alloc("10.0.0.2", "10.0.0.0/24", "kept"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # a file we did not create keeps its mode
    with open_store(path) as store, store.transaction() as tx:
        holder = tx.holder(ip("10.0.0.2"))
    assert holder is not None
    assert holder.owner == "kept"


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 50)


def _short_garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00")


def _other_app(path: Path, journal: str = "delete") -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('alice')")
    conn.commit()
    conn.close()


def _other_app_wal(path: Path) -> None:
    _other_app(path, "wal")


def _empty_schema_other_app_id(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 42")
    conn.commit()
    conn.close()


def _our_id_without_meta(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("CREATE TABLE unrelated (x)")
    conn.commit()
    conn.close()


def _newer_schema(path: Path) -> None:
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(("make", "needle"), [
    (_garbage, "is not an SQLite database"),
    (_short_garbage, "is not an SQLite database"),
    (_other_app, "another application"),
    (_other_app_wal, "another application"),
    (_empty_schema_other_app_id, "application_id 0x0000002a"),
    (_our_id_without_meta, "is not an ecs-ipam database"),
    (_newer_schema, "has schema '2'"),
])
def test_a_file_that_is_not_our_database_is_error_5_and_left_untouched(
    tmp_path: Path, make: Callable[[Path], None], needle: str
) -> None:
    path = tmp_path / "ipam.db"
    make(path)
    before, siblings = digest(path), sorted(os.listdir(tmp_path))
    with pytest.raises(CniError) as caught:
        open_store(path)
    assert caught.value.code == IO_FAILURE
    assert str(path) in caught.value.msg
    assert needle in str(caught.value)
    assert digest(path) == before
    assert sorted(os.listdir(tmp_path)) == siblings


def test_a_symlink_at_the_database_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.db"
    open_store(target).close()
    before = digest(target)
    link = tmp_path / "ipam.db"
    link.symlink_to(target)
    with pytest.raises(CniError, match="is a symbolic link") as caught:
        open_store(link)
    assert caught.value.code == IO_FAILURE
    assert digest(target) == before


def test_a_dangling_symlink_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    link = tmp_path / "ipam.db"
    link.symlink_to(tmp_path / "missing.db")
    with pytest.raises(CniError, match="is a symbolic link"):
        open_store(link)
    assert not (tmp_path / "missing.db").exists()


def test_a_directory_at_the_database_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ipam.db").mkdir()
    with pytest.raises(CniError, match="is not a regular file"):
        open_store(tmp_path / "ipam.db")


def test_a_lock_held_past_the_timeout_is_error_11(tmp_path: Path) -> None:
    path = tmp_path / "ipam.db"
    open_store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with open_store(path, timeout=0.05) as store, pytest.raises(CniError) as caught, \
                store.transaction():
            pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert caught.value.code == TRY_AGAIN
    assert "locked by another process" in caught.value.msg
    assert "IPAM_DB_CONNECTION_TIMEOUT" in caught.value.details


@pytest.mark.parametrize("name", sorted(SQL))
def test_every_statement_uses_an_index_not_a_scan_or_a_sort(tmp_path: Path, name: str) -> None:
    path = tmp_path / "ipam.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    try:
        params = tuple(None for _ in range(SQL[name].count("?")))
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + SQL[name],
                                                          params))
    finally:
        conn.close()
    assert "SCAN" not in plan
    assert "TEMP B-TREE" not in plan
    if not SQL[name].startswith("INSERT"):
        assert "SEARCH" in plan


HALF_WRITTEN_START = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size=1")  # spill pages into the file before the commit
conn.execute("BEGIN IMMEDIATE")
conn.execute("CREATE TABLE filler (x BLOB)")
for _ in range(50):
    conn.execute("INSERT INTO filler VALUES (zeroblob(4000))")
os.kill(os.getpid(), 9)
"""


def test_a_first_start_killed_half_way_is_rolled_back_and_initialised(tmp_path: Path) -> None:
    path = tmp_path / "ipam.db"
    path.touch(mode=0o600)
    killed = subprocess.run([sys.executable, "-c", HALF_WRITTEN_START, str(path)])
    assert killed.returncode == -9
    assert (tmp_path / "ipam.db-journal").exists()
    assert path.stat().st_size > 0  # pages spilled into the file, never committed
    assert not path.read_bytes().startswith(b"SQLite format 3\x00")
    store = open_store(path)
    try:
        with store.transaction() as tx:
            tx.insert(alloc("10.0.0.2", "10.0.0.0/24", "a"))
        with store.transaction() as tx:
            assert [a.owner for a in tx.every_allocation()] == ["a"]
    finally:
        store.close()


def test_another_applications_database_with_a_hot_journal_is_not_rolled_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ipam.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE theirs (x)")
    conn.commit()
    conn.close()
    journal = tmp_path / "ipam.db-journal"
    journal.write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + bytes(504))
    before = (digest(path), digest(journal))
    with pytest.raises(CniError) as err:
        open_store(path)
    assert err.value.code == IO_FAILURE
    assert (digest(path), digest(journal)) == before
