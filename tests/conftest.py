"""Shared pytest policy: with ECS_BRIDGE_REQUIRE_E2E=1 (set by .ci/run) a skipped
e2e test is a failure, so CI can never pass with the root-only tests unrun."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

REQUIRE_E2E = os.environ.get("ECS_BRIDGE_REQUIRE_E2E", "") not in ("", "0", "false")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if REQUIRE_E2E and report.skipped and "tests/e2e" in str(item.path):
        report.outcome = "failed"
        report.longrepr = f"e2e test skipped while ECS_BRIDGE_REQUIRE_E2E=1: {report.longrepr}"
