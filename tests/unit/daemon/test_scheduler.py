"""The poll scheduler: phases, no overlap (skips counted), deadlines, isolation, job-set diffs.

APScheduler, the scheduler's deadlines and the fake polls all run on virtual time (``tests.fakeclock``): the
seconds below pass without any wall-clock wait, and the counts they give are exact.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC
from pathlib import Path

import apscheduler.executors.base
import apscheduler.schedulers.base
import apscheduler.triggers.interval
import pytest
from pydantic import SecretStr

import netpoll.daemon.scheduler
from netpoll.daemon.scheduler import PollScheduler, phase_offset
from netpoll.inventory.models import CommunityCredentials, Device, PingSettings, SnmpSettings
from netpoll.probe import Budget, ProbeResult
from netpoll.sample import Sample
from tests.fakeclock import VirtualClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """Virtual time for the event loop, APScheduler and the scheduler module."""
    virtual = VirtualClock()
    virtual.patch(
        monkeypatch,
        netpoll.daemon.scheduler,
        apscheduler.schedulers.base,
        apscheduler.triggers.interval,
        apscheduler.executors.base,
    )
    return virtual


def device(name: str, interval: float = 0.5, ping: bool = False, address: str = "127.0.0.1") -> Device:
    creds = CommunityCredentials(profile="p", version="2c", community=SecretStr("public"))
    return Device(
        name=name,
        address=address,
        snmp=SnmpSettings(credentials=creds, interval_s=interval),
        ping=PingSettings(interval_s=interval) if ping else None,
    )


@pytest.mark.parametrize("interval", [1.0, 10.0, 60.0, 300.0])
def test_phase_is_deterministic_and_within_interval(interval: float) -> None:
    offsets = [phase_offset("snmp", f"r{i}", interval) for i in range(200)]
    assert offsets == [phase_offset("snmp", f"r{i}", interval) for i in range(200)]
    assert all(0 <= o < interval for o in offsets)
    # spread: every tenth of the interval gets some devices
    buckets = {int(o / interval * 10) for o in offsets}
    assert len(buckets) == 10


class Recorder:
    def __init__(self, clock: VirtualClock, delays: dict[str, float] | None = None) -> None:
        self.clock = clock
        self.delays = delays or {}
        self.calls: dict[str, list[float]] = {}
        self.emitted: list[Sample] = []
        self.budgets: list[float] = []
        self.running = 0
        self.max_running: dict[str, int] = {}
        self._running: dict[str, int] = {}

    async def poll(self, dev: Device, budget: Budget) -> ProbeResult:
        """A probe as the contract wants it: ends by the budget's deadline, a cut is a result."""
        self.calls.setdefault(dev.name, []).append(self.clock.monotonic())
        self.budgets.append(budget.seconds)
        self._running[dev.name] = self._running.get(dev.name, 0) + 1
        self.max_running[dev.name] = max(self.max_running.get(dev.name, 0), self._running[dev.name])
        try:
            async with asyncio.timeout_at(budget.deadline):
                await asyncio.sleep(self.delays.get(dev.name, 0.0))
        except TimeoutError:
            failed = Sample("snmp", {"device": dev.name}, {"poll_ok": 0}, time.time_ns())
            return ProbeResult(False, [failed], budget.exceeded, budget.seconds, cut=True)
        finally:
            self._running[dev.name] -= 1
        return ProbeResult(True, [Sample("snmp", {"device": dev.name}, {"poll_ok": 1}, time.time_ns())])

    async def probe(self, dev: Device, budget: Budget) -> ProbeResult:
        return ProbeResult(True, [Sample("ping", {"device": dev.name}, {"result_code": 0}, time.time_ns())])

    def emit(self, samples: list[Sample]) -> None:
        self.emitted.extend(samples)


def test_slow_device_is_cut_at_deadline_and_never_delays_others(clock: VirtualClock) -> None:
    clock.run(_slow_device_is_cut_at_deadline(clock))


