"""Under CI=true a skipped real-server or lab test fails (the hooks of tests/conftest.py); elsewhere it skips,
and a skipped pure unit test stays a skip everywhere."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\nmarkers =\n    network: x\n    lab: x\n"
CONFTEST = "from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport\n"
TESTS = """
import pytest

@pytest.mark.network
def test_server() -> None:
    pytest.skip("mosquitto not installed")

@pytest.mark.lab
@pytest.mark.skipif(True, reason="lab recordings not found")
def test_lab() -> None:
    pass

def test_pure() -> None:
    pytest.skip("nothing to do here")
"""


@pytest.mark.parametrize(("ci", "failed", "skipped"), [("true", 2, 1), ("", 0, 3)])
def test_skips_of_real_server_tests_fail_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, failed: int, skipped: int
) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_skips=TESTS)
    outcomes = pytester.runpytest_inprocess("-p", "no:cacheprovider").parseoutcomes()
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == failed
    assert outcomes.get("skipped", 0) == skipped
