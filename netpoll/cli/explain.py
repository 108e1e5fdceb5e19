"""``netpoll poll --explain``: the interfaces each device's selection keeps, and the rule that drops the rest.

A table per device (ifIndex, ifName, ifType, admin status, the decision) or, with ``--format json``, the same
as data. Device strings are shown through ``netpoll.text`` like every other cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape

from netpoll.cli.tables import columns, print_table, terminal_width
from netpoll.inputs.snmp.ifselect import ADMIN_STATUS, Decision
from netpoll.inventory.iftypes import IF_TYPE_NAMES, if_type_label
from netpoll.text import for_terminal

_COLUMNS = columns(
    """
    ifName
    ifIndex       | 3 >
    ifType        | 2
    admin         | 2
    ifAlias       | 4
    selected
    dropped by
    """
)


def _cell(text: str) -> str:
    return escape(for_terminal(text))


def explain_table(device: str, decisions: Sequence[Decision]) -> tuple[str, Any, list[list[str]]]:
    """``(title, columns, rows)`` of one device's interfaces and what the selection made of each."""
    kept = sum(1 for d in decisions if d.dropped_by is None)
    title = _cell(f"{device}: interface selection, {kept} of {len(decisions)} selected")
    rows = [
        [
            _cell(d.row.name),
            str(d.row.index),
            if_type_label(d.if_type) if d.if_type is not None else "-",
            ADMIN_STATUS.get(d.admin_status, str(d.admin_status)) if d.admin_status is not None else "-",
            _cell(d.row.tags.get("ifAlias", "")),
            "[green]yes[/green]" if d.dropped_by is None else "[red]no[/red]",
            _cell(d.dropped_by or ""),
        ]
        for d in decisions
    ]
    return title, _COLUMNS, rows


def print_explanation(decisions: Mapping[str, Sequence[Decision]]) -> None:
    """The tables of every device (a device never polled successfully has none: its poll error says why)."""
    width = terminal_width()
    for device, rows in decisions.items():
        if rows:
            print_table(*explain_table(device, rows), width)


def explanation_json(decisions: Mapping[str, Sequence[Decision]]) -> list[dict[str, Any]]:
    """One object per interface, with what the selection made of it.

    Keys: device, ifIndex, ifName, ifDescr, ifAlias, ifType and ifType_name (null when unknown),
    admin_status, selected, dropped_by (null when selected).
    """
    return [
        {
            "device": device,
            "ifIndex": d.row.index,
            "ifName": d.row.name,
            "ifDescr": d.row.tags.get("ifDescr", ""),
            "ifAlias": d.row.tags.get("ifAlias", ""),
            "ifType": d.if_type,
            "ifType_name": IF_TYPE_NAMES.get(d.if_type) if d.if_type is not None else None,
            "admin_status": d.admin_status,
            "selected": d.dropped_by is None,
            "dropped_by": d.dropped_by,
        }
        for device, rows in decisions.items()
        for d in rows
    ]
