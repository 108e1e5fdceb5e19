"""Crash-safe file replacement, shared by every file netpoll keeps across restarts (state, spool, journal)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class AtomicFile:
    """A file written in pieces that replaces ``path`` only when ``commit`` is called (see ``write_atomic``).

    For data too large to hold whole in memory: each piece goes to a unique temporary file beside ``path``;
    ``commit`` fsyncs and renames it over ``path``, ``discard`` removes it.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self.path = path
        self._tmp = Path(tmp)
        self._handle = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        """Append ``data`` to the temporary file."""
        self._handle.write(data)

    def commit(self) -> None:
        """Replace ``path`` with what was written; a crash (even SIGKILL, power loss) leaves one or the other.

        Blocks on fsync: call it off the event loop.
        """
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.discard()
            raise
        _fsync_directory(self.path.parent)

    def discard(self) -> None:
        """Drop what was written; ``path`` stays as it was."""
        self._handle.close()
        self._tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``; a crash (even SIGKILL or power loss) leaves the old or the new file.

    Written to a unique temporary file beside it, fsync'd, renamed over it, then the directory is fsync'd so
    the rename itself is durable. The temporary file is removed if anything fails.
    """
    file = AtomicFile(path)
    try:
        file.write(data)
    except BaseException:
        file.discard()
        raise
    file.commit()


def write_new(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data``; a crash (even SIGKILL or power loss) leaves it whole or absent.

    For a writer that alone names the files of its directory (the InfluxDB spool): as ``write_atomic``, but
    through the fixed temporary name ``path`` + ``.tmp`` with plain ``os`` calls, 8 system calls instead of
    13. Each one hands the GIL over, and getting it back takes up to 5 ms while another thread keeps the CPU
    busy (the poller's, beside the output's thread).
    """
    tmp = path.with_name(f"{path.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:  # its directory was removed meanwhile: made again, as write_atomic does
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    try:
        with memoryview(data) as view:
            done = 0
            while done < len(view):
                done += os.write(fd, view[done:])
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the renames and creations in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_durable(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing) and fsync it before returning.

    A crash can leave a torn last record: whoever reads the file must skip one that does not parse.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
