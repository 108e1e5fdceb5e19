"""Event-loop lag: how late the daemon's event loop runs what is due, the measure of a poller that is behind.

A timer is due every ``period_s``; the lag is how much later than due it fires (a loop busy decoding
replies, or blocked by a slow callback, fires it late). Per cycle the monitor reports the 99th percentile
and the largest lag (``take``), and since start the total of all lags (``stalled_s``), from which the
scheduler tells whether the loop stalled while a poll waited for its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

# Ten measurements a second: fine enough for a p99 per minute, and the timer costs nothing measurable.
PERIOD_S = 0.1
# How many measurements in a row a lag must last to count as the loop running behind (``behind_s``).
SUSTAINED = 3
# At most this many lags are kept per cycle (an hour at PERIOD_S); beyond it the oldest are dropped.
MAX_SAMPLES = 36_000


def p99(values: Sequence[float]) -> float:
    """The 99th percentile (nearest rank) of ``values``; 0.0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class LagFigures:
    """Event-loop lag over one cycle, in seconds."""

    p99_s: float = 0.0
    max_s: float = 0.0


class LoopLagMonitor:
    """Measures the running event loop's lag while entered (``async with LoopLagMonitor() as lag:``).

    Args:
        period_s: how often the loop is measured.
    """

    def __init__(self, period_s: float = PERIOD_S) -> None:
        self.period_s = period_s
        self._lags: array[float] = array("d")
        self._stalled_s = 0.0
        self._recent: deque[float] = deque(maxlen=SUSTAINED)  # the lags measured last
        self._expected: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.last = LagFigures()

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("LoopLagMonitor is already running")
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._measure(), name="netpoll-loop-lag")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._expected = None
        self._recent.clear()

    async def _measure(self) -> None:
        assert self._loop is not None
        loop = self._loop
        while True:
            self._expected = loop.time() + self.period_s
            await asyncio.sleep(self.period_s)
            self.record(loop.time() - self._expected)

    def record(self, lag_s: float) -> None:
        """Count one measured lag (negative values, a timer fired early, count as 0)."""
        lag_s = max(0.0, lag_s)
        if len(self._lags) >= MAX_SAMPLES:
            del self._lags[: MAX_SAMPLES // 10]
        self._lags.append(lag_s)
        self._stalled_s += lag_s
        self._recent.append(lag_s)

    def behind_s(self) -> float:
        """How far behind the loop has run lately: the least of its last :data:`SUSTAINED` lags (0 before).

        A loop with more work than its core runs behind at every measurement; one long callback (a state
        file written in one go) shows in one measurement only, and the loop is caught up once it ends.
        """
        return min(self._recent) if len(self._recent) == SUSTAINED else 0.0

    def _overdue_s(self) -> float:
        if self._expected is None or self._loop is None:
            return 0.0
        return max(0.0, self._loop.time() - self._expected)

    def stalled_s(self) -> float:
        """Seconds of lag since start, the lag of a timer overdue right now included."""
        return self._stalled_s + self._overdue_s()

    def take(self) -> LagFigures:
        """The figures since the previous call (one cycle), and start a new cycle."""
        lags, self._lags = self._lags, array("d")
        self.last = LagFigures(p99(lags), max(lags, default=0.0))
        return self.last
