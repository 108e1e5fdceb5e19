"""Waits on a condition up to a bound, never a fixed sleep: ``wait_for`` for async tests (every 20 ms),
``wait_until`` for tests that watch a subprocess from plain code (every 0.25 s)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Return as soon as ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def wait_until(condition: Callable[[], object], timeout: float) -> bool:
    """Whether ``condition()`` held within ``timeout`` seconds (checked every 0.25 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False
