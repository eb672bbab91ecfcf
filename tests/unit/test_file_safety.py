"""The files the plugins write: the IPAM database, its directory and its -wal/-shm files
are root's alone whatever the umask, and a log file is never world-writable, never a
FIFO or device written to, and never a reason for an operation to fail."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_bridge.adapters.filelog import FileLog
from ecs_bridge.adapters.sqlite_store import SqliteStore
from tests.unit.ipam_support import alloc


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def umask_0() -> Iterator[None]:
    """The most permissive umask a runtime could start a plugin with."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_0")
def test_every_directory_made_for_the_database_is_private_even_under_umask_0(
    tmp_path: Path,
) -> None:
    db = tmp_path / "var" / "lib" / "ecs" / "ipam.db"
    SqliteStore.open(str(db)).close()
    made = [tmp_path / "var", tmp_path / "var" / "lib", tmp_path / "var" / "lib" / "ecs"]
    assert [oct(mode(d)) for d in made] == ["0o700"] * 3
    assert oct(mode(db)) == "0o600"


@pytest.mark.usefixtures("umask_0")
def test_the_wal_and_shm_files_are_as_private_as_the_database(tmp_path: Path) -> None:
    db = tmp_path / "data" / "ipam.db"
    with SqliteStore.open(str(db)) as store:
        with store.transaction() as tx:
            tx.insert(alloc("10.0.0.2", "10.0.0.0/24"))
        # They exist while a connection is open (SQLite removes them on the last close).
        side_files = {p.name: oct(mode(p)) for p in db.parent.iterdir() if p != db}
    assert side_files == {"ipam.db-wal": "0o600", "ipam.db-shm": "0o600"}


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    SqliteStore.open(str(data / "ipam.db")).close()
    assert oct(mode(data)) == "0o755"
    assert oct(mode(data / "ipam.db")) == "0o600"


def test_a_symlink_to_a_real_database_is_refused_and_the_database_left_alone(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real.db"
    with SqliteStore.open(str(real)) as store, store.transaction() as tx:
        tx.insert(alloc("10.0.0.2", "10.0.0.0/24", "kept"))
    before = real.read_bytes()
    link = tmp_path / "link.db"
    link.symlink_to(real)
    with pytest.raises(Exception, match="symbolic link"):
        SqliteStore.open(str(link))
    assert real.read_bytes() == before


@pytest.mark.usefixtures("umask_0")
def test_a_new_log_file_is_0640_even_under_umask_0(tmp_path: Path) -> None:
    log = tmp_path / "plugin.log"
    FileLog(str(log)).info("hello")
    assert oct(mode(log)) == "0o640"
    assert "hello" in log.read_text()


def test_a_world_writable_log_loses_its_world_write_bit_and_is_still_written(
    tmp_path: Path,
) -> None:
    log = tmp_path / "plugin.log"
    log.write_text("old line\n")
    log.chmod(0o666)
    FileLog(str(log)).info("new line")
    assert oct(mode(log)) == "0o664"
    lines = log.read_text().splitlines()
    assert (lines[0], len(lines), "new line" in lines[1]) == ("old line", 2, True)


def test_a_world_writable_log_that_cannot_be_tightened_is_not_written_and_nothing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "plugin.log"
    log.write_text("someone else's\n")
    log.chmod(0o666)

    def not_yours(fd: int, mode: int) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", not_yours)
    writer = FileLog(str(log))
    writer.info("must not land")
    writer.error("nor this")
    writer.close()
    assert log.read_text() == "someone else's\n"


def test_a_fifo_log_without_a_reader_neither_blocks_nor_fails(tmp_path: Path) -> None:
    fifo = tmp_path / "plugin.log"
    os.mkfifo(fifo)
    writer = FileLog(str(fifo))
    writer.info("would block a blocking open forever")
    writer.close()
    assert fifo.is_fifo()


def test_a_fifo_log_with_a_reader_is_not_written_to(tmp_path: Path) -> None:
    fifo = tmp_path / "plugin.log"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        FileLog(str(fifo)).info("nobody should read this")
        try:
            data = os.read(reader, 100)
        except BlockingIOError:  # a writer is still open but wrote nothing
            data = b""
        assert data == b""
    finally:
        os.close(reader)


@pytest.mark.parametrize("kind", ["directory", "dangling symlink", "device"])
def test_a_log_path_that_is_not_a_regular_file_is_ignored(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "plugin.log"
    if kind == "directory":
        path.mkdir()
    elif kind == "dangling symlink":
        path.symlink_to(tmp_path / "elsewhere.log")
    writer = FileLog("/dev/null" if kind == "device" else str(path))
    writer.info("nowhere")
    assert writer._fd is None  # nothing held open to write to
    writer.close()
    assert not (tmp_path / "elsewhere.log").exists()
