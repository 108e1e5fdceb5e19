"""ICMP send pacing on virtual time: sends per loop iteration, sends due later, cancellation, closing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from netpoll.inputs.icmp.pacing import SendPacer
from tests.fakeclock import VirtualClock

Sent = list[tuple[int, float]]  # (loop iteration, loop time) of each send, in the order they went


def _paced(
    burst: int, offsets: list[float], before: Callable[[SendPacer, float], None] | None = None
) -> tuple[float, Sent]:
    """Send one echo due at start + offset for each offset, as the prober does; the start and the sends."""
    clock = VirtualClock()

    async def send(pacer: SendPacer, due: float, sent: Sent) -> None:
        slot = pacer.slot(due)
        if slot is not None:
            await slot
        sent.append((clock.iterations, asyncio.get_running_loop().time()))

    async def main() -> tuple[float, Sent]:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        pacer = SendPacer(burst)
        pacer.open(loop)
        start = loop.time()
        if before is not None:
            before(pacer, start)
        sent: Sent = []
        await asyncio.gather(*(send(pacer, start + offset, sent) for offset in offsets))
        await asyncio.sleep(10.0)  # every timer the pacer set has fired
        assert errors == []  # no callback of the pacer failed (e.g. on a cancelled send)
        return start, sent

    return clock.run(main())


def _per_iteration(sent: Sent) -> list[int]:
    return [len(list(group)) for _, group in itertools.groupby(iteration for iteration, _ in sent)]


def test_sends_due_now_go_at_most_burst_per_loop_iteration() -> None:
    start, sent = _paced(3, [0.0] * 8)
    assert _per_iteration(sent) == [3, 3, 2]
    assert {when for _, when in sent} == {start}  # all in the same instant: pacing is per iteration


def test_sends_due_later_wait_for_their_time_then_queue_for_a_slot() -> None:
    start, sent = _paced(2, [1.0] * 5)
    assert {when for _, when in sent} == {start + 1.0}  # not before it was due, and not later either
    assert _per_iteration(sent) == [2, 2, 1]


def test_a_send_cancelled_before_it_was_due_takes_no_slot() -> None:
    def cancel_one(pacer: SendPacer, start: float) -> None:
        cancelled = pacer.slot(start + 1.0)
        assert cancelled is not None
        cancelled.cancel()

    start, sent = _paced(1, [1.0, 2.0], before=cancel_one)
    # The one slot of each instant went to the send due then, not to the cancelled one.
    assert [when for _, when in sent] == [start + 1.0, start + 2.0]


def test_closing_lets_queued_sends_go_and_later_ones_skip_the_queue() -> None:
    clock = VirtualClock()

    async def main() -> tuple[float, list[float]]:
        loop = asyncio.get_running_loop()
        pacer = SendPacer(burst=1)
        pacer.open(loop)
        start = loop.time()
        slots = [pacer.slot(start) for _ in range(4)] + [pacer.slot(start + 5.0)]
        pacer.close()
        went = []
        for slot in slots:
            if slot is not None:
                await slot
            went.append(loop.time())
        assert pacer.slot(start + 9.0) is None  # closed: no more waiting
        return start, went

    start, went = clock.run(main())
    # The first had the iteration's slot; the queued ones went at once, the one due later when it was due.
    assert went == [start] * 4 + [start + 5.0]
