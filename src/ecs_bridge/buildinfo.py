"""Build facts printed by `--version`.

`make` writes the commit's short hash to `_githash` beside this file at install
time (the file is not tracked); without it the hash reads "unknown".
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["git_short_hash"]


def git_short_hash() -> str:
    try:
        return (Path(__file__).parent / "_githash").read_text().strip() or "unknown"
    except OSError:
        return "unknown"
