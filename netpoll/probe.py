"""The contract between whoever schedules polls and the probes: a time budget in, an explicit result out.

The scheduler (the daemon's ``PollScheduler``, or ``netpoll poll`` for a one-shot poll) owns the one deadline
of a poll: it gives the probe a :class:`Budget`, started when the probe may send its first request (after any
wait for a concurrency slot, which is the poller's time, not the device's). The probe (``SnmpPoller.run``,
``IcmpProber.run``) ends by that deadline whatever the device does and returns a :class:`ProbeResult` that
says in so many words whether the poll worked, why not, what it produced and how long it took; a device
failure is a result, not an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from netpoll.inventory.models import Device
from netpoll.sample import Sample


@dataclass(frozen=True, slots=True)
class Budget:
    """The time one poll may take.

    Attributes:
        seconds: the length of the budget, for messages.
        deadline: the event-loop time (``loop.time()``) at which the poll is cut.
    """

    seconds: float
    deadline: float

    @classmethod
    def start(cls, seconds: float) -> Budget:
        """A budget of ``seconds`` from now (needs a running event loop)."""
        return cls(seconds, asyncio.get_running_loop().time() + seconds)

    def remaining(self) -> float:
        """Seconds left, 0 when spent."""
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    @property
    def exceeded(self) -> str:
        """The error of a poll cut at this budget's deadline."""
        return f"poll deadline of {self.seconds:g}s exceeded"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one poll of one device came to.

    Attributes:
        ok: the device answered the poll (SNMP: the poll completed; ping: at least one echo reply).
        samples: the records to write, failure records included (``snmp`` with ``poll_ok=0``, ``ping`` with
            ``result_code`` 1 or 2), so alert rules see a failure.
        error: why the poll failed; None when ``ok``.
        duration_s: how long the poll took.
        cut: the poll ended at its budget's deadline rather than by the device's answer or error.
        no_answer: an answer did not come (a request timeout, a cut, an echo request without reply, also in a
            ping that got other replies), the one kind of failure a poller too busy to read its replies can
            cause; False for an answer that said no (authentication, agent error, no route).
    """

    ok: bool
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0
    cut: bool = False
    no_answer: bool = False


Probe = Callable[[Device, Budget], Awaitable[ProbeResult]]
"""``SnmpPoller.run`` / ``IcmpProber.run``: poll one device within a budget; a device failure is a result."""


# Seconds the running poll spent waiting in the poller's own queues; None outside a poll the scheduler runs.
_QUEUED: ContextVar[list[float] | None] = ContextVar("netpoll_poll_queued", default=None)


@contextlib.contextmanager
def poller_queue() -> Iterator[None]:
    """Around a wait inside the poller (not the device): a backend's bound on requests in flight, send pacing.

    The time is added to the running poll's queue time (see :func:`queue_time`), which tells a poll cut at its
    deadline because it queued in the poller from one cut because the device was slow.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        yield
    finally:
        add_queue_time(loop.time() - start)


def add_queue_time(seconds: float) -> None:
    """Add ``seconds`` to the running poll's queue time, as :func:`poller_queue` does around a wait.

    For a hot path that times its own wait (ICMP send pacing, once per echo) without a context manager.
    """
    queued = _QUEUED.get()
    if queued is not None:
        queued[0] += seconds


@contextlib.asynccontextmanager
async def holding(semaphore: asyncio.Semaphore) -> AsyncIterator[None]:
    """``async with semaphore`` whose wait for the semaphore counts as poller queue time."""
    with poller_queue():
        await semaphore.acquire()
    try:
        yield
    finally:
        semaphore.release()


@contextlib.contextmanager
def queue_time() -> Iterator[list[float]]:
    """Collect the queue time of the poll run inside (``[seconds]``, read once the block ended)."""
    queued = [0.0]
    token = _QUEUED.set(queued)
    try:
        yield queued
    finally:
        _QUEUED.reset(token)
