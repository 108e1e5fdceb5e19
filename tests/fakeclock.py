"""Virtual time for unit tests: an event loop whose clock jumps to the next timer instead of waiting for it.

``VirtualClock.run(coro)`` runs a coroutine on a loop whose ``time()`` is the clock's: when nothing is ready
to run, the loop does not sleep until its next timer, it moves the clock there. ``asyncio.sleep(2.2)``,
``asyncio.timeout`` and ``loop.call_later`` then cost no wall-clock time, and timings come out exact.
``clock.patch(monkeypatch, module, ...)`` makes modules that read the wall clock themselves (``time.time()``,
``time.monotonic()``, ``datetime.now()``, as APScheduler does) read this clock instead.

Only for code that waits on timers: a coroutine waiting for a worker thread would see its timeouts expire
at once, because the clock runs ahead while the thread works.
"""

from __future__ import annotations

import asyncio
import selectors
import types
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

# Where the clock starts: a fixed wall-clock time, so runs are reproducible (2027-01-15T08:00:00Z).
START_WALL = 1_800_000_000.0
# A loop waiting with no timer at all waits for real I/O (a socket, a thread), at most this long.
IDLE_WAIT_S = 10.0


class VirtualClock:
    """Seconds that pass only when the test's event loop would otherwise wait."""

    def __init__(self, start_wall: float = START_WALL) -> None:
        self.start_wall = start_wall
        self.elapsed = 0.0
        self.iterations = 0  # event-loop iterations run so far (each polls the selector once)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back)."""
        self.elapsed += max(0.0, seconds)

    def monotonic(self) -> float:
        """Monotonic seconds (what the loop and ``time.monotonic`` read)."""
        return 1_000.0 + self.elapsed

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        return self.start_wall + self.elapsed

    def time_ns(self) -> int:
        """Wall-clock nanoseconds since the epoch."""
        return int(self.time() * 1e9)

    def now(self, tz: tzinfo | None = None) -> datetime:
        """The wall clock as a datetime, in ``tz`` (naive local time without one, as ``datetime.now``)."""
        stamp = datetime.fromtimestamp(self.time(), UTC)
        return stamp.astimezone(tz) if tz is not None else stamp.astimezone().replace(tzinfo=None)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion on a fresh loop driven by this clock."""
        loop = _VirtualLoop(self)
        try:
            return loop.run_until_complete(coro)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def patch(self, monkeypatch: pytest.MonkeyPatch, *modules: types.ModuleType) -> None:
        """Make each module's ``time`` and ``datetime`` names read this clock (they must import them so)."""
        fake_time = types.SimpleNamespace(
            time=self.time,
            time_ns=self.time_ns,
            monotonic=self.monotonic,
            perf_counter=self.monotonic,
        )
        clock = self

        class _Datetime(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> _Datetime:
                stamp = clock.now(tz)
                return cls.combine(stamp.date(), stamp.timetz())

        for module in modules:
            names: Mapping[str, object] = vars(module)
            if isinstance(names.get("time"), types.ModuleType):
                monkeypatch.setattr(module, "time", fake_time)
            if names.get("datetime") is datetime:
                monkeypatch.setattr(module, "datetime", _Datetime)


class _Selector(selectors.BaseSelector):
    """A selector that, instead of blocking until the next timer, moves the clock to it."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._real = selectors.DefaultSelector()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._clock.iterations += 1
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            return self._real.select(IDLE_WAIT_S)
        self._clock.advance(timeout)
        return []

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        super().__init__(_Selector(clock))

    def time(self) -> float:
        return self._clock.monotonic()
