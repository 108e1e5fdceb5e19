"""Durations (``90``, ``"90s"``, ``"5m"``) and byte sizes (``268435456``, ``"256MiB"``) in config files.

``ByteSize`` is the annotated type pydantic models use for sizes; ``parse_*`` serve hand-written loaders
(the alert rules' ``for``, ``clear_for`` and ``window``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3}
_SIZE_UNITS |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3}


def has_unit(value: object) -> bool:
    """Whether ``value`` is text that ends in a unit (``"90s"``), as opposed to a bare number."""
    return isinstance(value, str) and bool(re.search(r"[a-z]\s*$", value))


def parse_duration(value: object) -> float:
    """``90``, ``"90s"``, ``"1.5m"``, ``"1h"``, ``"250ms"`` → seconds (never negative).

    Raises:
        ValueError: not a duration; the message shows how to write one.
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a duration: write seconds or e.g. 90s, 5m, 1h")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_bytes(value: object) -> int:
    """``268435456``, ``"256MiB"``, ``"1GB"``, ``"64 kB"`` → bytes.

    Raises:
        ValueError: not a size; the message shows how to write one.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE_RE.match(value.lower()) if isinstance(value, str) else None
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"{value!r} is not a size: write bytes or e.g. 256MiB, 1GB")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def _lenient(parse: Any) -> Any:
    # Leave what is not even text or a number to the field's own type check, for its usual message.
    def before(value: Any) -> Any:
        return parse(value) if isinstance(value, str) else value

    return before


ByteSize = Annotated[int, BeforeValidator(_lenient(parse_bytes))]
"""Bytes, written as a number or with a unit (``256MiB``, ``1GB``)."""
