"""LoopThread: a component's event loop in a thread of its own, started and stopped from the caller's loop;
stop_task: a component's task ends, even when a wait in it swallows the cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from netpoll.background import LoopThread, stop_task


async def test_setup_and_teardown_run_on_the_threads_own_loop() -> None:
    caller = asyncio.get_running_loop()
    seen: list[tuple[str, asyncio.AbstractEventLoop]] = []

    async def setup() -> int:
        seen.append((threading.current_thread().name, asyncio.get_running_loop()))
        return 7

    async def teardown() -> None:
        seen.append((threading.current_thread().name, asyncio.get_running_loop()))

    thread = LoopThread("test-loop")
    assert await thread.start(setup, teardown) == 7
    assert await thread.stop(5.0)
    assert [name for name, _ in seen] == ["test-loop", "test-loop"]
    assert seen[0][1] is seen[1][1] is thread.loop
    assert thread.loop is not caller


async def test_a_failed_setup_is_raised_to_the_caller() -> None:
    async def setup() -> None:
        raise OSError("address in use")

    async def teardown() -> None:
        raise AssertionError("never run")

    thread = LoopThread("test-loop")
    with pytest.raises(OSError, match="address in use"):
        await thread.start(setup, teardown)
    assert await thread.stop(0.0)  # ended already


async def test_stop_is_bounded_when_the_teardown_hangs() -> None:
    release = threading.Event()

    async def setup() -> None:
        return None

    async def teardown() -> None:
        release.wait(10)  # blocks the thread's loop, as a hung disk would

    thread = LoopThread("test-loop")
    await thread.start(setup, teardown)
    assert not await thread.stop(0.05)
    release.set()
    assert await thread.stop(5.0)


async def test_stop_task_ends_a_task_whose_wait_for_swallowed_the_cancellation() -> None:
    """Python 3.11's wait_for returns the result when the cancellation comes as the awaited event is set."""
    wake = asyncio.Event()
    rounds = 0

    async def watcher() -> None:  # the inventory watcher's loop before the fix
        nonlocal rounds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 10)
            wake.clear()
            rounds += 1

    task = asyncio.create_task(watcher())
    await asyncio.sleep(0)
    wake.set()
    stopper = asyncio.create_task(stop_task(task))
    await asyncio.wait({stopper}, timeout=5)  # a bound against a hang: a cancellation once waited forever
    stopped = stopper.done()
    for leftover in (stopper, task):
        leftover.cancel()
    await asyncio.gather(stopper, task, return_exceptions=True)
    assert stopped
    assert task.cancelled()
    assert rounds <= 1
