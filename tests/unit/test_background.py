"""LoopThread: a component's event loop in a thread of its own, started and stopped from the caller's loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from netpoll.background import LoopThread


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
