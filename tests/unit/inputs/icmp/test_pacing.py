"""ICMP send pacing on virtual time: sends per loop iteration, sends due later, cancellation, closing."""

from __future__ import annotations

import asyncio
import itertools

from netpoll.inputs.icmp.pacing import SendPacer
from tests.fakeclock import VirtualClock


async def _send(pacer: SendPacer, clock: VirtualClock, due: float, sent: list[tuple[int, float]]) -> None:
    """One echo as the prober sends it: wait for the slot if there is one to wait for, then 'send'."""
    slot = pacer.slot(due)
    if slot is not None:
        await slot
    sent.append((clock.iterations, asyncio.get_running_loop().time()))


def test_sends_due_now_go_at_most_burst_per_loop_iteration_in_order() -> None:
    clock = VirtualClock()

    async def main() -> list[tuple[int, float]]:
        pacer = SendPacer(burst=3)
        pacer.open(asyncio.get_running_loop())
        now = asyncio.get_running_loop().time()
        sent: list[tuple[int, float]] = []
        await asyncio.gather(*(_send(pacer, clock, now, sent) for _ in range(8)))
        return sent

    sent = clock.run(main())
    per_iteration = [len(list(group)) for _, group in itertools.groupby(it for it, _ in sent)]
    assert per_iteration == [3, 3, 2]
    assert len({when for _, when in sent}) == 1  # all in the same instant: pacing is per iteration


def test_sends_due_later_wait_for_their_time_then_queue_for_a_slot() -> None:
    clock = VirtualClock()

    async def main() -> tuple[float, list[tuple[int, float]]]:
        loop = asyncio.get_running_loop()
        pacer = SendPacer(burst=2)
        pacer.open(loop)
        start = loop.time()
        sent: list[tuple[int, float]] = []
        await asyncio.gather(*(_send(pacer, clock, start + 1.0, sent) for _ in range(5)))
        return start, sent

    start, sent = clock.run(main())
    assert {when for _, when in sent} == {start + 1.0}  # not before it was due, and not later either
    per_iteration = [len(list(group)) for _, group in itertools.groupby(it for it, _ in sent)]
    assert per_iteration == [2, 2, 1]


def test_a_send_cancelled_before_it_was_due_takes_no_slot() -> None:
    clock = VirtualClock()

    async def main() -> tuple[float, list[tuple[int, float]]]:
        loop = asyncio.get_running_loop()
        pacer = SendPacer(burst=1)
        pacer.open(loop)
        due = loop.time() + 1.0
        cancelled = pacer.slot(due)
        assert cancelled is not None
        cancelled.cancel()
        sent: list[tuple[int, float]] = []
        await asyncio.gather(_send(pacer, clock, due, sent), _send(pacer, clock, due + 1.0, sent))
        return due, sent

    due, sent = clock.run(main())
    # The cancelled send took no slot: the one slot of each instant went to the send due then.
    assert [when for _, when in sent] == [due, due + 1.0]


def test_closing_lets_queued_sends_go_and_later_ones_skip_the_queue() -> None:
    clock = VirtualClock()

    async def main() -> tuple[float, list[tuple[int, float]]]:
        loop = asyncio.get_running_loop()
        pacer = SendPacer(burst=1)
        pacer.open(loop)
        start = loop.time()
        sent: list[tuple[int, float]] = []
        tasks = [asyncio.create_task(_send(pacer, clock, start, sent)) for _ in range(4)]
        tasks.append(asyncio.create_task(_send(pacer, clock, start + 5.0, sent)))
        await asyncio.sleep(0)
        pacer.close()
        await asyncio.gather(*tasks)
        assert pacer.slot(start + 9.0) is None  # closed: no more waiting
        return start, sent

    start, sent = clock.run(main())
    assert len(sent) == 5
    assert [when for _, when in sent] == [start] * 4 + [start + 5.0]
