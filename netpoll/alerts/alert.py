"""The ``Alert`` record: one published transition (breach, clear or event) of one rule on one entity."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from typing import Any, Literal

from netpoll.measurements import ALERT
from netpoll.sample import FieldValue, Sample

AlertState = Literal["breach", "clear", "event"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_alert_id(now_ns: int | None = None) -> str:
    """A ULID-like id: 48 bits of milliseconds then 80 random bits, 26 Crockford base32 characters.

    Unique per transition (a consumer drops a QoS 1 redelivery by it) and sortable by creation time.
    """
    millis = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    number = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def format_time(time_ns: int) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-25T09:14:26.123Z``."""
    moment = datetime.fromtimestamp(time_ns / 1e9, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert transition, as published over MQTT, written to InfluxDB and logged.

    Attributes:
        id: unique per transition (ULID-like, see :func:`new_alert_id`).
        state: ``breach``, ``clear`` or ``event``.
        rule: the rule name; ``severity`` its severity.
        device: device name; ``entity`` e.g. the ifName, ``""`` for device-level rules.
        measurement, field: what the rule watches.
        value: the value that made the transition (for flapping rules: the number of changes in the window).
        threshold: the breach value; ``clear_threshold`` the clear value (None for events).
        since_ns: when the condition began (breach/event: first sample of the run; clear: the breach's).
        time_ns: time of the sample that made the transition.
        breach_id: for a clear, the id of the breach it ends.
        tags: the sample's tags (site, role, ...), for routing by consumers.
        message: one human-readable line.
    """

    id: str
    state: AlertState
    rule: str
    severity: str
    device: str
    entity: str
    measurement: str
    field: str
    value: FieldValue
    threshold: FieldValue
    clear_threshold: FieldValue | None
    since_ns: int
    time_ns: int
    message: str = ""
    breach_id: str = ""
    tags: Mapping[str, str] = dc_field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The JSON object published over MQTT (schema in docs/alerts.md)."""
        payload: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "rule": self.rule,
            "severity": self.severity,
            "device": self.device,
            "entity": self.entity,
            "measurement": self.measurement,
            "field": self.field,
            "value": self.value,
            "threshold": self.threshold,
            "clear_threshold": self.clear_threshold,
            "since": format_time(self.since_ns),
            "time": format_time(self.time_ns),
            "message": self.message,
            "tags": dict(self.tags),
        }
        if self.breach_id:
            payload["breach_id"] = self.breach_id
        return payload

    def to_sample(self) -> Sample:
        """The ``alert`` point for InfluxDB (Grafana annotations); numbers always written as floats."""
        fields: dict[str, FieldValue] = {"id": self.id, "message": self.message}
        value = _as_float(self.value)
        if value is not None:
            fields["value"] = value
        threshold = _as_float(self.threshold)
        if threshold is not None:
            fields["threshold"] = threshold
        return Sample(
            measurement=ALERT.name,
            tags={
                "device": self.device,
                "rule": self.rule,
                "severity": self.severity,
                "entity": self.entity,
                "state": self.state,
            },
            fields=fields,
            time_ns=self.time_ns,
        )


def _as_float(value: FieldValue | None) -> float | None:
    # InfluxDB fixes a field's type at its first write: always float, never bool or int.
    if value is None or isinstance(value, str):
        return None
    return float(value)
