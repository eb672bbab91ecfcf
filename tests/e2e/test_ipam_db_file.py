"""What the installed `ecs-ipam` does with the file at IPAM_DB_PATH: creates it private,
and refuses (error 5, file unchanged) anything that is not its own database."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.ipam_support import agent_config, error_of, run_ipam


def test_the_database_and_its_directory_are_created_private(tmp_path: Path) -> None:
    assert run_ipam(tmp_path, "ADD", agent_config()).returncode == 0
    db = tmp_path / "data" / "eni-ipam.db"
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def _garbage(db: Path) -> None:
    db.write_bytes(bytes(range(256)) * 16)


def _other_schema(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
    conn.execute("INSERT INTO accounts (balance) VALUES (100)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(("make", "needle"), [
    (_garbage, "is not an SQLite database"),
    (_other_schema, "SQLite database of another application"),
])
@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_a_foreign_file_is_error_5_and_never_modified(
    tmp_path: Path, make: Callable[[Path], None], needle: str, command: str
) -> None:
    db = tmp_path / "data" / "eni-ipam.db"
    db.parent.mkdir()
    make(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    err = error_of(run_ipam(tmp_path, command, agent_config()))
    assert err["code"] == 5
    assert str(db) in err["msg"]
    assert needle in err["msg"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["eni-ipam.db"]


def test_a_symlink_at_the_database_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "target.db"
    target.write_bytes(b"")
    db = tmp_path / "data" / "eni-ipam.db"
    db.parent.mkdir()
    db.symlink_to(target)
    err = error_of(run_ipam(tmp_path, "ADD", agent_config()))
    assert err["code"] == 5
    assert "is a symbolic link" in err["msg"]
    assert target.read_bytes() == b""