async def _slow_device_is_cut_at_deadline(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={"slow": 10.0})
    sched = PollScheduler(rec.emit, snmp_poll=rec.poll, ping_probe=rec.probe, deadline_fraction=0.8)
    sched.set_devices([device("fast1"), device("fast2", ping=True), device("slow")])
    sched.start()
    await asyncio.sleep(2.2)
    await sched.stop(grace_s=0.1)
    # 0.5 s interval over 2.2 s: 4 or 5 polls each, the slow device included (cut at 0.4 s each time).
    assert 4 <= len(rec.calls["fast1"]) <= 5
    assert 4 <= len(rec.calls["slow"]) <= 5
    slow_failures = [
        s for s in rec.emitted if s.tags.get("device") == "slow" and s.fields.get("poll_ok") == 0
    ]
    assert set(rec.budgets) == {0.4}  # the scheduler's one deadline: 0.8 of the 0.5 s interval
    assert len(slow_failures) >= 3
    assert max(rec.max_running.values()) == 1
    assert sched.totals.polls_failed >= 3
    assert sched.totals.polls_cut >= 3
    assert sched.totals.failed_devices == {"slow"}
    assert sched.totals.polls_skipped == 0
    assert sched.min_runs() >= 3
    assert any(s.measurement == "ping" for s in rec.emitted)


def test_overlapping_poll_is_skipped_and_counted(clock: VirtualClock) -> None:
    clock.run(_overlapping_poll_is_skipped(clock))


async def _overlapping_poll_is_skipped(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={"hog": 0.8})
    # deadline beyond the interval on purpose, so the next run comes due while one still runs
    sched = PollScheduler(rec.emit, snmp_poll=rec.poll, ping_probe=None, deadline_fraction=3.0)
    sched.set_devices([device("hog")])
    sched.start()
    await asyncio.sleep(2.3)
    await sched.stop(grace_s=0.0)
    assert rec.max_running["hog"] == 1
    assert sched.totals.polls_skipped >= 1


def test_concurrency_limit(clock: VirtualClock) -> None:
    clock.run(_concurrency_limit(clock))


async def _concurrency_limit(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={f"d{i}": 0.2 for i in range(10)})
    in_flight: list[int] = []

    async def poll(dev: Device, budget: Budget) -> ProbeResult:
        in_flight.append(sum(rec._running.values()) + 1)
        return await rec.poll(dev, budget)

    sched = PollScheduler(rec.emit, snmp_poll=poll, ping_probe=None, snmp_concurrency=2)
    sched.set_devices([device(f"d{i}", interval=1.0) for i in range(10)])
    sched.start()
    await asyncio.sleep(1.5)
    await sched.stop(grace_s=1.0)
    assert max(in_flight) <= 2
    assert len(rec.calls) == 10


def test_set_devices_diff_keeps_unchanged_jobs(clock: VirtualClock) -> None:
    clock.run(_set_devices_diff(clock))


async def _set_devices_diff(clock: VirtualClock) -> None:
    rec = Recorder(clock)
    sched = PollScheduler(rec.emit, snmp_poll=rec.poll, ping_probe=rec.probe)
    sched.start()
    try:
        assert sched.set_devices([device("a"), device("b"), device("c")]) == (["a", "b", "c"], [], [])
        added, removed, changed = sched.set_devices(
            [device("a"), device("b", address="127.0.0.2"), device("d", ping=True)]
        )
        assert (added, removed, changed) == (["d"], ["c"], ["b"])
        assert set(sched.devices) == {"a", "b", "d"}
        jobs = {job.id for job in sched._scheduler.get_jobs()}
        assert jobs == {"snmp:a", "snmp:b", "snmp:d", "ping:d"}
    finally:
        await sched.stop(grace_s=0.0)


def test_second_stop_signal_cuts_the_grace_period(clock: VirtualClock, tmp_path: Path) -> None:
    clock.run(_second_stop_signal(clock, tmp_path))


