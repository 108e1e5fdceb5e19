"""Names for notifications and their variable bindings.

The standard traps (RFC 3418, IF-MIB), plus what the ``traps:`` sections of the device profiles add
(``netpoll.inputs.traps.catalog``).

Numeric OIDs are facts; unknown ones are written as dotted decimal. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netpoll.inputs.snmp.types import Oid, SnmpValue, format_oid

_SNMP_TRAPS = (1, 3, 6, 1, 6, 3, 1, 1, 5)
# snmpTraps.1 to .6, in order (RFC 3418).
_STANDARD = ("coldStart", "warmStart", "linkDown", "linkUp", "authenticationFailure", "egpNeighborLoss")
TRAP_NAMES: dict[Oid, str] = {(*_SNMP_TRAPS, number): name for number, name in enumerate(_STANDARD, 1)}

# Columns, whose instances are named ``name.index`` (ifIndex.3), and scalars, named as they are.
_IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
_IF_X_ENTRY = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
_IF_COLUMNS = {1: "ifIndex", 2: "ifDescr", 3: "ifType", 7: "ifAdminStatus", 8: "ifOperStatus"}
_IF_X_COLUMNS = {1: "ifName", 18: "ifAlias"}
IF_INDEX_COLUMN = (*_IF_ENTRY, 1)
IF_STATUS_COLUMNS = ((*_IF_ENTRY, 7), (*_IF_ENTRY, 8))
_COLUMNS: dict[Oid, str] = {
    **{(*_IF_ENTRY, column): name for column, name in _IF_COLUMNS.items()},
    **{(*_IF_X_ENTRY, column): name for column, name in _IF_X_COLUMNS.items()},
}
_SCALARS: dict[Oid, str] = {
    (1, 3, 6, 1, 6, 3, 18, 1, 3, 0): "snmpTrapAddress",
    (1, 3, 6, 1, 6, 3, 1, 1, 4, 3, 0): "snmpTrapEnterprise",
    (1, 3, 6, 1, 2, 1, 1, 1, 0): "sysDescr",
    (1, 3, 6, 1, 2, 1, 1, 5, 0): "sysName",
}


@dataclass(frozen=True, slots=True)
class TrapType:
    """What a profile says about one notification: its name and severity."""

    name: str
    severity: str = ""


class TrapNames:
    """Notification and variable-binding names: the standard ones, and those the profiles add.

    Args:
        traps: snmpTrapOID → name and severity.
        columns: column (or scalar object) OID → name; an instance below it is named ``name.index``.
        scalars: exact instance OID → name.
    """

    def __init__(
        self, traps: Mapping[Oid, TrapType], columns: Mapping[Oid, str], scalars: Mapping[Oid, str]
    ) -> None:
        self.traps, self.columns, self.scalars = dict(traps), dict(columns), dict(scalars)
        # Column prefix lengths present, longest first: a lookup tries only those.
        self._lengths = sorted({len(oid) for oid in self.columns}, reverse=True)

    def trap(self, oid: Oid) -> TrapType | None:
        """The notification's name and severity, or None when unknown."""
        return self.traps.get(oid)

    def trap_name(self, oid: Oid) -> str:
        """``linkDown`` for a known notification; else the dotted OID."""
        known = self.traps.get(oid)
        return known.name if known is not None else format_oid(oid)

    def varbind_name(self, oid: Oid) -> str:
        """``ifOperStatus.3``, ``snmpTrapAddress``, ``jnxCmCfgChgEventUser.7``; else the dotted OID."""
        name = self.scalars.get(oid)
        if name is not None:
            return name
        for length in self._lengths:
            column = self.columns.get(oid[:length])
            if column is not None and len(oid) > length:
                return f"{column}.{format_oid(oid[length:])}"
        return format_oid(oid)

    def named_varbinds(
        self, varbinds: tuple[tuple[Oid, SnmpValue | None], ...]
    ) -> dict[str, int | str | None]:
        """The variable bindings by name, in order (a name seen twice keeps its first value)."""
        out: dict[str, int | str | None] = {}
        for oid, value in varbinds:
            out.setdefault(self.varbind_name(oid), varbind_value(value))
        return out

    def with_profiles(self, traps: Mapping[Oid, TrapType], columns: Mapping[Oid, str]) -> TrapNames:
        """These names plus a catalog's (its entries win for the same OID)."""
        return TrapNames({**self.traps, **traps}, {**self.columns, **columns}, self.scalars)


STANDARD_NAMES = TrapNames({oid: TrapType(name) for oid, name in TRAP_NAMES.items()}, _COLUMNS, _SCALARS)


def trap_name(oid: Oid) -> str:
    """``linkDown`` for a standard trap; else the dotted OID."""
    return STANDARD_NAMES.trap_name(oid)


def varbind_name(oid: Oid) -> str:
    """``ifOperStatus.3``, ``snmpTrapAddress``; else the dotted OID."""
    return STANDARD_NAMES.varbind_name(oid)


def varbind_value(value: SnmpValue | None) -> int | str | None:
    """A value as JSON can hold it: text for printable bytes (else hex), dotted OIDs, ints as they are."""
    if value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, tuple):
        return format_oid(value)
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + value.hex()
    return text if text.isprintable() else "0x" + value.hex()


def named_varbinds(varbinds: tuple[tuple[Oid, SnmpValue | None], ...]) -> dict[str, int | str | None]:
    """The variable bindings by standard name, in order (a name seen twice keeps its first value)."""
    return STANDARD_NAMES.named_varbinds(varbinds)
