"""Signals of ``netpoll run``, handled from the first line of its handler to the process's exit.

asyncio's ``loop.add_signal_handler`` only covers the time a loop runs, and removing such a handler restores
the *default* action: a SIGHUP during start-up (before the reload watcher exists) or during shutdown (after
it is gone) used to kill the daemon, and systemd counts death by SIGHUP as a clean exit. ``ProcessSignals``
installs Python-level handlers once, before anything else, and keeps them until the process exits:

* SIGHUP is a reload request, never the default action. While the daemon runs it reaches the listener; before
  that it is remembered and replayed when the daemon starts listening; during shutdown it is ignored (logged).
* SIGTERM and SIGINT are stop requests, remembered the same way: one arriving during start-up stops the daemon
  as soon as it listens, through the normal exit (state saved, output flushed or spooled).
* The first stop request's arrival time is kept (``stop_requested_at``): the shutdown budget counts from the
  signal, not from when an overloaded event loop got round to it (seconds later at tens of thousands of
  devices), so "exits within the grace" holds from the operator's point of view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("netpoll.daemon.signals")

__all__ = ["HANDLED", "ProcessSignals"]

HANDLED = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)

Listener = Callable[[signal.Signals], None]


class ProcessSignals:
    """Process-wide handlers for SIGHUP, SIGTERM and SIGINT; one listener at a time receives them."""

    def __init__(self) -> None:
        self.installed = False
        self._pending: list[signal.Signals] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: Listener | None = None
        # time.monotonic() of the first SIGTERM/SIGINT while a listener was there (else: of listen()).
        self.stop_requested_at: float | None = None

    def install(self) -> ProcessSignals:
        """Install the handlers (main thread only; elsewhere this does nothing)."""
        with contextlib.suppress(ValueError):  # not the main thread: the caller keeps the defaults
            for sig in HANDLED:
                signal.signal(sig, self._handle)
            self.installed = True
        return self

    def listen(self, loop: asyncio.AbstractEventLoop, listener: Listener) -> None:
        """Deliver signals to ``listener`` in ``loop``, starting with those that came before."""
        self._loop, self._listener = loop, listener
        pending, self._pending = self._pending, []
        if any(sig != signal.SIGHUP for sig in pending):
            self.stop_requested_at = time.monotonic()  # asked during start-up: the budget starts now
        for sig in pending:
            loop.call_soon(listener, sig)

    def stop_listening(self) -> None:
        """From now on signals are only remembered (a SIGHUP during shutdown then does nothing)."""
        self._loop = self._listener = None

    def finish(self) -> None:
        """At the very end: ignore these signals while the interpreter shuts down.

        Python resets its own handlers to the default action during finalization, so a SIGHUP in the last
        milliseconds would still kill the process (and make its exit status a signal); ignoring is kept.
        """
        if self.installed:
            for sig in HANDLED:
                signal.signal(sig, signal.SIG_IGN)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        loop, listener = self._loop, self._listener
        if loop is not None and listener is not None:
            if sig != signal.SIGHUP and self.stop_requested_at is None:
                # Only a float assigned: this runs between two bytecodes of whatever the loop is doing.
                self.stop_requested_at = time.monotonic()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(listener, sig)
                return
        self._pending.append(sig)
