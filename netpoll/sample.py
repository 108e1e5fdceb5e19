"""The record every probe produces and every sink consumes: measurement, tags, fields, time."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter
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


# Tag values repeat too, poll after poll (device names, interface names and indexes): each is escaped once,
# in a memo of bounded size; an escaped value equal to its text is the text itself (no second copy).
_TAG_VALUES: dict[str, str] = {}
_TAG_VALUES_MAX = 1 << 16
# Tag key sets in their insertion order (one per kind of record) -> the keys sorted, with ``key=`` escaped.
_TAG_ORDERS: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}


def _tag_text(text: str) -> str:
    escaped = _tag_value(text)
    if len(_TAG_VALUES) >= _TAG_VALUES_MAX:
        _TAG_VALUES.clear()
    _TAG_VALUES[text] = text if escaped == text else escaped
    return escaped


def _tag_order(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    if len(_TAG_ORDERS) >= _KEYS_MAX:
        _TAG_ORDERS.clear()
    order = _TAG_ORDERS[keys] = tuple((key, f"{_key(key)}=") for key in sorted(keys))
    return order


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


# A record's fields have a shape: their names in order and the type of each value. Shapes are few (every
# interface record of a profile has the same fields) and records many, so each shape of int and float fields
# is compiled once into a %-template of the whole field set: a record whose floats are all finite and whose
# ints are all in the signed 64-bit range (every value then spelled as ``_fields`` spells it) is one
# ``template % values``; any other record, and any other shape (bool, text), takes ``_fields``.
_Values = tuple[FieldValue, ...]
_Pick = Callable[[_Values], tuple[Any, ...]]
_Template = tuple[str, _Pick | None, _Pick | None]  # (template, its floats, its ints)
_Shape = tuple[tuple[str, ...], tuple[type, ...]]
_TEMPLATES: dict[_Shape, _Template | None] = {}


def _picker(indexes: list[int]) -> _Pick | None:
    """The values at ``indexes`` as a tuple (None: no index)."""
    if not indexes:
        return None
    if len(indexes) == 1:
        (index,) = indexes
        return lambda values: (values[index],)
    return itemgetter(*indexes)


def _template(shape: _Shape) -> _Template | None:
    names, types = shape
    parts: list[str] = []
    floats: list[int] = []
    ints: list[int] = []
    for index, (name, kind) in enumerate(zip(names, types, strict=True)):
        key = _key(name).replace("%", "%%")
        if kind is float:
            parts.append(f"{key}=%r")
            floats.append(index)
        elif kind is int:
            parts.append(f"{key}=%di")
            ints.append(index)
        else:
            return None
    return ",".join(parts), _picker(floats), _picker(ints)


def _fields_text(fields: Mapping[str, FieldValue]) -> str:
    """The field set of a line (``""``: no field has a spelling)."""
    values = tuple(fields.values())
    shape = (tuple(fields), tuple(map(type, values)))
    try:
        template = _TEMPLATES[shape]
    except KeyError:
        if len(_TEMPLATES) >= _KEYS_MAX:
            _TEMPLATES.clear()
        template = _TEMPLATES[shape] = _template(shape)
    if template is not None and values and _plain(values, template[1], template[2]):
        return template[0] % values
    return ",".join(_fields(fields))


def _plain(values: _Values, floats: _Pick | None, ints: _Pick | None) -> bool:
    """Whether a template spells every value: floats finite, ints in the signed 64-bit range."""
    # A sum of finite floats is finite unless it overflows (then ``_fields`` decides, value by value).
    if floats is not None and not _isfinite(sum(floats(values))):
        return False
    if ints is None:
        return True
    picked: tuple[int, ...] = ints(values)
    return min(picked) >= _INT_MIN and max(picked) < _INT_LIMIT


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
        fields = _fields_text(self.fields)
        if not fields:
            return ""
        measurement = _MEASUREMENTS.get(self.measurement)
        if measurement is None:
            if len(_MEASUREMENTS) >= _KEYS_MAX:
                _MEASUREMENTS.clear()
            measurement = _MEASUREMENTS[self.measurement] = _name(self.measurement, _MEASUREMENT_ESCAPES)
        tags = self.tags
        keys = tuple(tags)
        parts = [measurement]
        escaped = _TAG_VALUES
        for key, name in _TAG_ORDERS.get(keys) or _tag_order(keys):
            value = tags[key]
            if value:
                parts.append(name + (escaped.get(value) or _tag_text(value)))
        return f"{','.join(parts)} {fields} {self.time_ns}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``--format json``: {measurement, tags, fields, time}."""
        return {
            "measurement": self.measurement,
            "tags": dict(self.tags),
            "fields": dict(self.fields),
            "time": self.time_ns,
        }
