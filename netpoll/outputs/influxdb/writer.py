"""InfluxDB output: batched, gzip'd v2 writes that lose nothing while the server is away.

``write(samples)`` only appends lines to an in-memory buffer (no I/O on the hot path). A background task seals
the buffer into a batch when it reaches ``batch_size`` lines or every ``flush_interval_s``, and a sender task
delivers batches in order through influxdb-client's synchronous write API in a worker thread (its own retry
machinery is off: this module decides about retries, so that no batch is sent twice and none out of order).

Delivery rules:

* 2xx: done.
* 5xx, 429 and network errors: capped, jittered exponential backoff; meanwhile this batch and every newer
  one go to the on-disk spool (``Spool``), which is replayed oldest first once the server answers again,
  also after a restart.
* 400, 413, 422 (the server will never accept this batch): the batch is dropped, counted, and the server's
  message (which quotes the first bad line) is logged once per batch.
* 401, 403, 404 (token, permissions, org or bucket wrong): logged once as a configuration error, batches keep
  going to the spool, retried at the maximum backoff only (no retry storm) until the configuration is fixed.

On exit everything buffered is sent once more within ``shutdown_timeout_s``; what cannot be sent is spooled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from netpoll.outputs.influxdb.spool import Spool
from netpoll.sample import Sample

log = logging.getLogger("netpoll.outputs.influxdb")

_DROP_STATUSES = frozenset({400, 413, 422})
_CONFIG_STATUSES = frozenset({401, 403, 404})


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    """Where and how to write. ``token`` is a secret: it is never logged."""

    url: str
    bucket: str
    org: str = ""
    token: str = ""
    spool_dir: Path = Path("state/spool")
    batch_size: int = 5000
    flush_interval_s: float = 1.0
    timeout_s: float = 10.0
    spool_max_bytes: int = 256 * 1024 * 1024
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    shutdown_timeout_s: float = 10.0
    gzip: bool = True


class WriteRejected(Exception):
    """The server answered with an HTTP error."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {message}")


@dataclass(slots=True)
class WriterStats:
    """Counters for self-monitoring (all since start)."""

    points_written: int = 0
    batches_written: int = 0
    points_dropped: int = 0
    batches_rejected: int = 0
    write_errors: int = 0
    last_write_latency_ms: float = 0.0


