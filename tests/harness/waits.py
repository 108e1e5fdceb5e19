"""Event-driven waits for async tests: poll a condition every 20 ms up to a bound, never a fixed sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Return as soon as ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
