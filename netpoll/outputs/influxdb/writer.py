"""InfluxDB output: batched writes with at-least-once delivery, bounded memory and a bounded on-disk spool.

The output runs on a thread of its own, with an event loop of its own (``netpoll.background.LoopThread``):
an overloaded poller's event loop can run seconds behind, and an output on that loop would then deliver a
batch per few of its iterations and fall behind its own polls, however fast the server. The caller's side is
cheap: ``write(samples)`` encodes the samples (line protocol) and appends the lines to a buffer under a lock,
no I/O and no syscall; it wakes the output's loop only when the buffer holds a batch or a memory bound is
reached. On the output's loop, a ticker seals the buffer into batches every ``flush_interval_s`` (and at once
on such a wake-up) and a sender delivers batches in order, the spool (older) before memory (newer), joining
batches up to ``batch_size`` points per write, each write in its own daemon thread under a wall-clock deadline
of ``timeout_s`` (a server that trickles its answer cannot hold the sender, nor the process at exit). Past
``_MAX_STUCK_WRITES`` writes abandoned at their deadline and still running, no new write starts.

Every sealed batch is on disk before the server sees it: the sender writes the batches it takes to the spool
first (write-ahead), and at every tick when the sender is busy (a write in flight, a backlog, or backing off)
every batch held in memory is written to the spool; a batch is removed from memory or the spool only once the
server acknowledged it. So a SIGKILL loses at most the points still buffered, those of the last flush
interval; the memory queue is also bounded by ``queue_max_points`` and ``queue_max_bytes`` (reaching either
spills at once). A batch can be delivered twice only when the server stored it but its answer did not arrive
(deadline, crash between sending and removal): the points keep their poll timestamps, so InfluxDB overwrites
the copy and VictoriaMetrics drops it when run with ``-dedup.minScrapeInterval=1ms`` (``docs/delivery.md``).
The spool's file I/O runs on the output's loop itself (its own thread: nothing else waits on it).

Delivery rules:

* 2xx: done.
* 5xx, 429, network and TLS errors, deadline: backoff (``netpoll.backoff``, capped at ``backoff_cap_s`` so a
  server that comes back is found within seconds) or the server's ``Retry-After`` if longer; meanwhile every
  batch goes to the spool, replayed oldest first once the server answers, also after a restart.
* 400, 413, 422 (the server will not accept this batch): an InfluxDB 1.x partial write (it stored the other
  lines) counts only the lines it dropped; otherwise the batch is split in halves, each written again, until
  the refused lines are isolated: only those are dropped, counted and logged with their device.
* 401, 403, 404 (credentials, permissions, org, bucket, database, or a server without the v2 API): logged
  once with the likely cause; batches keep going to the spool and are retried at the backoff cap.

On exit the sender gets ``shutdown_timeout_s`` to deliver what is held; the rest is spooled, and the exit
waits for the output's thread at most ``shutdown_timeout_s`` + ``_EXIT_MARGIN_S`` (a disk that hangs the spool
cannot hold the process either).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

from netpoll.background import LoopThread
from netpoll.backoff import Backoff
from netpoll.outputs.influxdb.spool import Spool, SpooledBatch
from netpoll.outputs.influxdb.transport import InfluxTransport, WriteRejected
from netpoll.sample import Sample
from netpoll.text import for_terminal

if TYPE_CHECKING:
    from netpoll.config import InfluxConfig

log = logging.getLogger("netpoll.outputs.influxdb")

__all__ = ["InfluxWriter", "WriteRejected"]

_DROP_STATUSES = frozenset({400, 413, 422})
_PARTIAL = re.compile(r"partial write\b.*\bdropped=(\d+)", re.S)
_DEVICE_TAG = re.compile(r"[ ,]device=((?:[^\\, ]|\\.)*)")
_CONFIG_STATUSES = frozenset({401, 403, 404})
# Writes abandoned at their deadline whose threads still run: past this many, no new write is started
# (each holds a connection and a batch in memory) until one ends.
_MAX_STUCK_WRITES = 4
# A Retry-After beyond this is a server's mistake: never park the output for longer.
_MAX_RETRY_AFTER_S = 300.0
# At exit, what the output's thread may take past shutdown_timeout_s: spooling what memory still holds.
_EXIT_MARGIN_S = 1.0

Outcome = Literal["ok", "dropped", "retry", "config"]


@dataclass(slots=True, eq=False)
class _Batch:
    """A sealed batch held in memory; ``spooled`` is its copy on disk once it was spilled while in flight."""

    body: bytes
    points: int
    spooled: SpooledBatch | None = None


class InfluxWriter:
    """Async context manager writing ``Sample`` records to InfluxDB (v1 or v2 write API, precision ns).

    Entering starts the output's thread (and event loop) and opens the spool there; ``write`` may then be
    called from the entering loop's thread; leaving delivers or spools what is held and ends the thread.

    Args:
        config: the ``influxdb`` configuration section.
        spool_dir: where undelivered batches are kept (``state_dir/spool``).
        transport: optional callable ``(body: bytes) -> None`` that raises ``WriteRejected`` or ``OSError``;
            tests use it to stand in for the server. Default: :class:`InfluxTransport`.
        backoff_base_s: first retry delay bound.
        backoff_cap_s: retry delay bound, also how soon a server that came back is noticed.
        shutdown_timeout_s: how long the exit waits for delivery before spooling the rest.
    """

    def __init__(
        self,
        config: InfluxConfig,
        spool_dir: Path,
        *,
        transport: Callable[[bytes], None] | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 5.0,
        shutdown_timeout_s: float = 10.0,
    ) -> None:
        self.config = config
        self.spool_dir = spool_dir
        self.shutdown_timeout_s = shutdown_timeout_s
        self.points_written = 0
        self.last_write_latency_ms = 0.0
        self._rejected_points = 0
        self._transport = transport
        self._owned: InfluxTransport | None = None
        self._backoff = Backoff(backoff_base_s, backoff_cap_s)
        # The caller's thread fills the buffer, the output's thread empties it: both under _lock, which also
        # guards the figures the output's thread publishes for the caller's (what memory alone holds).
        self._lock = threading.Lock()
        self._buffer: list[str] = []
        self._buffer_bytes = 0
        self._kicked = False  # a wake-up of the output's loop is on its way
        self._held_points = 0
        self._held_bytes = 0
        self._thread = LoopThread("influx-output")
        self._loop: asyncio.AbstractEventLoop | None = None  # the output thread's
        # Everything below belongs to the output's thread.
        self._memory: deque[_Batch] = deque()
        self._inflight: list[_Batch] = []
        self._busy = False  # a write in flight, or backing off after a failure
        self._spool: Spool | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._entered = False
        self._failures = 0
        self._stuck: set[threading.Thread] = set()
        self._config_error_logged = False
        self._unreachable_logged = False
        self._spool_error_logged = False

    # ---- public API (the caller's thread) ----

    def write(self, samples: list[Sample] | tuple[Sample, ...]) -> None:
        """Queue samples for writing; never blocks and never raises for server trouble."""
        if samples:
            self._enqueue([sample.to_line_protocol() for sample in samples])

    @property
    def queue_size(self) -> int:
        """Points waiting in memory (buffered, sealed or in flight, not yet acknowledged nor spooled)."""
        with self._lock:
            return len(self._buffer) + self._held_points

    @property
    def queue_bytes(self) -> int:
        """Bytes of line protocol held in memory."""
        with self._lock:
            return self._buffer_bytes + self._held_bytes

    @property
    def spool_bytes(self) -> int:
        """Bytes waiting in the on-disk spool."""
        return self._spool.size_bytes if self._spool is not None else 0

    @property
    def points_dropped(self) -> int:
        """Points dropped since start: rejected by the server, unspoolable, or pushed out of a full spool."""
        return self._rejected_points + (self._spool.dropped_points if self._spool is not None else 0)

    @property
    def healthy(self) -> bool:
        """True while the last delivery attempt succeeded."""
        return self._failures == 0

    def _enqueue(self, lines: list[str]) -> None:
        """Hand lines to the output's thread; its loop is woken only for a full batch or a bound reached."""
        size = sum(map(len, lines)) + len(lines)
        with self._lock:
            self._buffer += lines
            self._buffer_bytes += size
            if self._kicked or self._loop is None:
                return
            if len(self._buffer) < self.config.batch_size and not self._over_bound():
                return
            self._kicked = True  # cleared by the output's loop once it took the buffer
            loop = self._loop
        with contextlib.suppress(RuntimeError):  # its loop has ended: the exit spooled what it could
            loop.call_soon_threadsafe(self._on_kick)

    def _over_bound(self) -> bool:
        """Whether memory holds either bound's worth (called with ``_lock`` held)."""
        return (
            len(self._buffer) + self._held_points >= self.config.queue_max_points
            or self._buffer_bytes + self._held_bytes >= self.config.queue_max_bytes
        )

    # ---- lifecycle (the caller's loop) ----

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("InfluxWriter is not reentrant")
        self._entered = True
        await self._thread.start(self._open, self._close)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Read now: the daemon lowers it from what is left of its shutdown budget just before this exit.
        bound = self.shutdown_timeout_s + _EXIT_MARGIN_S
        if not await self._thread.stop(bound):
            log.error(
                "influxdb: the output did not end within %.1f s (the spool's disk hangs?); what it still held"
                " in memory is lost",
                bound,
            )

    # ---- the output's thread: start and exit ----

    async def _open(self) -> None:
        self._spool = Spool(self.spool_dir, self.config.spool_max_bytes)
        if self._transport is None:
            self._owned = InfluxTransport(self.config)
            self._transport = self._owned
        self._tasks = [
            asyncio.create_task(self._ticker(), name="influx-ticker"),
            asyncio.create_task(self._sender(), name="influx-sender"),
        ]
        with self._lock:
            self._loop = asyncio.get_running_loop()
        self._on_kick()  # what was written before the thread ran
        if len(self._spool):
            self._wake.set()

    async def _close(self) -> None:
        self._seal()
        self._stopping = True
        self._wake.set()
        ticker, sender = self._tasks
        ticker.cancel()
        try:
            # The sender delivers what memory holds (and, while the server answers, the spool), then returns.
            await asyncio.wait_for(asyncio.shield(sender), self.shutdown_timeout_s)
        except TimeoutError:
            log.warning("influxdb: not delivered within %.0f s; spooling the rest", self.shutdown_timeout_s)
        except Exception:  # reported below, with the ticker's
            pass
        # A write still in flight runs on in its daemon thread; its batch is spooled like the rest (if the
        # server does store it, the replay is a duplicate that the server absorbs).
        sender.cancel()
        for outcome in await asyncio.gather(sender, ticker, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error("influxdb: the output failed: %r", outcome, exc_info=outcome)
        self._spill(everything=True)
        if self._owned is not None:
            self._owned.close()
        log.info(
            "influxdb: stopped; %d points written, %d left in the spool (%d bytes)",
            self.points_written,
            self._spool.points if self._spool is not None else 0,
            self.spool_bytes,
        )

    # ---- the output's thread: memory and spool ----

    def _on_kick(self) -> None:
        """A full batch, or a bound reached: seal now, and spill at the bound."""
        with self._lock:
            self._kicked = False
            over = self._over_bound()
        self._seal()
        if over:
            self._spill()

    def _seal(self) -> None:
        """Cut the buffer into batches of at most ``batch_size`` points, for the sender."""
        with self._lock:
            lines, self._buffer = self._buffer, []
            size, self._buffer_bytes = self._buffer_bytes, 0
            # Counted as held until _recount counts the batches: queue_size never dips meanwhile.
            self._held_points += len(lines)
            self._held_bytes += size
        if not lines:
            return
        step = self.config.batch_size
        for start in range(0, len(lines), step):
            chunk = lines[start : start + step]
            self._memory.append(_Batch(("\n".join(chunk) + "\n").encode(), len(chunk)))
        self._recount()
        self._wake.set()

    def _recount(self) -> None:
        """Publish what memory alone holds (sealed or in flight, not spooled), for the caller's thread."""
        points = size = 0
        for batch in itertools.chain(self._memory, self._inflight):
            if batch.spooled is None:
                points += batch.points
                size += len(batch.body)
        with self._lock:
            self._held_points, self._held_bytes = points, size

    def _spill(self, everything: bool = False) -> None:
        """Spool every batch held in memory, oldest first: copies of those in flight, then the waiting ones.

        ``everything`` also seals and spools the buffer (at exit).
        """
        if everything:
            self._seal()
        batches = [batch for batch in self._inflight if batch.spooled is None]
        batches += self._memory
        self._memory.clear()
        if batches:
            self._spool_batches(batches)
        self._recount()

    def _spool_batches(self, batches: list[_Batch]) -> None:
        """Append to the spool; a batch that cannot be stored is lost (unless in flight: memory keeps it)."""
        assert self._spool is not None
        for batch in batches:
            try:
                batch.spooled = self._spool.append(batch.body)
            except OSError as exc:
                batch.spooled = None
                if batch not in self._inflight:
                    self._rejected_points += batch.points
                    self._log_spool_error(exc, batch.points)
                continue
            self._spool_error_logged = False

    def _log_spool_error(self, exc: OSError, points: int) -> None:
        if self._spool_error_logged:
            log.debug("influxdb: spool still failing (%s); %d more points lost", exc, points)
            return
        self._spool_error_logged = True
        log.error(
            "influxdb: cannot spool to %s (%s); %d points lost (logged once until the spool works again)",
            self.spool_dir,
            exc.strerror or exc,
            points,
        )

    async def _ticker(self) -> None:
        assert self._spool is not None
        while True:
            await asyncio.sleep(self.config.flush_interval_s)
            self._seal()
            # Spill only when the sender cannot take the batch now: a healthy server gets it from memory.
            if self._busy or len(self._spool):
                self._spill()

    # ---- the output's thread: sending ----

    async def _sender(self) -> None:
        """Deliver batches one write at a time, the spool (older) before memory (newer)."""
        assert self._spool is not None
        while True:
            if not self._memory and not len(self._spool):
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            self._busy = True
            if len(self._spool):
                outcome, retry_after = await self._send_spooled()
            else:
                outcome, retry_after = await self._send_memory()
            if outcome in ("ok", "dropped"):
                self._busy = False
                continue
            self._spill()
            if self._stopping:
                return
            delay = self._backoff.next_delay()
            if retry_after is not None:
                delay = max(delay, min(retry_after, _MAX_RETRY_AFTER_S))
            log.debug("influxdb: next attempt in %.2f s", delay)
            await asyncio.sleep(delay)

    async def _send_spooled(self) -> tuple[Outcome, float | None]:
        assert self._spool is not None
        spool = self._spool
        entries, body = spool.peek(self.config.batch_size)
        if not entries:
            return "ok", None
        outcome, retry_after = await self._deliver(body, sum(entry.points for entry in entries))
        if outcome in ("ok", "dropped"):
            # Removed only once delivered (or rejected for good): a crash before this line replays them.
            spool.remove_many(entries)
        return outcome, retry_after

    async def _send_memory(self) -> tuple[Outcome, float | None]:
        assert self._spool is not None
        batches = [self._memory.popleft()]
        points = batches[0].points
        while self._memory and points + self._memory[0].points <= self.config.batch_size:
            points += self._memory[0].points
            batches.append(self._memory.popleft())
        # Cancelled at exit, the batches stay in _inflight: the exit spools them.
        self._inflight = batches
        # Write-ahead: a batch is on disk before it leaves, so a crash while the server holds it unanswered
        # loses nothing (the replay after a restart may write it twice: same points, same timestamps, stored
        # once). A batch the spool cannot take (disk error) is sent all the same, from memory.
        self._spool_batches(batches)
        self._recount()
        outcome, retry_after = await self._deliver(b"".join(b.body for b in batches), points)
        self._inflight = []
        if outcome not in ("ok", "dropped"):
            # Any the spool could not take before the write go first, before anything newer (the caller
            # spills memory next; one that still cannot be spooled is then counted as lost).
            self._memory.extendleft(reversed([b for b in batches if b.spooled is None]))
            self._recount()
            return outcome, retry_after
        self._recount()
        # Written ahead (or copied by the ticker) while in flight: the server has them now.
        copies = [b.spooled for b in batches if b.spooled is not None]
        if copies:
            self._spool.remove_many(copies)
        return outcome, retry_after

    async def _write(self, body: bytes) -> None:
        """One write in a daemon thread, bounded by the wall-clock deadline ``timeout_s``.

        Raises:
            TimeoutError: the deadline passed (the thread is left to end on its own).
            OSError: too many earlier writes are still stuck.
        """
        self._stuck = {thread for thread in self._stuck if thread.is_alive()}
        if len(self._stuck) >= _MAX_STUCK_WRITES:
            raise OSError(f"{len(self._stuck)} earlier writes still have not ended")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        transport = self._transport
        assert transport is not None

        def settle(error: BaseException | None) -> None:
            if done.done():
                return
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

        def run() -> None:
            error: BaseException | None = None
            try:
                transport(body)
            except BaseException as exc:  # handed to the loop, which decides
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                loop.call_soon_threadsafe(settle, error)

        # Nobody may be waiting any more when a late answer arrives: mark its exception as seen.
        done.add_done_callback(lambda future: future.cancelled() or future.exception())
        thread = threading.Thread(target=run, name="influx-write", daemon=True)
        thread.start()
        # The answer and the deadline settle the same future, whichever comes first: the sender is woken
        # once, one loop iteration after the answer (each iteration of this loop is a GIL hand-off when the
        # poller's thread keeps the CPU busy).
        deadline = TimeoutError(f"no answer within the {self.config.timeout_s:g} s deadline")
        timer = loop.call_later(self.config.timeout_s, settle, deadline)
        try:
            await done
        except TimeoutError as exc:
            if exc is deadline:
                self._stuck.add(thread)
            raise
        finally:
            timer.cancel()

    async def _deliver(self, body: bytes, points: int) -> tuple[Outcome, float | None]:
        """Send one write; returns the outcome and the server's Retry-After (seconds), if any."""
        started = time.monotonic()
        try:
            await self._write(body)
        except WriteRejected as exc:
            if exc.status in _DROP_STATUSES:
                return await self._refused(body, points, exc), None
            self._failures += 1
            if exc.status in _CONFIG_STATUSES:
                if not self._config_error_logged:
                    self._config_error_logged = True
                    log.error(
                        "influxdb: %s; points are kept in the spool and retried every %g s or so",
                        exc,
                        self._backoff.cap_s,
                    )
                return "config", exc.retry_after
            self._log_unreachable(str(exc))
            return "retry", exc.retry_after
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # network, TLS and deadline trouble of every kind
            self._failures += 1
            self._log_unreachable(f"{type(exc).__name__}: {exc}")
            return "retry", None
        self.last_write_latency_ms = (time.monotonic() - started) * 1000.0
        self.points_written += points
        if self._failures:
            log.info(
                "influxdb: %s reachable again after %d failed attempts; replaying %d spooled batches",
                self.config.url,
                self._failures,
                len(self._spool) if self._spool is not None else 0,
            )
        self._failures = 0
        self._backoff.reset()
        self._config_error_logged = False
        self._unreachable_logged = False
        return "ok", None

    async def _refused(self, body: bytes, points: int, exc: WriteRejected) -> Outcome:
        """A batch the server refused (400/413/422): keep every line it would take, drop only the others.

        InfluxDB 1.x writes the lines it can parse and answers 400 "partial write: ... dropped=N": those N are
        dropped, the rest counted as written. A server that refuses a whole batch for some lines gets it again
        in halves, down to single lines (a few bad lines cost a few writes per halving).
        """
        partial = _PARTIAL.search(str(exc))
        if partial is not None:
            dropped = min(points, int(partial.group(1)))
            self._rejected_points += dropped
            self.points_written += points - dropped
            log.error(
                "influxdb: %d of %d points refused (partial write): %s",
                dropped,
                points,
                for_terminal(str(exc), 400),
            )
            return "ok"
        lines = [line for line in body.split(b"\n") if line]
        if len(lines) <= 1:
            self._rejected_points += points
            line = body.decode(errors="replace")
            device = _DEVICE_TAG.search(line)
            log.error(
                "influxdb: point of device %s refused (%s), dropped (%d dropped so far): %s",
                for_terminal(device.group(1) if device else "?", 80),
                for_terminal(str(exc), 300),
                self._rejected_points,
                for_terminal(line, 300),
            )
            return "dropped"
        middle = len(lines) // 2
        outcomes = []
        for half in (lines[:middle], lines[middle:]):
            outcome, _ = await self._deliver(b"\n".join(half) + b"\n", len(half))
            outcomes.append(outcome)
        for worst in ("config", "retry"):
            if worst in outcomes:
                return worst
        return "ok" if "ok" in outcomes else "dropped"

    def _log_unreachable(self, reason: str) -> None:
        if not self._unreachable_logged:
            self._unreachable_logged = True
            log.warning(
                "influxdb: %s unreachable (%s); spooling to %s and retrying with backoff",
                self.config.url,
                reason,
                self.spool_dir,
            )
        else:
            log.debug("influxdb: still unreachable (%s), attempt %d", reason, self._failures)
