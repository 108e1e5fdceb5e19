"""One received trap or inform as netpoll shows and writes it: the ``trap`` record."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from netpoll.inputs.traps.decode import Notification
from netpoll.inputs.traps.names import named_varbinds, trap_name
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
    """

    device: Device | None
    source: str
    notification: Notification
    time_ns: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def name(self) -> str:
        """``linkDown``, or the dotted trap OID."""
        return trap_name(self.notification.trap_oid)

    @property
    def device_name(self) -> str:
        """The inventory name, else the source address."""
        return self.device.name if self.device is not None else self.source

    def varbinds(self) -> dict[str, int | str | None]:
        """The variable bindings by name (``ifIndex.3``: 3)."""
        return named_varbinds(self.notification.varbinds)

    def to_sample(self) -> Sample:
        """The ``trap`` record (device tags, trap name; varbinds as one JSON string field)."""
        tags = self.device.output_tags() if self.device is not None else {"device": self.source}
        tags["agent_host"] = self.source
        tags["trap"] = self.name
        tags["version"] = self.notification.version
        fields: dict[str, FieldValue] = {
            "trap_oid": self.notification.trap_oid_text,
            "kind": self.notification.kind,
            "varbinds": json.dumps(self.varbinds(), ensure_ascii=False, separators=(",", ":")),
            "id": self.id,
        }
        if self.notification.agent_addr:
            fields["agent_addr"] = self.notification.agent_addr
        if self.notification.uptime is not None:
            fields["uptime_s"] = self.notification.uptime / 100
        return Sample(TRAP.name, tags, fields, self.time_ns)
