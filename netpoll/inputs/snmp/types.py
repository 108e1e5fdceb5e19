"""Primitive types at the SNMP client seam: numeric OIDs as int tuples, decoded values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from netpoll.inventory.models import Device

Oid = tuple[int, ...]
# Integer-like types (Integer32, Counter32/64, Gauge32, TimeTicks, Unsigned32) → int;
# OCTET STRING → bytes; OBJECT IDENTIFIER → Oid; IpAddress → str (dotted quad).
SnmpValue = int | bytes | Oid | str


def parse_oid(text: str) -> Oid:
    """``"1.3.6.1.2.1.1.3.0"`` (leading dot allowed) → ``(1, 3, 6, 1, 2, 1, 1, 3, 0)``."""
    return tuple(int(part) for part in text.strip().lstrip(".").split("."))


def format_oid(oid: Oid) -> str:
    """``(1, 3, 6, 1)`` → ``"1.3.6.1"``."""
    return ".".join(map(str, oid))


class SnmpClient(Protocol):
    """The seam between the poller and an SNMP library (pysnmp, gufo-snmp, or a fake).

    Implementations raise ``netpoll.errors.SnmpTimeout``, ``SnmpAuthError`` or ``SnmpError``.
    """

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        """GET scalars. OIDs answered with noSuchObject/noSuchInstance are absent from the result."""
        ...

    async def walk(self, root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        """Bulk-walk (GETNEXT for v1) everything under ``root``, in agent order, to the subtree end.

        A walk longer than ``max_rows`` rows (None: the client's default) fails with an ``NetpollError``.
        """
        ...

    async def aclose(self) -> None:
        """Release the session."""
        ...


class SnmpClients(Protocol):
    """Where a poller gets each device's client (``SnmpClientPool``, or a fake in tests)."""

    def client(self, device: Device) -> SnmpClient:
        """The client of an inventory device, reused across polls."""
        ...
