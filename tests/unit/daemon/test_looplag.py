"""The event-loop lag monitor on virtual time: code that holds the loop shows as lag, an idle loop as none."""

from __future__ import annotations

import asyncio

import pytest

from netpoll.daemon.looplag import SUSTAINED, LoopLagMonitor, p99
from tests.fakeclock import VirtualClock


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], 0.0), ([3.0], 3.0), (list(range(1, 101)), 99), (list(range(1, 201)), 198), ([5.0, 1.0], 5.0)],
)
def test_p99_is_the_nearest_rank(values: list[float], expected: float) -> None:
    assert p99(values) == expected


def test_an_idle_loop_has_no_lag_and_a_blocked_one_shows_it() -> None:
    clock = VirtualClock()

    async def scenario() -> None:
        async with LoopLagMonitor(period_s=0.1) as monitor:
            await asyncio.sleep(5.0)
            idle = monitor.take()
            assert (idle.p99_s, idle.max_s, monitor.stalled_s()) == (0.0, 0.0, 0.0)
            for _ in range(3):
                clock.advance(2.0)  # code that holds the loop for 2 s without yielding
                await asyncio.sleep(0.5)
            assert monitor.stalled_s() == pytest.approx(6.0, abs=0.2)
            busy = monitor.take()
            assert busy.max_s == pytest.approx(2.0, abs=0.11)
            assert busy.p99_s == pytest.approx(2.0, abs=0.11)
            assert monitor.last == busy

    clock.run(scenario())


def test_a_stall_in_progress_counts_before_its_timer_fires() -> None:
    clock = VirtualClock()

    async def scenario() -> None:
        async with LoopLagMonitor(period_s=0.1) as monitor:
            await asyncio.sleep(0.05)
            clock.advance(3.0)
            assert monitor.stalled_s() == pytest.approx(2.95, abs=0.11)

    clock.run(scenario())


def test_behind_is_a_lag_that_lasts_not_one_stall() -> None:
    clock = VirtualClock()

    async def scenario() -> None:
        async with LoopLagMonitor(period_s=0.1) as monitor:
            await asyncio.sleep(1.0)
            assert monitor.behind_s() == 0.0
            clock.advance(2.0)  # one callback held the loop for 2 s
            await asyncio.sleep(0.35)
            assert monitor.behind_s() == 0.0  # caught up at once: not behind
            for _ in range(SUSTAINED):  # every turn of the loop takes 1.5 s: behind
                clock.advance(1.5)
                await asyncio.sleep(0.05)
            assert monitor.behind_s() == pytest.approx(1.45, abs=0.11)
            await asyncio.sleep(0.5)  # caught up
            assert monitor.behind_s() == 0.0

    clock.run(scenario())