def backoff_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0.5, 1] * min(max, initial * 2^attempt)."""
    ceiling = min(max_s, initial_s * 2.0 ** min(attempt, 30))
    jitter: float = (rng or random).random()
    return ceiling * (0.5 + 0.5 * jitter)


class InfluxWriter:
    """Async context manager writing ``Sample`` records to InfluxDB (v2 write API, precision ns).

    Args:
        settings: server, bucket, batching, spool and backoff settings.
        transport: optional callable ``(body: bytes) -> None`` that raises ``WriteRejected`` or ``OSError``;
            tests use it to stand in for the server. Default: influxdb-client.
    """

    def __init__(self, settings: InfluxSettings, transport: Any = None) -> None:
        self.settings = settings
        self.stats = WriterStats()
        self._transport = transport
        self._client: Any = None
        self._buffer: list[str] = []
        self._batches: deque[bytes] = deque()
        self._spool: Spool | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._abort = False
        self._stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._entered = False
        self._failures = 0
        self._config_error_logged = False
        self._unreachable_logged = False

    # ---- public API ----

    def write(self, samples: list[Sample] | tuple[Sample, ...]) -> None:
        """Queue samples for writing; never blocks and never raises for server trouble."""
        if not samples:
            return
        self._buffer.extend(sample.to_line_protocol() for sample in samples)
        if len(self._buffer) >= self.settings.batch_size:
            self._seal()

    @property
    def queue_size(self) -> int:
        """Points waiting in memory (buffered and sealed, not yet sent)."""
        return len(self._buffer) + sum(batch.count(b"\n") for batch in self._batches)

    @property
    def spool_bytes(self) -> int:
        """Bytes waiting in the on-disk spool."""
        return self._spool.size_bytes if self._spool else 0

    @property
    def points_dropped(self) -> int:
        """Points dropped since start: rejected by the server, unspoolable, or pushed out of a full spool."""
        return self.stats.points_dropped + (self._spool.dropped_points if self._spool else 0)

    @property
    def points_written(self) -> int:
        """Points delivered since start (the same figure as the file output's)."""
        return self.stats.points_written

    @property
    def last_write_latency_ms(self) -> float:
        """How long the last successful write took."""
        return self.stats.last_write_latency_ms

    @property
    def healthy(self) -> bool:
        """True while the last delivery attempt succeeded."""
        return self._failures == 0

    # ---- lifecycle ----

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("InfluxWriter is not reentrant")
        self._entered = True
        self._spool = await asyncio.to_thread(Spool, self.settings.spool_dir, self.settings.spool_max_bytes)
        if self._transport is None:
            self._transport = self._make_transport()
        self._tasks = [
            asyncio.create_task(self._ticker(), name="influx-ticker"),
            asyncio.create_task(self._sender(), name="influx-sender"),
        ]
        if len(self._spool):
            self._wake.set()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._seal()
        self._stopping = True
        self._stop_event.set()
        self._wake.set()
        ticker, sender = self._tasks
        ticker.cancel()
        try:
            # The sender drains memory batches (and, while the server answers, the spool) then returns.
            await asyncio.wait_for(asyncio.shield(sender), self.settings.shutdown_timeout_s)
        except TimeoutError:
            log.warning(
                "influxdb: not drained within %.0f s; spooling the rest", self.settings.shutdown_timeout_s
            )
            # Never cancel a delivery in flight (its thread would go on, and the batch could be sent twice):
            # let the sender finish the current one, bounded by the HTTP timeout, and stop there.
            self._abort = True
            try:
                await asyncio.wait_for(asyncio.shield(sender), self.settings.timeout_s + 1.0)
            except TimeoutError:
                log.error("influxdb: a write is still in flight at exit; its batch stays spooled")
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self._spool_many(self._take_memory())
            if self._client is not None:
                await asyncio.to_thread(self._client.close)
            log.info(
                "influxdb: stopped; %d points written, %d left in the spool (%d bytes)",
                self.stats.points_written,
                self._spool.points if self._spool else 0,
                self.spool_bytes,
            )

    # ---- internals ----

    def _make_transport(self) -> Any:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException

        s = self.settings
        # retries=False: urllib3 must not retry on its own, or a batch could be sent twice behind our back.
        self._client = InfluxDBClient(
            url=s.url,
            token=s.token or "netpoll",
            org=s.org or "netpoll",
            timeout=int(s.timeout_s * 1000),
            enable_gzip=s.gzip,
            retries=False,
        )
        write_api = self._client.write_api(write_options=SYNCHRONOUS)

        def send(body: bytes) -> None:
            try:
                write_api.write(
                    bucket=s.bucket, org=s.org or "netpoll", record=body, write_precision=WritePrecision.NS
                )
            except ApiException as exc:
                status = int(exc.status or 0)
                message = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
                if status == 0:
                    raise OSError(str(exc.reason)) from exc
                raise WriteRejected(status, message.strip()[:500]) from exc

        return send

    def _seal(self) -> None:
        if not self._buffer:
            return
        body = ("\n".join(self._buffer) + "\n").encode()
        self._buffer = []
        self._batches.append(body)
        self._wake.set()

    def _spool_many(self, bodies: list[bytes]) -> None:
        """Append batches to the spool, oldest first (file I/O: runs in a worker thread)."""
        assert self._spool is not None
        for body in bodies:
            try:
                self._spool.append(body)
            except OSError as exc:
                self.stats.points_dropped += body.count(b"\n")
                log.error(
                    "influxdb: cannot spool a batch to %s (%s); %d points lost",
                    self._spool.directory,
                    exc,
                    body.count(b"\n"),
                )

    def _take_memory(self) -> list[bytes]:
        self._seal()
        bodies = list(self._batches)
        self._batches.clear()
        return bodies

    async def _spill(self) -> None:
        """Move every batch held in memory to the spool, keeping their order behind what is spooled."""
        bodies = self._take_memory()
        if bodies:
            await asyncio.to_thread(self._spool_many, bodies)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_interval_s)
            self._seal()

    async def _backoff(self, delay: float) -> None:
        """Wait ``delay`` (or until stopping), spooling what arrives meanwhile so memory stays bounded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while not self._stop_event.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stop_event.wait(), min(remaining, self.settings.flush_interval_s)
                )
            await self._spill()

    async def _sender(self) -> None:
        """Deliver batches one at a time, the spool (older) before memory (newer)."""
        assert self._spool is not None
        spool = self._spool
        while not self._abort:
            if not self._batches and not len(spool):
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            from_spool = bool(len(spool))
            if from_spool:
                peeked = await asyncio.to_thread(spool.peek)
                if peeked is None:
                    continue
                spooled, body = peeked
            else:
                body = self._batches[0]
            outcome = await self._deliver(body)
            if outcome in ("ok", "dropped"):
                # Removed only once delivered (or rejected for good): a crash before this line replays it.
                if from_spool:
                    await asyncio.to_thread(spool.remove, spooled)
                else:
                    self._batches.popleft()
                continue
            # Retryable or configuration trouble: park everything held in memory on disk, then wait.
            await self._spill()
            if self._stopping:
                return
            delay = (
                self.settings.backoff_max_s
                if outcome == "config"
                else backoff_delay(
                    self._failures, self.settings.backoff_initial_s, self.settings.backoff_max_s
                )
            )
            await self._backoff(delay)

    async def _deliver(self, body: bytes) -> str:
        """Send one batch; returns ok, dropped, retry or config."""
        points = body.count(b"\n")
        started = time.monotonic()
        try:
            await asyncio.to_thread(self._transport, body)
        except WriteRejected as exc:
            self.stats.write_errors += 1
            if exc.status in _DROP_STATUSES:
                self.stats.batches_rejected += 1
                self.stats.points_dropped += points
                first = body.split(b"\n", 1)[0].decode(errors="replace")[:300]
                log.error(
                    "influxdb: server rejected a batch of %d points (%s); dropped (%d dropped so far). "
                    "First line of the batch: %s",
                    points,
                    exc,
                    self.stats.points_dropped,
                    first,
                )
                return "dropped"
            self._failures += 1
            if exc.status in _CONFIG_STATUSES:
                if not self._config_error_logged:
                    self._config_error_logged = True
                    log.error(
                        "influxdb: %s: check the token, org and bucket in the influxdb section of the "
                        "configuration; points are kept in the spool and retried every %.0f s",
                        exc,
                        self.settings.backoff_max_s,
                    )
                return "config"
            self._log_unreachable(str(exc))
            return "retry"
        except Exception as exc:  # network errors of every kind (urllib3, socket, DNS)
            self.stats.write_errors += 1
            self._failures += 1
            self._log_unreachable(f"{type(exc).__name__}: {exc}")
            return "retry"
        self.stats.last_write_latency_ms = (time.monotonic() - started) * 1000.0
        self.stats.points_written += points
        self.stats.batches_written += 1
        if self._failures:
            log.info(
                "influxdb: %s reachable again after %d failed attempts; replaying %d spooled batches",
                self.settings.url,
                self._failures,
                len(self._spool) if self._spool else 0,
            )
        self._failures = 0
        self._config_error_logged = False
        self._unreachable_logged = False
        return "ok"

    def _log_unreachable(self, reason: str) -> None:
        if not self._unreachable_logged:
            self._unreachable_logged = True
            log.warning(
                "influxdb: %s unreachable (%s); spooling to %s and retrying with backoff",
                self.settings.url,
                reason,
                self.settings.spool_dir,
            )
        else:
            log.debug("influxdb: still unreachable (%s), attempt %d", reason, self._failures)
