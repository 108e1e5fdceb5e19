"""The record every probe produces and every sink consumes: measurement, tags, fields, time."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netpoll.text import cut

FieldValue = float | int | bool | str

# Line protocol, one rule for every string (docs/schema.md, "Strings and numbers in line protocol"):
# - names (measurement, tag keys and values, field keys): ``,`` ``=`` space escaped with a backslash (the
#   measurement: ``,`` and space); a line break, which no escape can carry, becomes a space; a lone
#   surrogate (from bytes that were not UTF-8) U+FFFD; a backslash that would end the name or stand before
#   a backslash, ``,``, ``=`` or a space becomes U+FF3C (fullwidth reverse solidus): line protocol has no
#   encoding for it (influxdb#5231), and InfluxDB 1.x and VictoriaMetrics read a doubled backslash
#   differently; a tag value longer than TAG_MAX bytes is cut (``netpoll.text.cut``: start, ``~``, hash);
# - string fields: backslash and ``"`` escaped; a line break written as the two characters backslash, n/r;
# - integers in the signed 64-bit range as ``<n>i``; a Counter64 at or above 2^63 (up to 2^64-1) as its
#   two's complement ``<n - 2^64>i``: InfluxDB 1.x has no unsigned type, and writing ``u`` for some values
#   of a field would conflict with ``i`` for the others; any other integer as a float. NaN and infinities
#   have no spelling in line protocol: such a field is left out.
TAG_MAX = 1024
_NAME_ESCAPES = {",": r"\,", " ": r"\ ", "=": r"\=", "\n": r"\ ", "\r": r"\ "}
_MEASUREMENT_ESCAPES = str.maketrans({k: v for k, v in _NAME_ESCAPES.items() if k != "="})
_TAG_ESCAPES = str.maketrans(_NAME_ESCAPES)
_BAD_BACKSLASH = re.compile(r"\\(?=[\\,= \n\r]|$)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_MIN, _INT_LIMIT, _UINT_LIMIT = -(2**63), 2**63, 2**64
_isfinite = math.isfinite


def _name(text: str, escapes: dict[int, str]) -> str:
    if "\\" in text:
        text = _BAD_BACKSLASH.sub("\uff3c", text)
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return text.translate(escapes)


# Measurement names, tag keys and field keys are few (the schema's, the profiles'), and every record repeats
# them: each is escaped once. Bounded all the same (a user profile could name many fields).
_KEYS: dict[str, str] = {}
_MEASUREMENTS: dict[str, str] = {}
_KEYS_MAX = 4096


def _key(text: str) -> str:
    escaped = _KEYS.get(text)
    if escaped is None:
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()
        escaped = _KEYS[text] = _name(text, _TAG_ESCAPES)
    return escaped


def _tag_value(text: str) -> str:
    # The common case first: a short ASCII value without a backslash needs only the escapes.
    if len(text) <= TAG_MAX and "\\" not in text and text.isascii():
        return text.translate(_TAG_ESCAPES)
    return _name(cut(text, TAG_MAX), _TAG_ESCAPES)


def _fields(fields: Mapping[str, FieldValue]) -> list[str]:
    """``key=value`` of every field that has a spelling in line protocol (NaN and infinities have none)."""
    out: list[str] = []
    append = out.append
    keys = _KEYS
    for key, value in fields.items():
        name = keys.get(key) or _key(key)
        # Exact types first (nearly every field); bool is a subclass of int, so it never takes these.
        kind = type(value)
        if kind is float:
            if _isfinite(value):  # type: ignore[arg-type]
                append(f"{name}={value!r}")
        elif kind is int and _INT_MIN <= value < _INT_LIMIT:  # type: ignore[operator]
            append(f"{name}={value}i")
        elif (encoded := _field_value(value)) is not None:
            append(f"{name}={encoded}")
    return out


def _field_value(value: FieldValue) -> str | None:
    # bool before int: bool is a subclass of int, and line protocol spells them differently.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if _INT_MIN <= value < _INT_LIMIT:
            return f"{value}i"
        if _INT_LIMIT <= value < _UINT_LIMIT:
            return f"{value - _UINT_LIMIT}i"
        return repr(float(value))
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    if not escaped.isascii():
        escaped = _SURROGATE.sub("\ufffd", escaped)
    return f'"{escaped}"'


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of a time series.

    Attributes:
        measurement: InfluxDB measurement, e.g. ``interface``.
        tags: indexed string labels (device, ifName, site, ...).
        fields: the values; ints are written as integers, floats as floats.
        time_ns: when the response arrived, nanoseconds since the epoch.
    """

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int

    def to_line_protocol(self) -> str:
        """Encode as one line of InfluxDB line protocol (tags sorted, empty tag values dropped).

        Every string is encoded by one rule (see the comment above ``TAG_MAX``); a sample with no field that
        can be written (only NaN) gives an empty string.
        """
        fields = _fields(self.fields)
        if not fields:
            return ""
        measurement = _MEASUREMENTS.get(self.measurement)
        if measurement is None:
            if len(_MEASUREMENTS) >= _KEYS_MAX:
                _MEASUREMENTS.clear()
            measurement = _MEASUREMENTS[self.measurement] = _name(self.measurement, _MEASUREMENT_ESCAPES)
        tags = self.tags
        parts = [measurement]
        parts += [
            f"{_KEYS.get(key) or _key(key)}={_tag_value(tags[key])}" for key in sorted(tags) if tags[key]
        ]
        return f"{','.join(parts)} {','.join(fields)} {self.time_ns}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``--format json``: {measurement, tags, fields, time}."""
        return {
            "measurement": self.measurement,
            "tags": dict(self.tags),
            "fields": dict(self.fields),
            "time": self.time_ns,
        }
