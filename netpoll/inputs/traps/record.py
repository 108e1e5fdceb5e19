"""One received trap or inform as netpoll shows and writes it: the ``trap`` record."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from netpoll.alerts.alert import format_time
from netpoll.inputs.traps.decode import Notification
from netpoll.inputs.traps.names import IF_INDEX_COLUMN, IF_STATUS_COLUMNS, STANDARD_NAMES, TrapNames
from netpoll.inventory.models import Device
from netpoll.measurements import TRAP
from netpoll.sample import FieldValue, Sample


@dataclass(frozen=True, slots=True)
class Trap:
    """A decoded notification from a known (or, without an inventory, any) sender.

    Attributes:
        device: the inventory device, or None when no inventory was given (then named by its address).
        source: the sender's address.
        notification: what it sent.
        time_ns: when it arrived.
        id: unique per notification (the MQTT event's ``id``).
        if_name: for linkDown/linkUp, the ifName of its ifIndex from the poller's label cache ("" unknown).
        names: the notification and variable-binding names (standard, plus the profiles' ``traps:``).
    """

    device: Device | None
    source: str
    notification: Notification
    time_ns: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    if_name: str = ""
    names: TrapNames = field(default=STANDARD_NAMES, repr=False, compare=False)

    @property
    def name(self) -> str:
        """``linkDown``, ``jnxCmCfgChange``, or the dotted trap OID."""
        return self.names.trap_name(self.notification.trap_oid)

    @property
    def severity(self) -> str:
        """The severity a profile's ``traps:`` gives it; "" when none does."""
        known = self.names.trap(self.notification.trap_oid)
        return known.severity if known is not None else ""

    @property
    def device_name(self) -> str:
        """The inventory name, else the source address."""
        return self.device.name if self.device is not None else self.source

    def varbinds(self) -> dict[str, int | str | None]:
        """The variable bindings by name (``ifIndex.3``: 3)."""
        return self.names.named_varbinds(self.notification.varbinds)

    def if_index(self) -> int | None:
        """The ifIndex a linkDown/linkUp names; None for others.

        Its ``ifIndex.N`` varbind, else the index of the first ``ifAdminStatus.N``/``ifOperStatus.N``.
        """
        for oid, value in self.notification.varbinds:
            if oid[:10] == IF_INDEX_COLUMN and isinstance(value, int):
                return value
            if oid[:10] in IF_STATUS_COLUMNS and len(oid) == 11:
                return oid[10]
        return None

    def to_sample(self) -> Sample:
        """The ``trap`` record (device tags, trap name; varbinds as one JSON string field)."""
        tags = self.device.output_tags() if self.device is not None else {"device": self.source}
        tags["agent_host"] = self.source
        tags["trap"] = self.name
        tags["version"] = self.notification.version
        if self.if_name:
            tags["ifName"] = self.if_name
        fields: dict[str, FieldValue] = {
            "trap_oid": self.notification.trap_oid_text,
            "kind": self.notification.kind,
            "varbinds": json.dumps(self.varbinds(), ensure_ascii=False, separators=(",", ":")),
            "id": self.id,
        }
        if self.severity:
            fields["severity"] = self.severity
        if self.notification.agent_addr:
            fields["agent_addr"] = self.notification.agent_addr
        if self.notification.uptime is not None:
            fields["uptime_s"] = self.notification.uptime / 100
        return Sample(TRAP.name, tags, fields, self.time_ns)

    def to_event(self) -> dict[str, Any]:
        """The JSON object published on ``<prefix>/events/<device>/<trap>`` (docs/traps.md)."""
        note = self.notification
        event: dict[str, Any] = {
            "id": self.id,
            "time": format_time(self.time_ns),
            "device": self.device_name,
            "source": self.source,
            "trap": self.name,
            "trap_oid": note.trap_oid_text,
            "version": note.version,
            "kind": note.kind,
            "varbinds": self.varbinds(),
            "severity": self.severity or None,
            "tags": self.device.output_tags() if self.device is not None else {"device": self.source},
        }
        if self.if_name:
            event["ifName"] = self.if_name
        if note.agent_addr:
            event["agent_addr"] = note.agent_addr
        if note.uptime is not None:
            event["uptime_s"] = note.uptime / 100
        return event
