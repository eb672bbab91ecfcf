"""A tiny append-only log file writer, cheap to import and unable to fail an operation.

Line format: `2026-11-29T13:36:12.123Z INFO msg key=value ...` (UTC). The file
is created 0640 and never followed through a symlink. Any error while opening
or writing (missing directory, read-only file system, full disk) is swallowed:
a CNI operation must not fail because of its log.

Only a regular file is written to: a FIFO or a device at the path is left alone
(opened non-blocking, so a FIFO without a reader cannot hang the plugin). A
pre-existing world-writable log file, in which anyone could forge or erase lines,
has its world-write bit cleared before the first line is written; where that is
not allowed (the file is someone else's), nothing is logged.
"""

from __future__ import annotations

import errno
import os
import stat
import time

__all__ = ["LEVELS", "FileLog", "NullLog"]

LEVELS = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40, "critical": 50,
          "off": 100, "none": 100}


class FileLog:
    def __init__(self, path: str, *, level: str = "info", **context: object) -> None:
        self.path = path
        self.threshold = LEVELS.get(level.strip().lower(), LEVELS["info"])
        self.context = {k: v for k, v in context.items() if v not in (None, "")}
        self._fd: int | None = None
        self._broken = False

    def bind(self, **context: object) -> None:
        """Add key=value pairs carried by every later line."""
        self.context.update({k: v for k, v in context.items() if v not in (None, "")})

    def debug(self, msg: str, **context: object) -> None:
        self._write(10, "DEBUG", msg, context)

    def info(self, msg: str, **context: object) -> None:
        self._write(20, "INFO", msg, context)

    def warning(self, msg: str, **context: object) -> None:
        self._write(30, "WARN", msg, context)

    def error(self, msg: str, **context: object) -> None:
        self._write(40, "ERROR", msg, context)

    def _write(self, level: int, name: str, msg: str, context: dict[str, object]) -> None:
        if level < self.threshold or self._broken:
            return
        now = time.time()
        millis = int(now % 1 * 1000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{millis:03d}Z"
        pairs = " ".join(f"{k}={_quote(v)}" for k, v in {**self.context, **context}.items())
        line = f"{stamp} {name} {_quote(msg) if chr(10) in msg else msg}"
        line = f"{line} {pairs}\n" if pairs else f"{line}\n"
        try:
            if self._fd is None:
                self._fd = _open_log(self.path)
            os.write(self._fd, line.encode("utf-8", "backslashreplace"))
        except OSError:
            self._broken = True

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None


def _open_log(path: str) -> int:
    """An fd appending to the regular file at `path` (created 0640), never world-writable;
    OSError for anything else."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                 | os.O_CLOEXEC, 0o640)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"log {path!r} is not a regular file")
        if mode & stat.S_IWOTH:
            os.fchmod(fd, stat.S_IMODE(mode) & ~stat.S_IWOTH)  # EPERM unless the file is ours
    except BaseException:
        os.close(fd)
        raise
    return fd


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(c.isspace() or c in '"=' for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class NullLog:
    """A logger that drops everything (tests, and the operator CLI's quiet mode)."""

    def debug(self, msg: str, **context: object) -> None:
        pass

    def info(self, msg: str, **context: object) -> None:
        pass

    def warning(self, msg: str, **context: object) -> None:
        pass

    def error(self, msg: str, **context: object) -> None:
        pass
