"""Test configuration: the real-server fixtures live in tests/harness/ (docs/development.md).

Under ``CI=true`` no test may pass vacuously: a real-server or lab test that skips (a server, a tool, the lab
recordings or root missing) is reported as a failure, whatever raised the skip. Such tests are those under
``tests/integration/``, those marked ``network`` or ``lab``, and those using a server fixture of the harness.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from tests.harness.process import in_ci

pytest_plugins = ["tests.harness.fixtures"]

INTEGRATION = Path(__file__).parent / "integration"
SERVER_FIXTURES = frozenset(
    {
        "snmpd",
        "snmpd_factory",
        "snmpsim_lab",
        "snmpsim_factory",
        "mosquitto",
        "mosquitto_factory",
        "victoriametrics",
        "influxdb1",
        "netns_factory",
    }
)


def needs_real_parts(item: pytest.Item) -> bool:
    """Whether ``item`` is a real-server or lab test, which must run (not skip) in CI."""
    if item.get_closest_marker("external_tool"):
        # A tool no package registry provides (kubectl comes with some machine images only): absent, it skips.
        return False
    if Path(str(item.path)).is_relative_to(INTEGRATION):
        return True
    if item.get_closest_marker("network") or item.get_closest_marker("lab"):
        return True
    return bool(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and not hasattr(report, "wasxfail") and in_ci() and needs_real_parts(item):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: skipped under CI=true ({_skip_reason(report)}); a real-server or lab test"
            " must run in CI: install what it names (make test does, as root)"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, pytest.CollectReport, None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()  # type: ignore[attr-defined]
    path = getattr(collector, "path", None)
    if report.skipped and in_ci() and path is not None and Path(str(path)).is_relative_to(INTEGRATION):
        report.outcome = "failed"
        report.longrepr = f"{path}: skipped at collection under CI=true ({_skip_reason(report)})"
