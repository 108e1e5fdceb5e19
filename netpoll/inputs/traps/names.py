"""Names for notifications and their variable bindings: the standard traps (RFC 3418, IF-MIB) by name.

Numeric OIDs are facts; unknown ones are written as dotted decimal. Pure: no I/O.
"""

from __future__ import annotations

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


def trap_name(oid: Oid) -> str:
    """``linkDown`` for a standard trap; else the dotted OID."""
    return TRAP_NAMES.get(oid) or format_oid(oid)


def varbind_name(oid: Oid) -> str:
    """``ifOperStatus.3``, ``snmpTrapAddress``; else the dotted OID."""
    name = _SCALARS.get(oid)
    if name is not None:
        return name
    for length in (11, 10):
        column = _COLUMNS.get(oid[:length])
        if column is not None and len(oid) > length:
            return f"{column}.{format_oid(oid[length:])}"
    return format_oid(oid)


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
    """The variable bindings by name, in order (a name seen twice keeps its first value)."""
    out: dict[str, int | str | None] = {}
    for oid, value in varbinds:
        out.setdefault(varbind_name(oid), varbind_value(value))
    return out
