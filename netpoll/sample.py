"""The record every probe produces and every sink consumes: measurement, tags, fields, time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FieldValue = float | int | bool | str

# A line break ends a point in line protocol and cannot be escaped in names and tags: it becomes a space
# (device strings such as ifAlias or sysDescr can hold one).
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\ ", "\r": r"\ "})
_TAG_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\=", "\n": r"\ ", "\r": r"\ "})


def _field_value(value: FieldValue) -> str:
    # bool before int: bool is a subclass of int, and line protocol spells them differently.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
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
        """Encode as one line of InfluxDB line protocol (tags sorted, empty tag values dropped)."""
        parts = [self.measurement.translate(_MEASUREMENT_ESCAPES)]
        for key in sorted(self.tags):
            value = self.tags[key]
            if value != "":
                parts.append(f"{key.translate(_TAG_ESCAPES)}={value.translate(_TAG_ESCAPES)}")
        fields = ",".join(
            f"{key.translate(_TAG_ESCAPES)}={_field_value(value)}" for key, value in self.fields.items()
        )
        return f"{','.join(parts)} {fields} {self.time_ns}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``--format json``: {measurement, tags, fields, time}."""
        return {
            "measurement": self.measurement,
            "tags": dict(self.tags),
            "fields": dict(self.fields),
            "time": self.time_ns,
        }
