"""IPAM_DB_CONNECTION_TIMEOUT is a Go duration string."""

from __future__ import annotations

import pytest

from ecs_bridge.domain.duration import parse_go_duration
from ecs_bridge.domain.errors import INVALID_ENV, CniError


@pytest.mark.parametrize(("text", "seconds"), [
    ("5s", 5.0), ("500ms", 0.5), ("1m", 60.0), ("1m30s", 90.0), ("2h", 7200.0),
    ("1.5s", 1.5), ("0", 0.0), ("0s", 0.0), ("+3s", 3.0), (".5s", 0.5), ("1.s", 1.0),
    ("250us", 250e-6), ("250\u00b5s", 250e-6), ("1h2m3s4ms", 3723.004), ("10ns", 1e-8),
])
def test_go_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_go_duration(text, "IPAM_DB_CONNECTION_TIMEOUT") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "s", "5 s", "5sec", "-1s", "1d", "1.5.2s", "ms5",
                                  "5s ", "five seconds", "."])
def test_anything_else_is_error_4_naming_the_variable_and_value(text: str) -> None:
    with pytest.raises(CniError) as caught:
        parse_go_duration(text, "IPAM_DB_CONNECTION_TIMEOUT")
    assert caught.value.code == INVALID_ENV
    assert f"IPAM_DB_CONNECTION_TIMEOUT {text!r}" in caught.value.msg