async def _second_stop_signal(clock: VirtualClock, tmp_path: Path) -> None:
    from netpoll.daemon.app import Daemon, RunSettings

    rec = Recorder(clock, delays={"hog": 3600.0})
    sched = PollScheduler(rec.emit, snmp_poll=rec.poll, ping_probe=None, deadline_fraction=0.9)
    sched.set_devices([device("hog", interval=7200.0)])
    sched.start()
    for job in sched._scheduler.get_jobs():
        job.modify(next_run_time=clock.now(UTC))  # due now, not at its phase
    for _ in range(200):
        if rec._running.get("hog"):
            break
        await asyncio.sleep(0.05)
    assert rec._running.get("hog") == 1
    daemon = Daemon(RunSettings(inventories=(), data_dir=tmp_path, state_dir=tmp_path, http_port=None))
    daemon._scheduler = sched
    daemon._on_signal(signal.SIGTERM)
    assert daemon.stop_event.is_set()
    stopping = asyncio.create_task(sched.stop(grace_s=3600.0))  # a grace period that would never end
    await asyncio.sleep(0)
    daemon._on_signal(signal.SIGTERM)  # the second signal cancels the poll, so stop() returns
    await asyncio.wait({stopping}, timeout=60.0)  # a bound against a hang, not a timing assertion
    assert stopping.done()
    await stopping
    assert rec._running["hog"] == 0
    assert sched.in_flight == 0


def test_a_budget_spent_waiting_for_a_slot_is_a_cut_poll(clock: VirtualClock) -> None:
    clock.run(_budget_spent_waiting_for_a_slot(clock))


async def _budget_spent_waiting_for_a_slot(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={"hog": 3600.0})
    sched = PollScheduler(
        rec.emit, snmp_poll=rec.poll, ping_probe=None, snmp_concurrency=1, deadline_fraction=0.2
    )
    # The hog holds the only slot (its budget: 20 s); the other's budget is 0.2 s.
    sched.set_devices([device("hog", interval=100.0), device("queued", interval=1.0)])
    hog = asyncio.create_task(sched._run("snmp", "hog"))
    await asyncio.sleep(0)
    await sched._run("snmp", "queued")
    assert "queued" in rec.calls  # the probe was asked, with the spent budget, to report the cut
    assert sched.totals.polls_cut == 1
    assert sched.totals.failed_devices == {"queued"}
    hog.cancel()
    await asyncio.wait({hog})
    assert sched.in_flight == 0


async def test_results_are_counted_as_the_probe_says_not_from_the_samples() -> None:
    emitted: list[Sample] = []

    async def probe(dev: Device, budget: Budget) -> ProbeResult:
        # A failed poll whose record would read as fine: the scheduler must not look inside.
        return ProbeResult(False, [Sample("snmp", {"device": dev.name}, {"poll_ok": 1}, 0)], "refused")

    sched = PollScheduler(emitted.extend, snmp_poll=probe, ping_probe=None)
    sched.set_devices([device("r1")])
    await sched._run("snmp", "r1")
    assert (sched.totals.polls_ok, sched.totals.polls_failed, sched.totals.points) == (0, 1, 1)
    assert len(emitted) == 1


def test_wait_idle_returns_when_the_running_poll_of_that_device_ends(clock: VirtualClock) -> None:
    clock.run(_wait_idle(clock))


async def _wait_idle(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={"busy": 0.6})
    sched = PollScheduler(rec.emit, snmp_poll=rec.poll, ping_probe=None, deadline_fraction=3.0)
    sched.set_devices([device("busy", interval=5.0)])
    assert await asyncio.wait_for(sched.wait_idle("snmp", "busy"), 0.1) is None  # nothing running yet
    poll = asyncio.create_task(sched._run("snmp", "busy"))
    await asyncio.sleep(0.1)
    assert sched.in_flight == 1
    started = clock.monotonic()
    await asyncio.wait_for(sched.wait_idle("snmp", "busy"), 5.0)
    assert poll.done()
    assert clock.monotonic() - started == pytest.approx(0.5)  # it waited for the poll, not returned at once
    assert sched.in_flight == 0
