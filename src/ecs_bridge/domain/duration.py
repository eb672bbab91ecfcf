"""Go duration strings (`5s`, `500ms`, `1m30s`, `1.5h`), as `IPAM_DB_CONNECTION_TIMEOUT`
is written for the Go plugin. Pure: the caller reads the environment."""

from __future__ import annotations

import re

from ecs_bridge.domain.errors import INVALID_ENV, CniError

__all__ = ["parse_go_duration"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
          "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_go_duration(text: str, where: str) -> float:
    """Seconds. Like Go's `time.ParseDuration`, but a negative duration is refused too:
    `where` names the setting in the error (code 4, invalid environment)."""
    body = text[1:] if text[:1] == "+" else text
    if body == "0":
        return 0.0
    seconds, pos = 0.0, 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise CniError(INVALID_ENV, f"{where} {text!r} is not a duration",
                       'write it as Go does: "5s", "500ms", "1m30s"')
    return seconds
