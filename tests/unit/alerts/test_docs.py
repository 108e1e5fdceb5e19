"""docs/alerts.md's table of the default rules states what netpoll/alerts/default_rules.yaml holds."""

from __future__ import annotations

import re

from netpoll.alerts import rules as rules_module
from netpoll.alerts.rules import Rule, default_rules
from netpoll.sample import FieldValue
from tests.doctext import code_spans, marked_table, read

ROWS = marked_table(read("docs/alerts.md"), "rules", "defaults")
RULES = {rule.name: rule for rule in default_rules()}
# How the table writes a comparison.
SYMBOLS = {">=": "≥", "<=": "≤"}


def text(value: FieldValue) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def documented() -> list[tuple[dict[str, str], Rule]]:
    return [(row, RULES[name]) for row in ROWS for name in code_spans(row["rule"]) if name in RULES]


def test_every_default_rule_is_in_the_table_once() -> None:
    names = [name for row in ROWS for name in code_spans(row["rule"])]
    assert sorted(names) == sorted(RULES)


def test_kind_severity_and_condition() -> None:
    for row, rule in documented():
        assert row["kind"].split(",")[0] == rule.kind, rule.name
        if rule.traps:  # a rule on traps: the condition names every notification it matches
            assert "trap" in row["kind"], rule.name
            assert code_spans(row["condition"]) == list(rule.traps), rule.name
            assert row["severity"] == rule.severity, rule.name
            continue
        assert ("on change" in row["kind"]) == (rule.trigger == "change"), rule.name
        assert row["severity"] == rule.severity, rule.name
        stated = f"{SYMBOLS.get(rule.comparison, rule.comparison)} {text(rule.breach)}"
        assert stated in row["condition"], f"{rule.name}: {stated!r} not in {row['condition']!r}"


def test_holds_and_clear_levels() -> None:
    for row, rule in documented():
        if rule.kind not in ("threshold", "baseline"):
            assert row["for"] == "—", rule.name
            continue
        numbers = [int(n) for n in re.findall(r"\d+", row["for"])]
        assert numbers[0] == rule.hold.samples, rule.name
        clear_hold = numbers[1] if "clear:" in row["for"] else numbers[0]
        assert clear_hold == rule.clear_hold.samples, rule.name
        if rule.clear != rule.breach:
            side = "≤" if rule.comparison in (">", ">=") else "≥"  # where the value must be to clear
            stated = f"{side} {text(rule.clear)}"
            # A baseline rule's levels are ratios: "≤ 2 x the median".
            assert row["clears"] == stated or row["clears"].startswith(f"{stated} x "), rule.name


def test_rule_keys_table_lists_what_the_parser_accepts() -> None:
    rows = marked_table(read("docs/alerts.md"), "rules", "keys")
    keys = {key for row in rows for key in code_spans(row["key"])}
    assert keys == set(rules_module._RULE_KEYS)
