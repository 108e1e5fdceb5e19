"""Reading a file a user named (a configuration, an inventory, a rules or profile file, a secret file).

Every loader reads through :func:`read_text`, so what is accepted (how much, what kind of file) is decided
here, once, with the bounds of :mod:`netpoll.configkit.limits`. Problems come back as :class:`ReadError`,
whose message says what is wrong and how to fix it and never holds any of the file's content.
"""

from __future__ import annotations

from pathlib import Path


class ReadError(ValueError):
    """A file cannot be used; the message (``cannot read it (...)``, ...) names no content."""


def read_text(path: Path, *, max_bytes: int | None = None) -> str:
    """The UTF-8 text of ``path``, at most ``max_bytes`` bytes long (None: no bound).

    Raises:
        ReadError: the file cannot be opened or read, is larger than ``max_bytes``, or is not UTF-8.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    except OSError as exc:
        raise ReadError(unreadable(exc)) from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise ReadError(f"larger than {max_bytes} bytes; is it the right file?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReadError("not UTF-8 text: save it as UTF-8") from None


def unreadable(exc: OSError) -> str:
    """``cannot read it (Permission denied): fix the path or its permissions``, for any OSError."""
    return f"cannot read it ({exc.strerror or type(exc).__name__}): fix the path or its permissions"


def resolve_path(value: str, base_dir: Path) -> Path:
    """``value`` as a path: ``~`` expanded, relative to ``base_dir`` (the folder of the file naming it)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path
