"""ICMP send pacing: at most ``burst`` echo requests per event-loop iteration, first come first served.

Thousands of probes start at once; sending all their first echoes in one loop iteration would leave the
replies unread in the socket buffer (or dropped) meanwhile. Each iteration sends at most ``burst``, and the
socket's reader runs between bursts.

A send due later (a probe's next echo, one interval on) waits on one loop timer that queues it for a slot when
it fires, so a probe wakes once per echo: not once from a sleep and once more from the queue, which cost more
CPU than the rest of an echo's handling at thousands of targets.
"""

from __future__ import annotations

import asyncio
import collections


class SendPacer:
    """Send slots for the probes of one prober, handed out per event-loop iteration.

    Args:
        burst: most sends per loop iteration.
    """

    def __init__(self, burst: int) -> None:
        self._burst = burst
        self._budget = burst
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refill_pending = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand out slots on ``loop`` from now on."""
        self._loop = loop
        self._budget = self._burst

    def close(self) -> None:
        """Let queued sends go now and later ones skip the queue: the prober closed, they fail, never hang."""
        self._loop = None
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def slot(self, due: float) -> asyncio.Future[None] | None:
        """None: send now; else a future that is done once the send may go, never before loop time ``due``."""
        loop = self._loop
        if loop is None:
            return None
        if due > loop.time():
            waiter: asyncio.Future[None] = loop.create_future()
            loop.call_at(due, self._queue, waiter)
            return waiter
        if self._grab(loop):
            return None
        waiter = loop.create_future()
        self._waiters.append(waiter)
        return waiter

    def _queue(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done():  # the probe was cancelled before its send was due
            return
        if self._loop is None or self._grab(self._loop):  # closed meanwhile: the send goes on and fails
            waiter.set_result(None)
        else:
            self._waiters.append(waiter)

    def _grab(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Take a slot of this loop iteration if one is left and no send queues before this one."""
        if not self._refill_pending:
            self._refill_pending = True
            loop.call_soon(self._refill)
        if self._budget > 0 and not self._waiters:
            self._budget -= 1
            return True
        return False

    def _refill(self) -> None:
        self._refill_pending = False
        if self._loop is None:  # closed while a refill was scheduled
            return
        budget = self._burst
        while self._waiters and budget:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                budget -= 1
        self._budget = budget
        if budget < self._burst:  # slots handed out: the next iteration refills again
            self._refill_pending = True
            self._loop.call_soon(self._refill)
