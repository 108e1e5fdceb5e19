"""File output: rotating line-protocol files, the embedded default when no InfluxDB is configured.

Files are named ``netpoll-YYYYmmddTHHMMSSZ-NNNN.lp`` in the data directory, one line per point, timestamps in
nanoseconds, so any of them loads into InfluxDB with ``influx write --bucket B --precision ns --file F``.
A file is closed and a new one opened when it reaches ``max_bytes`` or is older than ``rotate_s``; only the
newest ``keep_files`` are kept (the oldest are deleted first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from netpoll import defaults
from netpoll.background import stop_task
from netpoll.sample import Sample

log = logging.getLogger("netpoll.outputs.files")


class FileSink:
    """Async context manager appending ``Sample`` records to rotating line-protocol files.

    Args:
        directory: the data directory; created if missing.
        max_bytes: rotate when the current file reaches this size.
        rotate_s: rotate when the current file is older than this.
        keep_files: how many files to keep (0 = all).
        flush_interval_s: how often buffered lines are written out.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        max_bytes: int = defaults.FILE_MAX_BYTES,
        rotate_s: float = defaults.FILE_ROTATE_S,
        keep_files: int = 48,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.rotate_s = rotate_s
        self.keep_files = keep_files
        self.flush_interval_s = flush_interval_s
        self.points_written = 0
        self.points_dropped = 0  # lost to write errors
        self.last_write_latency_ms = 0.0
        self._buffer: list[str] = []
        self._handle: IO[str] | None = None
        self._opened_at = 0.0
        self._size = 0
        self._task: asyncio.Task[None] | None = None
        self.current_path: Path | None = None
        self._seq = 0
        # The flusher writes in a worker thread; a synchronous flush() may run meanwhile on the loop.
        self._lock = threading.Lock()

    def write(self, samples: list[Sample] | tuple[Sample, ...]) -> None:
        """Queue samples; they are written out within ``flush_interval_s``."""
        self._buffer.extend(sample.to_line_protocol() for sample in samples)

    @property
    def queue_size(self) -> int:
        """Points buffered in memory."""
        return len(self._buffer)

    @property
    def spool_bytes(self) -> int:
        """Always 0: files have no spool (same interface as the InfluxDB writer)."""
        return 0

    async def __aenter__(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._flusher(), name="file-sink")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await stop_task(self._task)
        # A write the flusher's thread still runs holds the lock: the last lines follow it, then the close.
        self.flush()
        with self._lock:
            if self._handle is not None:
                with contextlib.suppress(OSError):  # everything was flushed already
                    self._handle.close()
                self._handle = None

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            # Lines are taken here, in the loop that appends them; only the disk work goes to a thread.
            lines = self._take()
            if lines:
                await asyncio.to_thread(self._write_lines, lines)

    def _take(self) -> list[str]:
        lines, self._buffer = self._buffer, []
        return lines

    def flush(self) -> None:
        """Write buffered lines out now, synchronously (the flusher does it every ``flush_interval_s``).

        A write error (disk full, directory gone) is logged with the number of points lost, never raised.
        """
        lines = self._take()
        if lines:
            self._write_lines(lines)

    def _write_lines(self, lines: list[str]) -> None:
        with self._lock:
            started = time.monotonic()
            data = "\n".join(lines) + "\n"
            try:
                handle = self._current()
                handle.write(data)
                handle.flush()
            except OSError as exc:
                self.points_dropped += len(lines)
                log.error("files: cannot write to %s (%s); %d points lost", self.directory, exc, len(lines))
                if self._handle is not None:  # never reused: the next write opens a new file
                    with contextlib.suppress(OSError):
                        self._handle.close()
                    self._handle = None
                return
            self._size += len(data)
            self.points_written += len(lines)
            self.last_write_latency_ms = (time.monotonic() - started) * 1000.0

    def _current(self) -> IO[str]:
        now = time.time()
        if self._handle is not None and (
            self._size >= self.max_bytes or now - self._opened_at >= self.rotate_s
        ):
            self._handle.close()
            self._handle = None
        if self._handle is None:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
            # A per-process sequence keeps names in creation order even within one second.
            path = self.directory / f"netpoll-{stamp}-{self._seq:04d}.lp"
            while path.exists():
                self._seq += 1
                path = self.directory / f"netpoll-{stamp}-{self._seq:04d}.lp"
            self._seq += 1
            self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open across flushes
            self._size = path.stat().st_size
            self._opened_at = now
            self.current_path = path
            self._prune()
        return self._handle

    def _prune(self) -> None:
        if self.keep_files <= 0:
            return
        files = sorted(
            self.directory.glob("netpoll-*.lp"),
        )  # names sort by time
        for old in files[: max(0, len(files) - self.keep_files)]:
            if old != self.current_path:
                old.unlink(missing_ok=True)
