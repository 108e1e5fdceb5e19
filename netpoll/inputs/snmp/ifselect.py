"""Interface selection at poll time: which rows of a device's interface table are polled and written.

The inventory (``snmp.interfaces``) and the profile (``interfaces.select``) give an ``InterfaceSelection``,
checked at load; here it is compiled once per distinct selection and applied to the rows each label read
finds. A row is selected when it matches an ``include`` rule (or there is none), matches no ``exclude`` rule,
and is not admin-down under ``admin_down: drop``. Every dropped row keeps the rule that dropped it, for
``netpoll poll --explain``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netpoll.configkit.patterns import compile_pattern, search
from netpoll.inputs.snmp.metrics import InterfaceRow
from netpoll.inventory.iftypes import if_type_label
from netpoll.inventory.models import InterfaceRules, InterfaceSelection

ADMIN_DOWN = 2  # IF-MIB ifAdminStatus down(2)
#: IF-MIB ifAdminStatus values by name.
ADMIN_STATUS = {1: "up", ADMIN_DOWN: "down", 3: "testing"}
#: ``Decision.dropped_by`` of a row dropped only for being admin-down.
ADMIN_DROPPED = "admin down (admin_down: drop)"
_TAG_OF = {"ifName": "ifName", "ifDescr": "ifDescr", "ifAlias": "ifAlias"}


@dataclass(frozen=True, slots=True)
class _Rule:
    key: str  # ifName | ifDescr | ifAlias | ifType
    pattern: re.Pattern[str] | None
    if_type: int | None

    def matches(self, tags: Mapping[str, str], if_type: int | None) -> bool:
        if self.pattern is not None:
            return search(self.pattern, tags.get(_TAG_OF[self.key], ""))
        return if_type is not None and if_type == self.if_type

    def __str__(self) -> str:
        if self.pattern is not None:
            return f"{self.key} '{self.pattern.pattern}'"
        assert self.if_type is not None
        return f"ifType {if_type_label(self.if_type)}"


@dataclass(frozen=True, slots=True)
class Decision:
    """One interface and what the selection made of it: ``dropped_by`` names the rule, None when selected."""

    row: InterfaceRow
    if_type: int | None
    admin_status: int | None
    dropped_by: str | None


def _rules(rules: InterfaceRules | None) -> tuple[_Rule, ...]:
    if rules is None:
        return ()
    out = [_Rule(key, compile_pattern(text), None) for key in _TAG_OF for text in getattr(rules, key)]
    out.extend(_Rule("ifType", None, number) for number in rules.ifType)
    return tuple(out)


class Selector:
    """A compiled ``InterfaceSelection``; ``active`` is False when it keeps every interface."""

    def __init__(self, selection: InterfaceSelection) -> None:
        self.selection = selection
        self.include = _rules(selection.include)
        self.exclude = _rules(selection.exclude)
        self.admin_drop = selection.admin_down == "drop"
        self.active = bool(self.include or self.exclude or self.admin_drop)
        self.needs_type = any(r.key == "ifType" for r in (*self.include, *self.exclude))
        # The columns the decision reads, beside ifDescr and ifName (which find the rows).
        self.reads = frozenset(
            {r.key for r in (*self.include, *self.exclude)}
            | ({"ifAdminStatus"} if self.admin_drop else set())
        )

    def dropped_by(
        self, tags: Mapping[str, str], if_type: int | None, admin_status: int | None
    ) -> str | None:
        """The rule that drops this interface, or None when it is selected."""
        for rule in self.exclude:
            if rule.matches(tags, if_type):
                return f"exclude {rule}"
        if self.include and not any(rule.matches(tags, if_type) for rule in self.include):
            return "matches no include rule"
        if self.admin_drop and admin_status == ADMIN_DOWN:
            return ADMIN_DROPPED
        return None

    def decide(
        self,
        rows: Sequence[InterfaceRow],
        if_types: Mapping[tuple[int, ...], object],
        admin: Mapping[tuple[int, ...], object],
    ) -> list[Decision]:
        """Each row and its decision; ``if_types``, ``admin``: the ifType, ifAdminStatus columns by index."""
        out = []
        for row in rows:
            if_type = if_types.get((row.index,))
            status = admin.get((row.index,))
            t = if_type if isinstance(if_type, int) else None
            a = status if isinstance(status, int) else None
            out.append(Decision(row, t, a, self.dropped_by(row.tags, t, a) if self.active else None))
        return out


@functools.lru_cache(maxsize=1024)
def selector(selection: InterfaceSelection) -> Selector:
    """The compiled selection (one per distinct selection: devices and polls share it)."""
    return Selector(selection)
