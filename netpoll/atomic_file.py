"""Crash-safe file replacement, shared by every file netpoll keeps across restarts (state, spool, journal)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``; a crash (even SIGKILL or power loss) leaves the old or the new file.

    Written to a unique temporary file beside it, fsync'd, renamed over it, then the directory is fsync'd so
    the rename itself is durable. The temporary file is removed if anything fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def append_durable(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing) and fsync it before returning.

    A crash can leave a torn last record: whoever reads the file must skip one that does not parse.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
