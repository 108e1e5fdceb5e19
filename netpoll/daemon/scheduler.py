"""The poll scheduler: one APScheduler job per device and probe kind.

* Interval: the device's own (``snmp.interval_s`` / ``ping.interval_s``).
* Phase: a start offset in ``[0, interval)`` derived from a hash of the kind and the device name, anchored to
  a fixed epoch, so polls are spread over the interval and a restart keeps every device's phase. Offsets fall
  on a 0.1 s grid, so APScheduler starts the jobs of one step in one wakeup.
* Job store: ``netpoll.daemon.jobstore.HeapJobStore`` (run times in a heap), not APScheduler's sorted list,
  whose every run costs a memmove of the whole job list.
* No overlap: ``max_instances=1`` and ``coalesce``; a poll due while the previous one still runs is counted
  as skipped (``EVENT_JOB_MAX_INSTANCES``), as is a run APScheduler had to drop (``EVENT_JOB_MISSED``).
* Deadline: each poll gets one time budget, ``deadline_fraction`` of its interval, that starts when it got a
  concurrency slot and may send (``netpoll.probe.Budget``): the device is measured, not the queue. The wait
  for the slot ends when the budget would have ended had the poll started on time (so before its next run
  is due); a poll that got no slot by then sends nothing.
* Overload (``netpoll.daemon.overload``): a poll that got no slot, a run APScheduler skipped, a poll that
  failed for want of an answer while the event loop stalled, and one cut after queueing inside the poller
  are the poller's problem, not the device's: counted as overloaded with the reason, their records never
  emitted, so no device rule sees them. A poll due while the event loop runs ``shed_lag_s`` behind is not
  started at all (reason ``shed``), so an overloaded poller keeps a loop that still serves its output and a
  stop signal.
* Global limits: one semaphore bounds concurrent SNMP polls, another concurrent ICMP probes; each poll is its
  own task, so one slow device never delays another.
* Results: a probe returns a ``ProbeResult`` (ok, error, samples, duration, cut at its deadline); the
  scheduler counts it and hands its samples to ``emit``. It knows nothing of what the samples hold.
* Start lag: from a poll's due time to its first request (the slot wait included), its largest and its
  99th percentile per cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from apscheduler import events
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from netpoll import defaults
from netpoll.daemon.jobstore import HeapJobStore
from netpoll.daemon.overload import REASONS, SHED_LAG_S, Reason, classify
from netpoll.devicelog import device_log
from netpoll.inventory.models import Device
from netpoll.probe import Budget, Probe, ProbeResult, queue_time
from netpoll.sample import Sample

log = logging.getLogger("netpoll.daemon.scheduler")

Kind = Literal["snmp", "ping"]
KINDS: tuple[Kind, ...] = ("snmp", "ping")
Emit = Callable[[list[Sample]], None]


class PollObserver(Protocol):
    """Told of every poll that ended or was overloaded (the daemon's status board)."""

    def poll_done(self, kind: str, name: str, result: ProbeResult, *, late: bool = False) -> None: ...

    def poll_overloaded(self, kind: str, name: str, reason: Reason) -> None: ...


# Phases are anchored here, not at process start, so they survive restarts.
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
# Phases fall on a grid of this step (or a hundredth of a shorter interval's): the jobs due in one step come
# due together and APScheduler starts them in one wakeup, not one wakeup per job (each wakeup costs about as
# much as starting a job: 76 -> 47 us of CPU per job run at 12,000 jobs, measured).
_PHASE_STEP_S = 0.1


def phase_offset(kind: str, name: str, interval_s: float) -> float:
    """Deterministic start offset in ``[0, interval_s)`` for one device and probe kind, on a grid step."""
    digest = hashlib.blake2b(f"{kind}:{name}".encode(), digest_size=8).digest()
    step = min(_PHASE_STEP_S, interval_s / 100)
    steps = int(int.from_bytes(digest, "big") / 2**64 * interval_s / step)
    return min(steps * step, interval_s - step)


def interval_of(device: Device, kind: Kind) -> float | None:
    """The device's interval for this probe kind, or None when that probe is off."""
    if not device.enabled:
        return None
    settings = device.snmp if kind == "snmp" else device.ping
    return settings.interval_s if settings is not None else None


@dataclass(slots=True)
class CycleStats:
    """Counters since the last ``take()`` (one cycle of the summary).

    Every poll due is one of ok, failed (the device's problem) or overloaded (the poller's, by reason in
    ``overloaded``); ``polls_skipped`` (reason ``skipped``) is among the overloaded ones, ``polls_cut`` among
    the failed ones, ``polls_late`` among the ok and failed ones.
    """

    polls_ok: int = 0
    polls_failed: int = 0
    polls_skipped: int = 0
    polls_late: int = 0  # started more than max(1 s, 5 % of the interval) after they were due
    polls_cut: int = 0  # cancelled at their deadline
    polls_overloaded: int = 0
    overloaded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    poll_lag_ms_max: float = 0.0
    # Start lags (ms) of the polls that started; kept for the cycle only (the totals leave it empty).
    start_lags_ms: array[float] = field(default_factory=lambda: array("d"))
    points: int = 0
    failed_devices: set[str] = field(default_factory=set)
    slow_devices: set[str] = field(default_factory=set)  # cut or overloaded


class PollScheduler:
    """Schedules polls of a device set and hands every sample to ``emit``.

    Args:
        emit: receives each poll's samples (must not block).
        snmp_poll: ``SnmpPoller.run``; None disables SNMP.
        ping_probe: ``IcmpProber.run``; None disables ICMP.
        snmp_concurrency: at most this many SNMP polls at once.
        icmp_concurrency: at most this many ICMP probes at once.
        deadline_fraction: a poll's budget, as a fraction of its interval.
        observer: told of every poll's result and of every overloaded poll.
        stalled: seconds of event-loop lag since start (``LoopLagMonitor.stalled_s``); None: never stalled.
        behind: how far behind the event loop has run lately, a lag that lasts, not one stall
            (``LoopLagMonitor.behind_s``); None: never behind.
        shed_lag_s: from this lag on, polls are not started (counted overloaded, reason ``shed``).
    """

    def __init__(
        self,
        emit: Emit,
        *,
        snmp_poll: Probe | None,
        ping_probe: Probe | None,
        snmp_concurrency: int = defaults.MAX_CONCURRENT_SNMP,
        icmp_concurrency: int = defaults.MAX_CONCURRENT_ICMP,
        deadline_fraction: float = defaults.DEADLINE_FRACTION,
        observer: PollObserver | None = None,
        stalled: Callable[[], float] | None = None,
        behind: Callable[[], float] | None = None,
        shed_lag_s: float = SHED_LAG_S,
    ) -> None:
        self._emit = emit
        self._observer = observer
        self._stalled = stalled or (lambda: 0.0)
        self._behind = behind or (lambda: 0.0)
        self._shed_lag_s = shed_lag_s
        self._probes: dict[Kind, Probe | None] = {"snmp": snmp_poll, "ping": ping_probe}
        self._sems: dict[Kind, asyncio.Semaphore] = {
            "snmp": asyncio.Semaphore(snmp_concurrency),
            "ping": asyncio.Semaphore(icmp_concurrency),
        }
        self._deadline_fraction = deadline_fraction
        self._scheduler = AsyncIOScheduler(timezone=UTC, jobstores={"default": HeapJobStore()})
        skipped = events.EVENT_JOB_MAX_INSTANCES | events.EVENT_JOB_MISSED
        self._scheduler.add_listener(self._on_skipped, skipped)
        self._scheduler.add_listener(self._on_submitted, events.EVENT_JOB_SUBMITTED)
        self._devices: dict[str, Device] = {}
        self._due: dict[str, float] = {}
        self._runs: dict[str, int] = {}
        self._in_flight: dict[str, asyncio.Task[Any]] = {}  # job id → its running poll
        self._sending: set[str] = set()  # job ids of the polls holding a slot (past the slot wait)
        self._extra: set[asyncio.Task[None]] = set()  # polls asked for by poll_now
        self._asked: set[str] = set()  # job ids with a poll_now poll not yet begun
        self._stopping = False
        self.cycle = CycleStats()
        self.totals = CycleStats()

    # ---- device set ----

    @property
    def devices(self) -> dict[str, Device]:
        """The devices currently scheduled, by name."""
        return dict(self._devices)

    def set_devices(self, devices: Iterable[Device]) -> tuple[list[str], list[str], list[str]]:
        """Make the job set match ``devices``; returns (added, removed, changed) device names.

        Unchanged devices keep their jobs (and their next run time); changed ones get new jobs.
        """
        new = {device.name: device for device in devices}
        added = [name for name in new if name not in self._devices]
        removed = [name for name in self._devices if name not in new]
        changed = [name for name in new if name in self._devices and new[name] != self._devices[name]]
        for name in removed:
            self._remove_jobs(name)
            del self._devices[name]
        for name in changed:
            self._remove_jobs(name)
        for name in added + changed:
            self._devices[name] = new[name]
            self._add_jobs(new[name])
        return added, removed, changed

    def _job_ids(self, name: str) -> list[str]:
        return [f"{kind}:{name}" for kind in KINDS]

    def _remove_jobs(self, name: str) -> None:
        for job_id in self._job_ids(name):
            with contextlib.suppress(Exception):  # JobLookupError: that probe kind was off
                self._scheduler.remove_job(job_id)
            self._runs.pop(job_id, None)
            self._due.pop(job_id, None)

    def _add_jobs(self, device: Device) -> None:
        for kind in KINDS:
            interval = interval_of(device, kind)
            if interval is None or self._probes[kind] is None:
                continue
            job_id = f"{kind}:{device.name}"
            trigger = IntervalTrigger(
                seconds=interval,
                start_date=_EPOCH + timedelta(seconds=phase_offset(kind, device.name, interval)),
                timezone=UTC,
            )
            self._scheduler.add_job(
                self._run,
                trigger=trigger,
                args=(kind, device.name),
                id=job_id,
                name=job_id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(interval / 2)),
                replace_existing=True,
            )
            self._runs[job_id] = 0

    # ---- lifecycle ----

    def start(self) -> None:
        """Start firing jobs (needs a running event loop)."""
        self._scheduler.start()

    async def stop(self, grace_s: float) -> None:
        """Stop scheduling, let in-flight polls finish for up to ``grace_s``, cancel the rest."""
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.pause()
        polling = set(self._in_flight.values())
        for task in self._extra:  # asked-for polls still waiting for a running one: not started now
            if task not in polling:
                task.cancel()
        # A poll still waiting for a slot has sent nothing: it ends now, only those talking to a device get
        # the grace (tens of thousands of queued polls of an overloaded poller would eat it in cancellations).
        ends = asyncio.get_running_loop().time() + grace_s
        waiting = [task for job, task in self._in_flight.items() if job not in self._sending]
        for task in waiting:
            task.cancel()
        if waiting:
            await asyncio.wait(waiting, timeout=min(2.0, grace_s))
        pending = {task for task in self._in_flight.values() if not task.done()}
        if pending:
            grace_s = max(0.0, ends - asyncio.get_running_loop().time())
            log.info(
                "waiting up to %.1f s for %d polls in flight (%d waiting for a slot ended at once)",
                grace_s,
                len(pending),
                len(waiting),
            )
            _, still = await asyncio.wait(pending, timeout=grace_s)
            for task in still:
                task.cancel()
            if still:
                log.warning("cancelled %d polls still running at shutdown", len(still))
                await asyncio.wait(still, timeout=2.0)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down via call_soon

    def cancel_in_flight(self) -> int:
        """Cancel every poll running now (a second stop signal cuts the grace period); returns how many."""
        pending = [task for task in self._in_flight.values() if not task.done()]
        for task in pending:
            task.cancel()
        return len(pending)

    async def wait_idle(self, kind: Kind, name: str) -> None:
        """Return once no ``kind`` poll of device ``name`` is running."""
        task = self._in_flight.get(f"{kind}:{name}")
        if task is not None and not task.done():
            await asyncio.wait({task})

    def poll_now(self, kind: Kind, name: str) -> bool:
        """Poll device ``name`` now, outside its schedule (a linkDown trap asks the interfaces to confirm it).

        The device's schedule stays as it was. A poll of it already running is awaited first, since it may
        have read the agent before the change; one asked for and not yet begun serves every later ask (a
        switch that reboots sends a linkDown per port: one poll, not fifty). Returns False when the device or
        the probe kind is unknown.
        """
        if self._stopping or name not in self._devices or self._probes[kind] is None:
            return False
        job_id = f"{kind}:{name}"
        if job_id in self._asked:
            return True
        running = self._in_flight.get(job_id)

        async def run() -> None:
            try:
                if running is not None and not running.done():
                    await asyncio.wait({running})
            finally:
                self._asked.discard(job_id)
            await self._run(kind, name, extra=True)

        self._asked.add(job_id)
        task = asyncio.create_task(run(), name=f"poll-now-{kind}-{name}")
        self._extra.add(task)
        task.add_done_callback(self._extra.discard)
        return True

    def min_runs(self) -> int:
        """The fewest completed polls of any job (for ``--cycles``); 0 with no jobs."""
        return min(self._runs.values(), default=0)

    def take_cycle(self) -> CycleStats:
        """The counters since the previous call, and start new ones."""
        cycle, self.cycle = self.cycle, CycleStats()
        return cycle

    @property
    def in_flight(self) -> int:
        """Polls running now (waiting for a slot included).

        A poll is in ``_in_flight`` from its start to its end (its own ``finally``), so the count is a
        ``len()``: also safe to read from another thread (the HTTP endpoint's ``/api/status``).
        """
        return len(self._in_flight)

    # ---- events ----

    def _on_submitted(self, event: events.JobEvent) -> None:
        if isinstance(event, events.JobSubmissionEvent) and event.scheduled_run_times:
            self._due[event.job_id] = max(event.scheduled_run_times).timestamp()

    def _on_skipped(self, event: events.JobEvent) -> None:
        kind, _, name = event.job_id.partition(":")
        self._overloaded(kind, name, "skipped")
        device_log(log, name).debug("%s poll skipped: the previous one is still running", kind)

    def _overloaded(self, kind: str, name: str, reason: Reason) -> None:
        """Count a poll that was the poller's problem (cycle and totals), and tell the observer."""
        for stats in (self.cycle, self.totals):
            stats.polls_overloaded += 1
            stats.overloaded[reason] += 1
            stats.polls_skipped += reason == "skipped"
            stats.slow_devices.add(name)
        if self._observer is not None:
            self._observer.poll_overloaded(kind, name, reason)

    # ---- the job ----

    async def _run(self, kind: Kind, name: str, extra: bool = False) -> None:
        device = self._devices.get(name)
        probe = self._probes[kind]
        task = asyncio.current_task()
        if device is None or probe is None or task is None or self._stopping:
            return
        job_id = f"{kind}:{name}"
        previous = self._in_flight.get(job_id)
        if previous is not None and previous is not task and not previous.done():
            # A poll asked for by poll_now still runs: never two polls of one device at once.
            await asyncio.wait({previous})
        self._in_flight[job_id] = task
        interval = interval_of(device, kind) or defaults.INTERVAL_S
        seconds = interval * self._deadline_fraction
        # A poll asked for out of schedule is due when asked: it is never late.
        due = time.time() if extra else self._due.get(job_id, time.time())
        lag_s = max(0.0, time.time() - due)
        started = time.monotonic()
        result: ProbeResult | None = None
        refused: Reason | None = None
        stalled = queued_s = 0.0
        try:
            # Waiting for a slot is the poller's time: at most until the poll would have ended had it
            # started on time, so a poll that got none ends before its next run is due.
            refused = await self._admit(kind, max(0.0, seconds - lag_s))
            if refused is None:
                lag_s += time.monotonic() - started
                mark = self._stalled()
                self._sending.add(job_id)
                try:
                    with queue_time() as queued:
                        # The device's budget starts now, as its first request goes out.
                        result = await probe(device, Budget.start(seconds))
                finally:
                    self._sending.discard(job_id)
                    self._sems[kind].release()
                stalled = self._stalled() - mark
                queued_s = queued[0]
        except asyncio.CancelledError:
            device_log(log, name).debug("%s poll cancelled", kind)
            return
        except Exception:  # a bug in a probe must not stop the others
            device_log(log, name).exception("%s poll failed unexpectedly", kind)
            result = ProbeResult(False, error="internal error", duration_s=time.monotonic() - started)
        finally:
            self._in_flight.pop(job_id, None)
        if job_id in self._runs and not extra:
            self._runs[job_id] += 1
        reason = refused or classify(result, stalled, queued_s)
        if reason is not None or result is None:
            # Not the device's failure: nothing is emitted, so its rules see neither a failure nor a gap.
            self._overloaded(kind, name, reason or "slot_wait")
            device_log(log, name).debug("%s poll overloaded (%s)", kind, reason)
            return
        if result.cut:
            for stats in (self.cycle, self.totals):
                stats.polls_cut += 1
                stats.slow_devices.add(name)
            device_log(log, name).debug("%s poll cut at its deadline (%.1f s)", kind, seconds)
        late = self._count(name, result, lag_s * 1000.0, interval)
        if self._observer is not None:
            self._observer.poll_done(kind, name, result, late=late)
        if result.samples:
            try:
                self._emit(result.samples)
            except Exception:
                device_log(log, name).exception("output of the %s samples failed", kind)

    async def _admit(self, kind: Kind, wait_s: float) -> Reason | None:
        """Take a concurrency slot for a poll (waiting up to ``wait_s``); None once held, else why not.

        A loop ``shed_lag_s`` behind starts no poll: what it already runs is more than the core can do, and
        every poll started would push the stop signal's grace, the output's flushes and every reply read
        further back. Checked again once the slot came: the loop may have fallen behind meanwhile.
        """
        if self._behind() >= self._shed_lag_s:
            return "shed"
        semaphore = self._sems[kind]
        if not await _slot(semaphore, wait_s):
            return "slot_wait"
        if self._behind() >= self._shed_lag_s:
            semaphore.release()
            return "shed"
        return None

    def _count(self, name: str, result: ProbeResult, lag_ms: float, interval: float) -> bool:
        """Count one poll in this cycle and in the totals; returns whether it started late."""
        late = lag_ms > max(1000.0, interval * 50.0)
        self.cycle.start_lags_ms.append(lag_ms)
        for stats in (self.cycle, self.totals):
            stats.points += len(result.samples)
            stats.polls_late += late
            stats.poll_lag_ms_max = max(stats.poll_lag_ms_max, lag_ms)
            if result.ok:
                stats.polls_ok += 1
            else:
                stats.polls_failed += 1
                stats.failed_devices.add(name)
        return late


async def _slot(semaphore: asyncio.Semaphore, wait_s: float) -> bool:
    """Wait up to ``wait_s`` for a concurrency slot; False when none came free by then."""
    if not semaphore.locked():  # a slot is free: taken at once, without a timeout (and its timer) to cancel
        await semaphore.acquire()
        return True
    try:
        async with asyncio.timeout(wait_s):
            await semaphore.acquire()
    except TimeoutError:
        return False
    return True
