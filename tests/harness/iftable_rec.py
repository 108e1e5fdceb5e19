"""A generated ``.snmprec`` recording of a switch with many interfaces (IF-MIB ifTable and ifXTable).

Row ``i`` (1-based) is ``GigabitEthernet0/i`` (ifName ``Gi0/i``, ethernetCsmacd), except: every 50th row a
softwareLoopback ``Loopback<i>``, every 25th (not 50th) an l2vlan ``Vlan<i>``; every 10th row is admin-down.
Rows 1-4 have ifAlias ``uplink-<i>`` (``aliases`` sets others). ``last_change``: IF-MIB ifTableLastChange,
absent when None. Counters are static (snmpsim serves them as recorded); values grow with the row so each cell
is distinct. OIDs are facts from IF-MIB and SNMPv2-MIB.
"""

from __future__ import annotations

from pathlib import Path

from netpoll.inputs.snmp.types import Oid, parse_oid

SYSTEM = "1.3.6.1.2.1.1"
IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_TABLE_LAST_CHANGE = "1.3.6.1.2.1.31.1.5.0"
IF_ENTRY = "1.3.6.1.2.1.2.2.1"
IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1"
SOFTWARE_LOOPBACK, L2VLAN, ETHERNET = 24, 135, 6
# (column, snmprec tag): 2 INTEGER, 4 OCTET STRING, 65 Counter32, 66 Gauge32, 70 Counter64
_IF_COUNTERS_32 = (10, 11, 13, 14, 16, 17, 19, 20)
_IFX_COUNTERS_32 = (2, 3, 4, 5)
_IFX_COUNTERS_64 = (6, 7, 8, 9, 10, 11, 12, 13)


def row_kind(i: int) -> tuple[str, str, int]:
    """(ifDescr, ifName, ifType) of row ``i``."""
    if i % 50 == 0:
        return f"Loopback{i}", f"Lo{i}", SOFTWARE_LOOPBACK
    if i % 25 == 0:
        return f"Vlan{i}", f"Vl{i}", L2VLAN
    return f"GigabitEthernet0/{i}", f"Gi0/{i}", ETHERNET


def snmprec(count: int, last_change: int | None = None, aliases: dict[int, str] | None = None) -> str:
    """The recording's text: ``count`` interfaces; ``aliases``: ifAlias by row, over the default ones."""
    lines: list[tuple[Oid, str]] = []

    def add(oid: str, tag: int, value: object) -> None:
        lines.append((parse_oid(oid), f"{oid}|{tag}|{value}"))

    add(f"{SYSTEM}.1.0", 4, f"generated switch with {count} interfaces")
    add(f"{SYSTEM}.2.0", 6, "1.3.6.1.4.1.99999.1")
    add(f"{SYSTEM}.3.0", 67, 123456)
    add(f"{SYSTEM}.5.0", 4, f"gen-{count}")
    add(IF_NUMBER, 2, count)
    if last_change is not None:
        add(IF_TABLE_LAST_CHANGE, 67, last_change)
    for i in range(1, count + 1):
        descr, name, if_type = row_kind(i)
        add(f"{IF_ENTRY}.1.{i}", 2, i)
        add(f"{IF_ENTRY}.2.{i}", 4, descr)
        add(f"{IF_ENTRY}.3.{i}", 2, if_type)
        add(f"{IF_ENTRY}.5.{i}", 66, 1_000_000_000)
        add(f"{IF_ENTRY}.7.{i}", 2, 2 if i % 10 == 0 else 1)
        add(f"{IF_ENTRY}.8.{i}", 2, 2 if i % 10 == 0 else 1)
        for column in _IF_COUNTERS_32:
            add(f"{IF_ENTRY}.{column}.{i}", 65, (i * 1000 + column) % 2**32)
        add(f"{IFX_ENTRY}.1.{i}", 4, name)
        for column in _IFX_COUNTERS_32:
            add(f"{IFX_ENTRY}.{column}.{i}", 65, i * 100 + column)
        for column in _IFX_COUNTERS_64:
            add(f"{IFX_ENTRY}.{column}.{i}", 70, i * 1_000_000 + column)
        add(f"{IFX_ENTRY}.15.{i}", 66, 1000)
        alias = (aliases or {}).get(i, f"uplink-{i}" if i <= 4 else "")
        add(f"{IFX_ENTRY}.18.{i}", 4, alias)
    return "".join(line + "\n" for _, line in sorted(lines))


def write_snmprec(
    directory: Path,
    count: int,
    name: str | None = None,
    *,
    last_change: int | None = None,
    aliases: dict[int, str] | None = None,
) -> Path:
    """Write the recording as ``directory/NAME.snmprec`` (community = NAME, default ``if<count>``)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name or f'if{count}'}.snmprec"
    path.write_text(snmprec(count, last_change, aliases))
    return path
