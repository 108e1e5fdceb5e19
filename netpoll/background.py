"""Background work a long-lived component owns: started in its ``__aenter__``, ended in its ``__aexit__``.

``stop_task`` ends a task on the component's own event loop; ``LoopThread`` runs work on an event loop of its
own, in a daemon thread, for components that must keep going however far behind the daemon's loop is (the
HTTP endpoint's ``/healthz``, the InfluxDB output's deliveries).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


# How often stop_task cancels a task again while it has not ended: long enough for a task's own clean-up on
# cancellation, short against a shutdown budget.
RECANCEL_S = 0.5


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (nothing when None) and wait until it has ended; its cancellation is not re-raised.

    The task is cancelled again every :data:`RECANCEL_S` until it ends: Python 3.11's ``asyncio.wait_for``
    (ours or a library's) swallows a cancellation that arrives as the operation it waits for completes
    (fixed in 3.12), and the task would run on with nothing left to stop it.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_S)
    with contextlib.suppress(asyncio.CancelledError):
        await task


class LoopThread:
    """An event loop of its own in a daemon thread, started and stopped from another event loop.

    ``start`` runs ``setup`` on the new loop and returns once it has (raising what it raised, the thread then
    ended); the loop then runs whatever ``setup`` started until ``stop``, which runs ``teardown`` there and
    waits for the thread to end. The thread is a daemon: one that does not end (a stuck teardown) never holds
    the process at exit.

    Args:
        name: the thread's name (in logs, thread dumps and profiles).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None  # the thread's, once it runs
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None  # set (on the thread's loop) to run the teardown

    async def start(self, setup: Callable[[], Awaitable[T]], teardown: Callable[[], Awaitable[None]]) -> T:
        """Start the thread and return ``setup()``'s result once it ran on the thread's loop.

        Raises:
            Exception: whatever ``setup`` raised (the thread has ended).
        """
        ready: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(setup, teardown, ready),), name=self.name, daemon=True
        )
        self._thread.start()
        try:
            return await asyncio.wrap_future(ready)
        except Exception:
            await asyncio.to_thread(self._thread.join)
            raise

    async def stop(self, timeout: float) -> bool:
        """Run the teardown on the thread's loop; whether the thread ended within ``timeout`` seconds."""
        loop, stop, thread = self.loop, self._stop, self._thread
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop already closed
                loop.call_soon_threadsafe(stop.set)
        if thread is None:
            return True
        await asyncio.to_thread(thread.join, timeout)
        return not thread.is_alive()

    async def _main(
        self,
        setup: Callable[[], Awaitable[T]],
        teardown: Callable[[], Awaitable[None]],
        ready: concurrent.futures.Future[T],
    ) -> None:
        """The thread's coroutine: setup, run until ``_stop`` is set, teardown."""
        if not ready.set_running_or_notify_cancel():  # the start was given up before the thread ran
            return
        self.loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            result = await setup()
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(result)
        try:
            await self._stop.wait()
        finally:
            await teardown()
        # asyncio.run then cancels the tasks still running on this loop.
