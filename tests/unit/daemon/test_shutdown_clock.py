"""The shutdown budget counts from the stop signal's arrival, not from when the event loop handled it; a
stop waits for nothing the exit does anyway."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

import netpoll.daemon.app
from netpoll.daemon.app import Daemon, RunSettings
from netpoll.daemon.scheduler import PollScheduler
from netpoll.daemon.signals import ProcessSignals
from tests.fakeclock import VirtualClock

# Slack for the few lines run between taking the clock and reading it; far below the lateness simulated.
SLACK_S = 0.5


def _daemon(tmp_path: Path, signals: ProcessSignals) -> Daemon:
    settings = RunSettings(
        inventories=(), data_dir=tmp_path, state_dir=tmp_path, http_port=None,
        shutdown_grace_s=5.0, shutdown_flush_s=10.0,
    )  # fmt: skip
    return Daemon(settings, signals=signals)


async def _received(signals: ProcessSignals, sig: signal.Signals) -> list[signal.Signals]:
    got: list[signal.Signals] = []
    signals.listen(asyncio.get_running_loop(), got.append)
    signals._handle(sig, None)  # what the interpreter calls on the signal, without sending one
    await asyncio.sleep(0)
    return got


def test_a_stop_signal_records_its_arrival_a_reload_does_not() -> None:
    signals = ProcessSignals()
    assert asyncio.run(_received(signals, signal.SIGHUP)) == [signal.SIGHUP]
    assert signals.stop_requested_at is None
    before = time.monotonic()
    assert asyncio.run(_received(signals, signal.SIGTERM)) == [signal.SIGTERM]
    assert signals.stop_requested_at is not None
    assert before <= signals.stop_requested_at <= time.monotonic()


def test_a_stop_asked_during_start_up_starts_the_clock_when_the_daemon_listens() -> None:
    signals = ProcessSignals()
    signals._handle(signal.SIGTERM, None)  # no listener yet: remembered
    assert signals.stop_requested_at is None
    listened_at = time.monotonic()
    assert asyncio.run(_replayed(signals)) == [signal.SIGTERM]
    assert signals.stop_requested_at is not None
    assert signals.stop_requested_at >= listened_at


async def _replayed(signals: ProcessSignals) -> list[signal.Signals]:
    got: list[signal.Signals] = []
    signals.listen(asyncio.get_running_loop(), got.append)
    await asyncio.sleep(0)
    return got


@pytest.mark.parametrize(
    ("late_s", "grace_left_s", "budget_left_s"),
    [
        (0.0, 5.0, 15.0),  # handled at once: the whole budget
        (3.0, 2.0, 12.0),  # the loop was 3 s behind: the polls get what is left of their 5 s
        (7.0, 0.0, 8.0),  # past the grace: no waiting for polls, the flush keeps the rest
        (40.0, 0.0, 0.0),  # handled after the whole budget: nothing left (the watchdog's turn)
    ],
)
def test_the_budget_counts_from_the_signal(
    tmp_path: Path, late_s: float, grace_left_s: float, budget_left_s: float
) -> None:
    async def main() -> tuple[float, float]:
        signals = ProcessSignals()
        signals.stop_requested_at = time.monotonic() - late_s
        daemon = _daemon(tmp_path, signals)
        daemon._begin_stop()
        return daemon._grace_left(), max(0.0, daemon._remaining())

    grace, budget = asyncio.run(main())
    assert grace_left_s - SLACK_S <= grace <= grace_left_s
    assert budget_left_s - SLACK_S <= budget <= budget_left_s


def test_a_stop_cancels_a_periodic_state_save_still_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save encoded in steps takes minutes on a loop seconds behind: the stop must not wait for it."""
    clock = VirtualClock()
    clock.patch(monkeypatch, netpoll.daemon.app)
    daemon = Daemon(
        RunSettings(inventories=(), data_dir=tmp_path, state_dir=tmp_path, http_port=None, cycle_s=3600.0,
                    state_save_s=10.0),
    )  # fmt: skip
    daemon._scheduler = PollScheduler(lambda samples: None, snmp_poll=None, ping_probe=None)
    saves: list[str] = []

    async def slow_save(deadline: float | None = None) -> None:
        saves.append("started")
        try:
            await asyncio.sleep(600.0)
        except asyncio.CancelledError:
            saves.append("cancelled")
            raise

    monkeypatch.setattr(daemon, "_save_state", slow_save)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        loop.call_later(30.0, daemon.stop_event.set)
        started = loop.time()
        await daemon._main_loop()
        return loop.time() - started

    took = clock.run(scenario())
    assert saves == ["started", "cancelled"]  # one save at a time, not one per state_save_s
    assert took == pytest.approx(30.0, abs=0.5)


async def test_the_watchdog_says_where_the_shutdown_waits() -> None:
    release = asyncio.Event()

    async def flush_that_hangs() -> None:
        await release.wait()

    task = asyncio.create_task(flush_that_hangs(), name="the-flush")
    await asyncio.sleep(0)
    # Read from another thread, as the watchdog's timer does.
    where = await asyncio.to_thread(netpoll.daemon.app._waiting_in, asyncio.get_running_loop())
    release.set()
    await task
    (line,) = [w for w in where if w.startswith("the-flush: ")]
    assert line.startswith("the-flush: flush_that_hangs (test_shutdown_clock.py:"), line
    assert " > wait (locks.py:" in line, line
