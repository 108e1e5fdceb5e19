"""RestartNotices: the latest coldStart/warmStart per device, bounded, checked against a boot time."""

from __future__ import annotations

import pytest

from netpoll.restarts import BOOT_SLACK_S, RestartNotices

S = 10**9
BOOT = 1_700_000_000 * S


@pytest.mark.parametrize(
    ("noted_at", "expected"),
    [
        pytest.param(None, False, id="nothing-noted"),
        pytest.param(BOOT + 5 * S, True, id="after-the-boot"),
        pytest.param(BOOT - int(BOOT_SLACK_S * S) + S, True, id="within-the-slack-before"),
        pytest.param(BOOT - int(BOOT_SLACK_S * S) - S, False, id="an-earlier-restart"),
    ],
)
def test_announced(noted_at: int | None, expected: bool) -> None:
    notices = RestartNotices()
    if noted_at is not None:
        notices.note("r1", noted_at)
    assert notices.announced("r1", BOOT) is expected
    assert not notices.announced("r2", BOOT)


def test_latest_wins_and_a_late_duplicate_is_ignored() -> None:
    notices = RestartNotices()
    notices.note("r1", BOOT + 10 * S)
    notices.note("r1", BOOT - 3600 * S)  # an inform retransmission arriving late
    assert notices.announced("r1", BOOT + 5 * S)


def test_bounded_and_forgets() -> None:
    notices = RestartNotices(limit=2)
    for index, name in enumerate(("a", "b", "c")):
        notices.note(name, BOOT + index * S)
    assert len(notices) == 2
    assert not notices.announced("a", BOOT)
    notices.forget("b")
    assert len(notices) == 1
    assert notices.announced("c", BOOT)
