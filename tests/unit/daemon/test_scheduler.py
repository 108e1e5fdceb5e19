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
from netpoll.probe import Budget, ProbeResult, holding
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


class Observer:
    def __init__(self) -> None:
        self.done: list[tuple[str, str, bool]] = []
        self.overloaded: list[tuple[str, str, str]] = []

    def poll_done(self, kind: str, name: str, result: ProbeResult, *, late: bool = False) -> None:
        self.done.append((kind, name, result.ok))

    def poll_overloaded(self, kind: str, name: str, reason: str) -> None:
        self.overloaded.append((kind, name, reason))


class Behind:
    """A loop-lag reading the test sets (``LoopLagMonitor.behind_s``)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def test_a_loop_far_behind_starts_no_poll_and_counts_it_shed(clock: VirtualClock) -> None:
    clock.run(_shed_while_behind(clock))


async def _shed_while_behind(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={"hog": 3600.0})
    observer = Observer()
    behind = Behind()
    sched = PollScheduler(
        rec.emit,
        snmp_poll=rec.poll,
        ping_probe=rec.probe,
        snmp_concurrency=1,
        deadline_fraction=0.2,
        observer=observer,
        behind=behind,
        shed_lag_s=1.0,
    )
    fleet = [device("hog", interval=100.0), device("queued", interval=10.0), device("a", ping=True)]
    sched.set_devices(fleet)
    behind.seconds = 1.5
    await sched._run("snmp", "a")
    await sched._run("ping", "a")
    assert rec.calls == {}  # nothing sent
    assert rec.emitted == []  # nothing for the device's rules
    assert sched.totals.overloaded["shed"] == 2
    behind.seconds = 0.9  # under the bound: polls start
    await sched._run("ping", "a")
    assert sched.totals.polls_ok == 1
    # A poll that waited for its slot while the loop fell behind gives the slot back unused.
    hog = asyncio.create_task(sched._run("snmp", "hog"))
    await asyncio.sleep(0)
    queued = asyncio.create_task(sched._run("snmp", "queued"))
    await asyncio.sleep(0.5)
    behind.seconds = 2.0
    hog.cancel()
    await asyncio.wait({hog, queued})
    assert "queued" not in rec.calls
    assert sched.totals.overloaded == {"slot_wait": 0, "skipped": 0, "loop_lag": 0, "queue": 0, "shed": 3}
    assert observer.overloaded[-1] == ("snmp", "queued", "shed")
    assert (sched.totals.polls_failed, sched.in_flight, sched._sems["snmp"].locked()) == (0, 0, False)


def test_a_poll_due_after_the_stop_does_not_start(clock: VirtualClock) -> None:
    clock.run(_nothing_after_stop(clock))


async def _nothing_after_stop(clock: VirtualClock) -> None:
    rec = Recorder(clock)
    sched = PollScheduler(rec.emit, snmp_poll=rec.poll, ping_probe=None)
    sched.set_devices([device("a")])
    await sched.stop(grace_s=1.0)
    await sched._run("snmp", "a")
    assert rec.calls == {}
    assert (sched.totals.polls_ok, sched.totals.polls_overloaded, sched.in_flight) == (0, 0, 0)


def test_a_poll_that_gets_no_slot_is_overloaded_never_failed(clock: VirtualClock) -> None:
    clock.run(_no_slot_is_overloaded(clock))


async def _no_slot_is_overloaded(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={"hog": 3600.0})
    observer = Observer()
    sched = PollScheduler(
        rec.emit,
        snmp_poll=rec.poll,
        ping_probe=None,
        snmp_concurrency=1,
        deadline_fraction=0.2,
        observer=observer,
    )
    # The hog holds the only slot (its budget: 20 s); the other may wait 0.2 s for it, then gives up.
    sched.set_devices([device("hog", interval=100.0), device("queued", interval=1.0)])
    hog = asyncio.create_task(sched._run("snmp", "hog"))
    await asyncio.sleep(0)
    await sched._run("snmp", "queued")
    assert "queued" not in rec.calls  # nothing was sent to the device
    assert not [s for s in rec.emitted if s.tags["device"] == "queued"]  # no failure record for its rules
    assert (sched.totals.polls_failed, sched.totals.polls_cut) == (0, 0)
    assert sched.totals.polls_overloaded == 1
    assert sched.totals.overloaded == {"slot_wait": 1, "skipped": 0, "loop_lag": 0, "queue": 0, "shed": 0}
    assert sched.cycle.polls_overloaded == 1
    assert sched.totals.failed_devices == set()
    assert observer.overloaded == [("snmp", "queued", "slot_wait")]
    assert observer.done == []
    hog.cancel()
    await asyncio.wait({hog})
    assert sched.in_flight == 0


def test_the_budget_starts_when_the_slot_is_granted(clock: VirtualClock) -> None:
    clock.run(_budget_starts_at_the_slot(clock))


async def _budget_starts_at_the_slot(clock: VirtualClock) -> None:
    # One slot, both due at once, each device answers in 0.5 s, budget 0.8 s: the second waits 0.5 s for
    # the slot and still has its whole 0.8 s (from the due time it would have had 0.3 s and been cut).
    rec = Recorder(clock, delays={"first": 0.5, "second": 0.5})
    sent: dict[str, float] = {}
    deadlines: dict[str, float] = {}

    async def poll(dev: Device, budget: Budget) -> ProbeResult:
        sent[dev.name] = asyncio.get_running_loop().time()
        deadlines[dev.name] = budget.deadline
        return await rec.poll(dev, budget)

    sched = PollScheduler(
        rec.emit, snmp_poll=poll, ping_probe=None, snmp_concurrency=1, deadline_fraction=0.8
    )
    sched.set_devices([device("first", interval=1.0), device("second", interval=1.0)])
    await asyncio.gather(sched._run("snmp", "first"), sched._run("snmp", "second"))
    assert sent["second"] - sent["first"] == pytest.approx(0.5)
    assert {name: deadlines[name] - sent[name] for name in sent} == {
        "first": pytest.approx(0.8),
        "second": pytest.approx(0.8),
    }
    assert (sched.totals.polls_ok, sched.totals.polls_failed, sched.totals.polls_overloaded) == (2, 0, 0)
    assert sched.totals.poll_lag_ms_max == pytest.approx(500.0)  # the slot wait is the poller's lag
    assert sorted(sched.cycle.start_lags_ms) == [pytest.approx(0.0), pytest.approx(500.0)]


# (what the probe returns, event-loop lag while it ran) -> (outcome, records emitted)
_FAILED_TIMEOUT = ProbeResult(False, error="no response within 1s x 2 tries", no_answer=True)
_FAILED_CUT = ProbeResult(False, error="poll deadline of 0.8s exceeded", cut=True, no_answer=True)
_FAILED_AUTH = ProbeResult(False, error="SNMPv3 authentication failed")
_OK = ProbeResult(True)


@pytest.mark.parametrize(
    ("result", "stall_s", "outcome"),
    [
        (_OK, 0.0, "ok"),
        (_OK, 5.0, "ok"),  # an answer is an answer, however late the loop read it
        (_FAILED_TIMEOUT, 0.0, "failed"),  # the device's timeout: the loop kept up
        (_FAILED_TIMEOUT, 0.5, "failed"),  # a short hiccup does not excuse it
        (_FAILED_TIMEOUT, 1.5, "loop_lag"),  # the loop stalled: the reply may have come unread
        (_FAILED_CUT, 0.0, "failed"),  # cut at a budget that started at the send: the device's
        (_FAILED_CUT, 3.0, "loop_lag"),
        (_FAILED_AUTH, 3.0, "failed"),  # an answer that said no is the device's whatever the loop did
    ],
)
def test_whose_problem_a_poll_was(
    clock: VirtualClock, result: ProbeResult, stall_s: float, outcome: str
) -> None:
    clock.run(_whose_problem(result, stall_s, outcome))


async def _whose_problem(result: ProbeResult, stall_s: float, outcome: str) -> None:
    stalled = [10.0]  # lag since start, before the poll

    async def probe(dev: Device, budget: Budget) -> ProbeResult:
        await asyncio.sleep(0.1)
        stalled[0] += stall_s
        record = Sample("snmp", {"device": dev.name}, {"poll_ok": int(result.ok)}, 0)
        return ProbeResult(result.ok, [record], result.error, 0.1, result.cut, result.no_answer)

    emitted: list[Sample] = []
    sched = PollScheduler(emitted.extend, snmp_poll=probe, ping_probe=None, stalled=lambda: stalled[0])
    sched.set_devices([device("r1")])
    await sched._run("snmp", "r1")
    totals = sched.totals
    counts = {"ok": totals.polls_ok, "failed": totals.polls_failed, **totals.overloaded}
    assert counts == {key: int(key == outcome) for key in counts}
    assert totals.polls_overloaded == int(outcome not in ("ok", "failed"))
    assert len(emitted) == int(outcome in ("ok", "failed"))  # an overloaded poll writes nothing


def test_a_poll_cut_after_queueing_inside_the_poller_is_overloaded(clock: VirtualClock) -> None:
    clock.run(_cut_after_queueing(clock))


async def _cut_after_queueing(clock: VirtualClock) -> None:
    # A backend's own bound on requests in flight (one here, held by another poll for 3 s): the device's
    # poll queues for it inside the probe and is cut at its 2 s budget having sent nothing.
    bound = asyncio.Semaphore(1)

    async def probe(dev: Device, budget: Budget) -> ProbeResult:
        try:
            async with asyncio.timeout_at(budget.deadline), holding(bound):
                return ProbeResult(True)
        except TimeoutError:
            return ProbeResult(False, [Sample("snmp", {"device": dev.name}, {"poll_ok": 0}, 0)], cut=True)

    async def hog() -> None:
        async with bound:
            await asyncio.sleep(3.0)

    emitted: list[Sample] = []
    sched = PollScheduler(emitted.extend, snmp_poll=probe, ping_probe=None, deadline_fraction=0.5)
    sched.set_devices([device("r1", interval=4.0)])
    holder = asyncio.create_task(hog())
    await asyncio.sleep(0)
    await sched._run("snmp", "r1")
    await holder
    assert sched.totals.overloaded["queue"] == 1
    assert (sched.totals.polls_failed, sched.totals.polls_cut, emitted) == (0, 0, [])


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


def test_poll_now_polls_at_once_after_a_running_poll_and_keeps_the_schedule(clock: VirtualClock) -> None:
    clock.run(_poll_now(clock))


async def _poll_now(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={"r1": 0.3})
    sched = PollScheduler(rec.emit, snmp_poll=rec.poll, ping_probe=None, deadline_fraction=0.9)
    sched.set_devices([device("r1", interval=10.0)])
    assert not sched.poll_now("snmp", "unknown")
    assert not sched.poll_now("ping", "r1")  # no ICMP prober
    running = asyncio.create_task(sched._run("snmp", "r1"))  # as if its scheduled poll had begun
    await asyncio.sleep(0.1)
    asked = clock.monotonic()
    assert sched.poll_now("snmp", "r1")
    assert sched.poll_now("snmp", "r1")  # a second ask before the poll began: the same poll serves it
    await asyncio.sleep(1.0)
    assert running.done()
    # The asked-for poll began when the running one ended, not alongside it, and it was not late.
    assert rec.calls["r1"][1] == pytest.approx(asked + 0.2)
    assert rec.max_running["r1"] == 1
    assert len(rec.calls["r1"]) == 2
    assert (sched.totals.polls_ok, sched.totals.polls_late) == (2, 0)
    assert sched.min_runs() == 1  # the asked-for poll is no run of the schedule
    await sched.stop(grace_s=0.0)
    assert not sched.poll_now("snmp", "r1")  # stopped


def _held(sched: PollScheduler) -> dict[str, int]:
    """What the scheduler and APScheduler hold right now, in things that would pile up with a leak."""
    executor = sched._scheduler._executors["default"]
    return {
        "tasks": len(asyncio.all_tasks()) - 1,  # not the test's own
        "slot_waiters": sum(len(sem._waiters or ()) for sem in sched._sems.values()),
        "in_flight": sched.in_flight,
        "executor_futures": len(executor._pending_futures),
        "executor_instances": sum(executor._instances.values()),
        "timers": len(asyncio.get_running_loop()._scheduled),  # type: ignore[attr-defined]
        "due": len(sched._due),
    }


def test_what_an_overloaded_scheduler_holds_stays_bounded(clock: VirtualClock) -> None:
    clock.run(_overloaded_holds_bounded(clock))


async def _overloaded_holds_bounded(clock: VirtualClock) -> None:
    # Issue 17: a poller overloaded for many cycles gives back what it took for each poll that got no slot
    # or was skipped. 40 devices polled and pinged every second, two slots per kind, each poll 0.9 s: about
    # one poll in ten runs, the rest are overloaded, for 40 cycles. What is held (tasks, slot waiters,
    # APScheduler's futures, timers) is at most about one per job, after 10 cycles as after 40.
    names = [f"d{i:02d}" for i in range(40)]
    rec = Recorder(clock, delays=dict.fromkeys(names, 0.9))
    sched = PollScheduler(
        rec.emit,
        snmp_poll=rec.poll,
        ping_probe=rec.poll,
        snmp_concurrency=2,
        icmp_concurrency=2,
        deadline_fraction=0.95,
        observer=Observer(),
    )
    sched.set_devices([device(name, interval=1.0, ping=True) for name in names])
    jobs = 2 * len(names)
    sched.start()
    held = []
    for seconds in (10, 30):
        await asyncio.sleep(seconds)
        sched.take_cycle()
        held.append(_held(sched))
    await sched.stop(grace_s=0.0)
    assert sched.totals.polls_overloaded > 25 * jobs > 5 * sched.totals.polls_ok > 0
    for counts in held:
        assert counts["tasks"] <= jobs + 1, held
        assert counts["slot_waiters"] <= jobs, held
        assert counts["executor_futures"] <= jobs, held
        assert counts["timers"] <= 3 * jobs, held
    assert sched.in_flight == 0


def test_at_stop_polls_waiting_for_a_slot_end_at_once_and_only_those_sending_get_the_grace(
    clock: VirtualClock,
) -> None:
    clock.run(_stop_ends_the_queue_first(clock))


async def _stop_ends_the_queue_first(clock: VirtualClock) -> None:
    rec = Recorder(clock, delays={"hog": 3.0})
    sched = PollScheduler(rec.emit, snmp_poll=rec.poll, ping_probe=None, snmp_concurrency=1)
    # The hog holds the only slot for 3 s; a hundred polls queue behind it for theirs.
    queued = [f"q{i}" for i in range(100)]
    sched.set_devices([device("hog", interval=60.0), *(device(name, interval=60.0) for name in queued)])
    hog = asyncio.create_task(sched._run("snmp", "hog"))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(sched._run("snmp", name)) for name in queued]
    await asyncio.sleep(0)
    assert sched.in_flight == 101
    stopped_at = clock.time()
    await sched.stop(grace_s=10.0)
    # The queued polls ended at once, the hog finished its poll within the grace: the stop took its 3 s.
    assert all(task.done() for task in waiters)
    assert hog.done()
    assert clock.time() - stopped_at == pytest.approx(3.0, abs=0.5)
    assert set(rec.calls) == {"hog"}  # nothing was sent for the queued ones
    assert sched.in_flight == 0
