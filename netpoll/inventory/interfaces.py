"""``snmp.interfaces`` as written (``RawInterfaces``) → the checked ``InterfaceSelection``.

Shared by the inventory loader and the profile loader (a profile's ``interfaces.select`` default), so both
report a bad pattern or ifType name the same way: at the line of the item, with the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netpoll.configkit.patterns import compile_pattern
from netpoll.configkit.yamlsource import PathKey
from netpoll.inventory.iftypes import if_type_number
from netpoll.inventory.models import InterfaceRules, InterfaceSelection
from netpoll.inventory.schema import RawInterfaceRules, RawInterfaces

# Patterns or ifTypes one list may hold: each is tried against every interface at each label read.
MAX_RULES = 64
PATTERN_KEYS = ("ifName", "ifDescr", "ifAlias")

Report = Callable[[PathKey, str], None]


def selection(raw: RawInterfaces, report: Report) -> InterfaceSelection | None:
    """The selection ``raw`` describes; None (each problem reported at its path under ``raw``) when broken."""
    sides: dict[str, InterfaceRules | None] = {}
    ok = True
    for side in ("include", "exclude"):
        rules: RawInterfaceRules | None = getattr(raw, side)
        sides[side] = None if rules is None else _rules(rules, (side,), report)
        ok = ok and (rules is None or sides[side] is not None)
    if not ok:
        return None
    return InterfaceSelection(include=sides["include"], exclude=sides["exclude"], admin_down=raw.admin_down)


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _rules(raw: RawInterfaceRules, at: PathKey, report: Report) -> InterfaceRules | None:
    ok = True
    values: dict[str, tuple[Any, ...]] = {}
    for key in (*PATTERN_KEYS, "ifType"):
        value = getattr(raw, key)
        if value is None:
            continue
        items = _items(value)
        where: PathKey = (*at, key)
        if len(items) > MAX_RULES:
            report(where, f"{key}: {len(items)} entries, at most {MAX_RULES}: merge patterns with '|'")
            ok = False
            continue
        out: list[Any] = []
        for index, item in enumerate(items):
            item_at: PathKey = (*where, index) if isinstance(value, list) else where
            try:
                out.append(if_type_number(item) if key == "ifType" else _pattern(item))
            except ValueError as exc:
                report(item_at, f"{'.'.join(map(str, where))}: {exc}")
                ok = False
        values[key] = tuple(out)
    return InterfaceRules(**values) if ok else None


def _pattern(text: str) -> str:
    compile_pattern(text)
    return text
