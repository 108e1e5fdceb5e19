"""On-disk spool of line-protocol batches that could not be delivered yet.

One file per batch in ``state_dir/spool/``, named by a monotonically increasing sequence number, so the
oldest batch is the first file in name order, also after a restart. The spool is bounded in bytes: when a
new batch would exceed the bound, the OLDEST batches are deleted first (the newest data is the most useful
to an operations centre, and the oldest is the first to fall out of any dashboard); every dropped batch is
counted and logged. The same holds when the filesystem fills before the bound: the oldest batches are
deleted until the new one fits (one warning per episode, not per batch).
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from netpoll.atomic_file import write_new

log = logging.getLogger("netpoll.outputs.influxdb.spool")

_SUFFIX = ".lp"
# "No space left" and "quota exceeded": room can be made by deleting the oldest batches.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    """One batch on disk: its path, size in bytes and number of lines (points)."""

    path: Path
    size: int
    points: int


class Spool:
    """A bounded FIFO of batches on disk (not thread-safe: used from the InfluxDB output's thread only).

    Args:
        directory: where batch files live; created if missing.
        max_bytes: the bound; at it the oldest batches are dropped.
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.dropped_batches = 0
        self.dropped_points = 0
        self._batches: list[SpooledBatch] = []
        self._bytes = 0
        self._next_seq = 0
        self._disk_full = False
        self._load()

    def _load(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Leftovers of an interrupted append: never complete batches, so never replayed.
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            try:
                seq = int(path.stem)
                data = path.read_bytes()
            except (ValueError, OSError):
                log.warning("spool: ignoring unexpected file %s", path)
                continue
            self._batches.append(SpooledBatch(path, len(data), data.count(b"\n")))
            self._bytes += len(data)
            self._next_seq = max(self._next_seq, seq + 1)
        if self._batches:
            log.info(
                "spool: %d batches (%d points, %d bytes) left from an earlier run will be replayed",
                len(self._batches),
                self.points,
                self._bytes,
            )

    def __len__(self) -> int:
        return len(self._batches)

    @property
    def size_bytes(self) -> int:
        """Bytes currently spooled."""
        return self._bytes

    @property
    def points(self) -> int:
        """Points (lines) currently spooled."""
        return sum(batch.points for batch in self._batches)

    def append(self, data: bytes) -> SpooledBatch | None:
        """Store one batch (newline-terminated lines) as the newest; drop the oldest ones beyond the bound.

        Returns the stored batch, or None when it was empty or larger than the whole bound (then dropped).

        Raises:
            OSError: the file could not be written, and no older batch is left to make room.
        """
        if not data:
            return None
        size = len(data)
        # Checked before making room: a batch that can never fit must not flush out the batches already kept.
        if size > self.max_bytes:
            self.dropped_batches += 1
            self.dropped_points += data.count(b"\n")
            log.warning(
                "spool: a %d byte batch exceeds the whole bound (%d bytes); dropped", size, self.max_bytes
            )
            return None
        while self._batches and self._bytes + size > self.max_bytes:
            self._drop_oldest()
        made_room = False
        while True:
            path = self.directory / f"{self._next_seq:016d}{_SUFFIX}"
            self._next_seq += 1
            try:
                # Write then rename, so a crash never leaves a half batch that would be replayed.
                write_new(path, data)
            except OSError as exc:
                if exc.errno not in _FULL or not self._batches:
                    raise
                self._make_room(exc)
                made_room = True
                continue
            break
        if self._disk_full and not made_room:
            self._disk_full = False
            log.warning("spool: %s has room again", self.directory)
        stored = SpooledBatch(path, size, data.count(b"\n"))
        self._batches.append(stored)
        self._bytes += size
        return stored

    def _make_room(self, exc: OSError) -> None:
        if not self._disk_full:
            self._disk_full = True
            log.warning(
                "spool: %s is full (%s) below the %d byte bound; dropping the oldest batches to keep the"
                " newest",
                self.directory,
                exc.strerror or exc,
                self.max_bytes,
            )
        self._drop_oldest(quiet=True)

    def _drop_oldest(self, quiet: bool = False) -> None:
        batch = self._batches.pop(0)
        self._bytes -= batch.size
        batch.path.unlink(missing_ok=True)
        self.dropped_batches += 1
        self.dropped_points += batch.points
        if quiet:
            return
        log.warning(
            "spool full (%d bytes bound): dropped the oldest batch %s (%d points); %d batches dropped so far",
            self.max_bytes,
            batch.path.name,
            batch.points,
            self.dropped_batches,
        )

    def peek(self, max_points: int = 1) -> tuple[list[SpooledBatch], bytes]:
        """The oldest batches, as many as fit in ``max_points`` (at least one), and their joined content.

        Joining them sends a backlog in few large writes instead of one small write per spooled batch.
        Empty when the spool is.
        """
        taken: list[SpooledBatch] = []
        parts: list[bytes] = []
        points = 0
        index = 0
        while index < len(self._batches):
            batch = self._batches[index]
            if taken and points + batch.points > max_points:
                break
            try:
                data = _read(batch.path, batch.size)
            except OSError as exc:
                log.warning("spool: cannot read %s (%s); skipped", batch.path, exc)
                self._batches.pop(index)
                self._bytes -= batch.size
                continue
            taken.append(batch)
            parts.append(data)
            points += batch.points
            index += 1
        return taken, b"".join(parts)

    def remove_many(self, batches: list[SpooledBatch]) -> None:
        """Forget batches once delivered (or rejected for good)."""
        for batch in batches:
            self.remove(batch)

    def remove(self, batch: SpooledBatch) -> None:
        """Forget a batch once it was delivered (or rejected for good)."""
        if self._batches and self._batches[0] == batch:
            self._batches.pop(0)
        elif batch in self._batches:
            self._batches.remove(batch)
        else:
            return
        self._bytes -= batch.size
        batch.path.unlink(missing_ok=True)


def _read(path: Path, size: int) -> bytes:
    """A batch file's content in 3 system calls (``Path.read_bytes`` makes 9: see ``write_new``)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        parts = [os.read(fd, size + 1)]
        # Shorter than asked: the end of the file (a regular file's read is short only there).
        while len(parts[-1]) > size:
            size = 1 << 16
            parts.append(os.read(fd, size + 1))
    finally:
        os.close(fd)
    return b"".join(parts)
