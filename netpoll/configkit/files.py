"""Reading a file a user named (a configuration, an inventory, a rules or profile file, a secret file).

Every loader reads through :func:`read_text`, so what is accepted (how much, what kind of file) is decided
here, once, with the bounds of :mod:`netpoll.configkit.limits`: only regular files are opened (a FIFO,
``/dev/zero`` or a terminal is refused before it is opened, and the open itself never blocks), and never
more than the size bound is read. Problems come back as :class:`ReadError`, whose message says what is
wrong and how to fix it and never holds any of the file's content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from netpoll.configkit.limits import MAX_FILE_BYTES

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class ReadError(ValueError):
    """A file cannot be used; the message (``cannot read it (...)``, ...) names no content."""


def file_kind(mode: int) -> str:
    """``a FIFO``, ``a device``, ``a directory``, ... for a non-regular file's ``st_mode``."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading, only if it is a regular file; ``(fd, stat)``. The caller closes ``fd``.

    The kind is checked before opening (opening a device can have effects of its own) and again on the
    open descriptor (the path may have been replaced in between); the open never blocks.

    Raises:
        ReadError: the file is missing, unreadable or not a regular file.
    """
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise ReadError(f"is {file_kind(before.st_mode)}, not a regular file: name a regular file")
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise ReadError(unreadable(exc)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ReadError(f"is {file_kind(info.st_mode)}, not a regular file: name a regular file")
    return fd, info


def read_text(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``max_bytes`` bytes long.

    Raises:
        ReadError: the file cannot be opened or read, is not a regular file, is larger than
            ``max_bytes``, or is not UTF-8.
    """
    fd, info = open_regular(path)
    try:
        if info.st_size > max_bytes:
            raise ReadError(_too_large(info.st_size, max_bytes))
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ReadError(unreadable(exc)) from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:  # grew while being read
        raise ReadError(_too_large(len(raw), max_bytes))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReadError("not UTF-8 text: save it as UTF-8") from None


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"{size} bytes, larger than the {max_bytes} bytes netpoll reads from one file: is it the right"
        " file? (split a large inventory into several files, or use ranges:)"
    )


def unreadable(exc: OSError) -> str:
    """``cannot read it (Permission denied): fix the path or its permissions``, for any OSError."""
    return f"cannot read it ({exc.strerror or type(exc).__name__}): fix the path or its permissions"


def resolve_path(value: str, base_dir: Path) -> Path:
    """``value`` as a path: ``~`` expanded, relative to ``base_dir`` (the folder of the file naming it)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path
