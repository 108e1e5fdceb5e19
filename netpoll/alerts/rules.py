"""Alert rules: the YAML file format, its strict validation, and the frozen ``Rule`` records.

A rules file is validated like an inventory: every problem is reported as ``file:line: message``
(unknown keys with a did-you-mean), all at once, in one :class:`netpoll.errors.ConfigError`.

Semantics of one rule (see docs/alerts.md):

- ``threshold``: the condition is ``value <comparison> breach``. It breaches after ``for`` consecutive
  samples (or seconds) meet it, and clears after ``clear_for`` consecutive samples (or seconds) no longer
  meet ``value <comparison> clear`` (hysteresis: ``clear`` defaults to ``breach``).
- ``event``: publishes one event each time the condition becomes true; never a clear.
  ``trigger: change`` only fires when an earlier sample of the same entity did not meet the condition
  (a port already down when netpoll starts is not a "link down").
- ``flapping``: the value compared is the number of changes of ``field`` within ``window``.
- ``baseline``: the value compared is the ratio of ``field`` to its own recent baseline, the median of the
  entity's previous ``baseline`` samples; a value under ``minimum`` never breaches (and clears).
- trap rules (``measurement: trap``): an event for each SNMP notification whose name matches ``trap`` (names
  or globs) and whose variable bindings match ``varbinds`` (name glob → value), from a device in ``scope``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import math
import operator
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from netpoll.configkit.problems import Problems, did_you_mean, hint
from netpoll.configkit.units import has_unit, parse_duration
from netpoll.configkit.validation import check_keys, expect
from netpoll.configkit.yamlsource import PathKey, YamlSource, load_yaml, parse_yaml
from netpoll.measurements import MODEL, Model
from netpoll.sample import FieldValue

RuleKind = Literal["threshold", "event", "flapping", "baseline"]
Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
Trigger = Literal["match", "change"]

KINDS: tuple[RuleKind, ...] = ("threshold", "event", "flapping", "baseline")
COMPARISONS: tuple[Comparison, ...] = (">", ">=", "<", "<=", "==", "!=")
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "warning", "info")
TRIGGERS: tuple[Trigger, ...] = ("match", "change")

DEFAULT_RULES_FILE = "default_rules.yaml"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_TOP_KEYS = ("rules", "include_defaults", "disable")
_RULE_KEYS = (
    "name", "description", "kind", "measurement", "field", "comparison", "breach", "clear", "for",
    "clear_for", "severity", "scope", "entity", "when", "trigger", "window", "advice", "baseline",
    "minimum", "trap", "varbinds",
)  # fmt: skip
# Baseline rules: samples the median is taken over by default, and the fewest allowed.
BASELINE_SAMPLES = 12
BASELINE_MIN_SAMPLES = 3
TRAP_MEASUREMENT = "trap"
# What a trap rule may say besides its match: the rest of a rule's keys watch a field, which a trap has not.
_TRAP_RULE_KEYS = ("name", "description", "kind", "measurement", "severity", "scope", "trap", "varbinds")
_SCOPE_KEYS = ("devices", "roles", "sites", "tags", "interfaces")

_C = TypeVar("_C", bound=str)


@dataclass(frozen=True, slots=True)
class Hold:
    """How long a condition must hold: a count of consecutive samples, or a duration in seconds."""

    samples: int = 1
    seconds: float | None = None

    def satisfied(self, count: int, first_ns: int, now_ns: int) -> bool:
        """True once ``count`` consecutive samples since ``first_ns`` are enough."""
        if self.seconds is not None:
            return (now_ns - first_ns) / 1e9 >= self.seconds
        return count >= self.samples

    def describe(self) -> str:
        """``3 samples`` or ``120s``."""
        if self.seconds is not None:
            return f"{self.seconds:g}s"
        return f"{self.samples} sample{'s' if self.samples != 1 else ''}"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which samples a rule looks at. Every list is a set of globs; an empty list matches everything."""

    devices: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    interfaces: tuple[str, ...] = ()

    def matches(self, tags: Mapping[str, str], entity: str, device: str | None = None) -> bool:
        """Whether a sample with these tags (and entity, e.g. ifName) is in scope.

        ``device`` is what the record is about when it is not its ``device`` tag (a ``netpoll`` record's
        ``instance``).
        """
        return (
            _any_glob(self.devices, tags.get("device", "") if device is None else device)
            and _any_glob(self.roles, tags.get("role", ""))
            and _any_glob(self.sites, tags.get("site", ""))
            and _any_glob(self.interfaces, entity)
            and all(fnmatch.fnmatchcase(tags.get(key, ""), pattern) for key, pattern in self.tags)
        )


def _any_glob(patterns: tuple[str, ...], value: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated alert rule (see the module docstring for the semantics)."""

    name: str
    measurement: str
    field: str
    comparison: Comparison
    breach: FieldValue
    clear: FieldValue
    kind: RuleKind = "threshold"
    hold: Hold = Hold()
    clear_hold: Hold = Hold()
    severity: str = "warning"
    scope: Scope = Scope()
    entity_tag: str | None = None
    when: tuple[tuple[str, FieldValue], ...] = ()
    trigger: Trigger = "match"
    window_s: float | None = None
    baseline_samples: int = BASELINE_SAMPLES
    minimum: float = 0.0
    description: str = ""
    advice: str = ""  # appended to a breach's message; {field} is that field of the sample that breached
    source: str = ""
    traps: tuple[str, ...] = ()  # a trap rule: notification names or globs
    varbinds: tuple[tuple[str, str], ...] = ()  # a trap rule: variable-binding name glob → value (as text)
    # ``compare`` bound to the comparison and each level, built once: it runs for every sample a rule watches.
    # (``dataclasses.field``: this class has a field called ``field``.)
    _breaching: Callable[[FieldValue], bool] = dataclasses.field(init=False, repr=False, compare=False)
    _clearing: Callable[[FieldValue], bool] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_breaching", comparator(self.comparison, self.breach))
        object.__setattr__(self, "_clearing", comparator(self.comparison, self.clear))

    def matches_trap(self, name: str, varbinds: Mapping[str, object]) -> bool:
        """Whether a notification called ``name`` with these variable bindings is one this trap rule wants."""
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in self.traps):
            return False
        return all(
            any(fnmatch.fnmatchcase(key, glob) and str(value) == expected for key, value in varbinds.items())
            for glob, expected in self.varbinds
        )

    @property
    def warmup(self) -> int:
        """Baseline rules: the samples needed before the first judgement (half the window, at least 3)."""
        return max(BASELINE_MIN_SAMPLES, (self.baseline_samples + 1) // 2)

    def entity_of(self, tags: Mapping[str, str]) -> str:
        """The entity (e.g. ifName) a sample is about; ``""`` for device-level rules."""
        if self.entity_tag is None:
            return ""
        entity = tags.get(self.entity_tag, "")
        if not entity and self.entity_tag == "ifName":
            # Some agents leave ifName empty: fall back to what still names the interface.
            entity = tags.get("ifDescr", "") or tags.get("ifIndex", "")
        return entity

    def applies(self, fields: Mapping[str, FieldValue]) -> bool:
        """Whether the ``when`` preconditions hold for this sample (absent field: not applicable)."""
        return all(key in fields and _equal(fields[key], value) for key, value in self.when)

    def breaching(self, value: FieldValue) -> bool:
        """``value <comparison> breach``."""
        return self._breaching(value)

    def clearing(self, value: FieldValue) -> bool:
        """True when the value no longer meets ``value <comparison> clear``."""
        return not self._clearing(value)


def _equal(left: FieldValue, right: FieldValue) -> bool:
    if isinstance(left, str) or isinstance(right, str):
        return str(left) == str(right)
    return float(left) == float(right)


def compare(value: FieldValue, comparison: Comparison, reference: FieldValue) -> bool:
    """Apply one comparison; bools compare as 0/1, strings only with ``==``/``!=``."""
    if comparison == "==":
        return _equal(value, reference)
    if comparison == "!=":
        return not _equal(value, reference)
    if isinstance(value, str) or isinstance(reference, str):
        return False
    left, right = float(value), float(reference)
    if comparison == ">":
        return left > right
    if comparison == ">=":
        return left >= right
    if comparison == "<":
        return left < right
    return left <= right


_OPERATORS: dict[Comparison, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def comparator(comparison: Comparison, reference: FieldValue) -> Callable[[FieldValue], bool]:
    """``compare`` with the comparison and reference bound.

    The same answers, at a fraction of the cost for an int or float value against a number (what nearly every
    sample brings).
    """
    if isinstance(reference, str):
        return lambda value: compare(value, comparison, reference)
    apply, level = _OPERATORS[comparison], float(reference)

    def test(value: FieldValue) -> bool:
        kind = type(value)
        if kind is float:
            return apply(value, level)  # type: ignore[arg-type]
        if kind is int:
            return apply(float(value), level)
        return compare(value, comparison, reference)

    return test


def usable_value(value: object) -> bool:
    """Whether a field value can be evaluated (NaN and other types count as a missing sample)."""
    kind = type(value)
    if kind is float:  # the usual case first: this runs for every field every rule watches
        return not math.isnan(value)  # type: ignore[arg-type]
    if kind is int or isinstance(value, bool | int | str):
        return True
    return isinstance(value, float) and not math.isnan(value)


# --------------------------------------------------------------------------------------------------
# Parsing: a rules file read by netpoll.configkit (YAML with lines, one Problems collector, did-you-mean)


@dataclass
class _RuleYaml:
    """One rule's mapping in the file, and where its problems go (each prefixed ``rule 'NAME': ``)."""

    source: YamlSource
    path: PathKey
    raw: dict[str, Any]
    name: str = "?"
    ok: bool = True

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def line(self, *at: str) -> int:
        return self.source.line((*self.path, *at))

    def report(self, message: str, *at: str) -> None:
        """A problem at the line of the key path ``at`` inside the rule (none: the rule's first line)."""
        self.ok = False
        self.source.report((*self.path, *at), f"rule '{self.name}': {message}")

    def need(self, key: str) -> Any:
        value = self.raw.get(key)
        if value is None:
            self.report(f"'{key}' is required")
        return value

    def choice(self, key: str, choices: tuple[_C, ...], default: _C) -> _C:
        """The rule's ``key``: one of ``choices``; ``default`` when absent (or wrong, after reporting it)."""
        value = self.raw.get(key, default)
        for choice in choices:
            if value == choice:
                return choice
        suggestion = did_you_mean(str(value), choices)
        self.report(f"{key} must be one of {', '.join(choices)}, not {value!r}{suggestion}", key)
        return default


def _rule_name(rule: _RuleYaml, seen: dict[str, int]) -> None:
    name = rule.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        rule.ok = False
        rule.source.report(
            (*rule.path, "name"),
            "rule 'name' is required: letters, digits, '_', '.', '-' (at most 64), e.g. 'cpu_high'",
        )
        rule.name = str(name) if name is not None else "?"
        return
    rule.name = name
    if name in seen:
        rule.ok = False
        rule.source.report(
            (*rule.path, "name"), f"duplicate rule name '{name}' (first defined on line {seen[name]})"
        )
    else:
        seen[name] = rule.line("name")


def _name_of(rule: _RuleYaml, key: str) -> str | None:
    """A required name (``measurement``, ``field``)."""
    value = rule.need(key)
    if value is not None and not isinstance(value, str):
        rule.report(f"{key} must be a name", key)
        return None
    return value


def _check_field(rule: _RuleYaml, model: Model, measurement: str, field_name: str | None) -> None:
    """The rule's measurement and field must be declared (``netpoll.measurements`` + loaded profiles)."""
    declared = model.measurements.get(measurement)
    if declared is None or not declared.rules:
        watched = [m for m in model if model[m].rules]
        listed = did_you_mean(measurement, watched) or f"; rules watch {', '.join(watched)}"
        rule.report(f"unknown measurement '{measurement}'{listed}", "measurement")
    elif field_name is not None and field_name not in declared.field_names:
        known = sorted(declared.field_names)
        listed = hint(field_name, known, "its fields")
        rule.report(f"measurement '{measurement}' has no field '{field_name}'{listed}", "field")


def _comparison(rule: _RuleYaml, kind: RuleKind) -> Comparison:
    raw = rule.get("comparison", {"flapping": ">=", "baseline": ">"}.get(kind))
    if raw is None:
        rule.report(f"'comparison' is required: one of {' '.join(COMPARISONS)}")
        return "=="
    for comparison in COMPARISONS:
        if raw == comparison:
            return comparison
    rule.report(
        f"comparison must be one of {' '.join(COMPARISONS)} (quote it in YAML), not {raw!r}", "comparison"
    )
    return "=="


def _scalar(raw: object) -> bool:
    return isinstance(raw, bool | int | float | str) and not (isinstance(raw, float) and math.isnan(raw))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _levels(rule: _RuleYaml, comparison: Comparison) -> tuple[FieldValue | None, FieldValue | None]:
    """``breach`` and ``clear`` (``clear`` defaults to ``breach``), checked against the comparison."""
    breach = rule.need("breach")
    if breach is not None and not _scalar(breach):
        rule.report("breach must be a number, true/false or a string", "breach")
        breach = None
    clear = rule.get("clear", breach)
    if clear is not None and not _scalar(clear):
        rule.report("clear must be a number, true/false or a string", "clear")
        clear = breach
    if comparison in ("==", "!="):
        return breach, clear
    for key, value in (("breach", breach), ("clear", clear)):
        if isinstance(value, str | bool):
            rule.report(f"{key} must be a number for comparison '{comparison}'", key)
    if _number(breach) and _number(clear):
        # Hysteresis only makes sense on the safe side of the breach value.
        assert isinstance(breach, int | float)
        assert isinstance(clear, int | float)
        if comparison in (">", ">=") and clear > breach:
            rule.report(f"clear ({clear}) must not be above breach ({breach}) for '{comparison}'", "clear")
        if comparison in ("<", "<=") and clear < breach:
            rule.report(f"clear ({clear}) must not be below breach ({breach}) for '{comparison}'", "clear")
    return breach, clear


def _hold(rule: _RuleYaml, key: str) -> Hold:
    # An integer is a count of consecutive samples; a string with a unit is a duration.
    raw = rule.get(key)
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        return Hold(samples=raw)
    if has_unit(raw):
        with contextlib.suppress(ValueError):
            return Hold(seconds=parse_duration(raw))
    rule.report(
        f"'{key}' must be a count of consecutive samples (1, 3, ...) or a duration with a unit ('90s', '5m'),"
        f" not {raw!r}",
        key,
    )
    return Hold()


def _holds(rule: _RuleYaml, kind: RuleKind) -> tuple[Hold, Hold]:
    """``for`` and ``clear_for`` (``clear_for`` defaults to ``for``)."""
    if kind == "event":
        for key in ("clear", "for", "clear_for"):
            if key in rule:
                rule.report(f"'{key}' does not apply to an event rule", key)
    hold = _hold(rule, "for") if "for" in rule else Hold()
    return hold, _hold(rule, "clear_for") if "clear_for" in rule else hold


def _entity(rule: _RuleYaml, model: Model, measurement: str | None) -> str | None:
    if "entity" not in rule:
        return model[measurement].entity_tag if measurement is not None and measurement in model else None
    raw = rule.get("entity")
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return raw
    rule.report("entity must be a tag name such as ifName", "entity")
    return None


def _scope(rule: _RuleYaml, entity_tag: str | None) -> Scope:
    raw = rule.get("scope")
    if raw is None:
        return Scope()
    if not isinstance(raw, dict):
        rule.report(f"'scope' must be a mapping with keys {', '.join(_SCOPE_KEYS)}", "scope")
        return Scope()
    if not check_keys(rule.source, (*rule.path, "scope"), raw, _SCOPE_KEYS, f"rule '{rule.name}': scope: "):
        rule.ok = False
    globs: dict[str, tuple[str, ...]] = {}
    for key in ("devices", "roles", "sites", "interfaces"):
        value = raw.get(key)
        if isinstance(value, str):
            globs[key] = (value,)
        elif isinstance(value, list) and all(isinstance(item, str | int) for item in value):
            globs[key] = tuple(str(item) for item in value)
        elif key in raw:
            rule.report(
                f"scope.{key} must be a name or a list of names (globs like 'core-*' allowed)", "scope", key
            )
    tags = raw.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str | int | float) for v in tags.values()):
        rule.report("scope.tags must map tag names to values", "scope", "tags")
        tags = {}
    if globs.get("interfaces") and entity_tag is None:
        rule.report(
            "scope.interfaces needs a per-interface rule (measurement interface or 'entity')", "scope"
        )
    return Scope(**globs, tags=tuple((str(k), str(v)) for k, v in tags.items()))


def _when(rule: _RuleYaml, model: Model, measurement: str | None) -> tuple[tuple[str, FieldValue], ...]:
    raw = rule.get("when", {})
    if isinstance(raw, dict) and all(isinstance(k, str) and _scalar(v) for k, v in raw.items()):
        declared = model.measurements.get(measurement or "")
        for key in raw:
            # A precondition on a field the measurement never has would silently keep the rule from firing.
            if declared is not None and key not in declared.field_names:
                hint = did_you_mean(key, sorted(declared.field_names))
                rule.report(f"when: measurement '{declared.name}' has no field '{key}'{hint}", "when", key)
        return tuple(raw.items())
    rule.report("when must map field names to values, e.g. {admin_status: 1}", "when")
    return ()


def _trigger(rule: _RuleYaml, kind: RuleKind) -> Trigger:
    trigger = rule.choice("trigger", TRIGGERS, "match")
    if "trigger" in rule and rule.get("trigger") in TRIGGERS and kind != "event":
        rule.report("'trigger' only applies to an event rule", "trigger")
    return trigger


def _window(rule: _RuleYaml, kind: RuleKind) -> float | None:
    if kind != "flapping":
        if "window" in rule:
            rule.report("'window' only applies to a flapping rule", "window")
        return None
    with contextlib.suppress(ValueError):
        window = parse_duration(rule.get("window"))
        if window > 0:
            return window
    rule.report("a flapping rule needs 'window', a duration such as '10m'", "window")
    return None


def _baseline(rule: _RuleYaml, kind: RuleKind, comparison: Comparison) -> tuple[int, float]:
    """A baseline rule's ``baseline`` (samples the median is over) and ``minimum`` (the least value)."""
    if kind != "baseline":
        for key in ("baseline", "minimum"):
            if key in rule:
                rule.report(f"'{key}' only applies to a baseline rule", key)
        return BASELINE_SAMPLES, 0.0
    if comparison not in (">", ">="):
        rule.report("a baseline rule compares the ratio to its baseline with '>' or '>='", "comparison")
    samples = rule.get("baseline", BASELINE_SAMPLES)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < BASELINE_MIN_SAMPLES:
        rule.report(
            f"'baseline' is the count of previous samples the median is over, at least"
            f" {BASELINE_MIN_SAMPLES}, e.g. 12; not {samples!r}",
            "baseline",
        )
        samples = BASELINE_SAMPLES
    minimum = rule.get("minimum", 0)
    if not _number(minimum) or minimum < 0:
        rule.report(
            f"'minimum' is the least value that may breach (a number >= 0), not {minimum!r}", "minimum"
        )
        minimum = 0
    return samples, float(minimum)


def _description(rule: _RuleYaml) -> str:
    description = rule.get("description", "")
    if isinstance(description, str):
        return description
    rule.report("description must be text", "description")
    return ""


def _advice(rule: _RuleYaml, model: Model, measurement: str | None) -> str:
    """The ``advice`` text; each ``{name}`` in it must be a field of the rule's measurement."""
    advice = rule.get("advice", "")
    if not isinstance(advice, str):
        rule.report("advice must be text", "advice")
        return ""
    declared = model.measurements.get(measurement or "")
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(advice) if name is not None]
    except ValueError as exc:
        rule.report(f"advice: {exc} (write a literal brace as {{{{ or }}}})", "advice")
        return ""
    for name in names:
        if declared is not None and name not in declared.field_names:
            rule.report(f"advice: measurement '{measurement}' has no field '{name}'", "advice")
    return advice


def _names_or_globs(rule: _RuleYaml, key: str) -> tuple[str, ...]:
    value = rule.get(key)
    if value is None:
        rule.report(f"'{key}' is required: the notification names (or globs) to match, e.g. linkDown")
        return ()
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        return tuple(value)
    rule.report(f"'{key}' must be a notification name or a list of them (globs allowed), e.g. linkDown", key)
    return ()


def _parse_trap_rule(rule: _RuleYaml) -> Rule | None:
    """A rule on SNMP notifications: an event per matching trap (see the module docstring)."""
    if not check_keys(rule.source, rule.path, rule.raw, _TRAP_RULE_KEYS, f"rule '{rule.name}' (on traps): "):
        rule.ok = False
    if rule.get("kind", "event") != "event":
        rule.report("a rule on traps is an event rule: kind: event, or leave kind out", "kind")
    raw = rule.get("varbinds", {})
    varbinds: tuple[tuple[str, str], ...] = ()
    if isinstance(raw, dict) and all(isinstance(k, str) and _scalar(v) for k, v in raw.items()):
        # Compared as text: a value decoded from the trap is a number or text, the file's may be either.
        varbinds = tuple((k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in raw.items())
    else:
        rule.report("varbinds must map names (globs) to values, e.g. {ifIndex.*: 3}", "varbinds")
    parsed = Rule(
        name=rule.name,
        kind="event",
        measurement=TRAP_MEASUREMENT,
        field="trap",
        comparison="==",
        breach="",
        clear="",
        severity=rule.choice("severity", SEVERITIES, "warning"),
        scope=_scope(rule, "ifName"),
        entity_tag="ifName",
        description=_description(rule),
        source=f"{rule.source.file}:{rule.line()}",
        traps=_names_or_globs(rule, "trap"),
        varbinds=varbinds,
    )
    return parsed if rule.ok else None


def _parse_rule(source: YamlSource, path: PathKey, seen: dict[str, int], model: Model) -> Rule | None:
    raw = source.data
    for key in path:
        raw = raw[key]
    if not isinstance(raw, dict):
        source.report(path, "each rule must be a mapping (name, measurement, field, comparison, breach, ...)")
        return None
    rule = _RuleYaml(source, path, raw)
    _rule_name(rule, seen)
    if raw.get("measurement") == TRAP_MEASUREMENT:
        return _parse_trap_rule(rule)
    for key in ("trap", "varbinds"):
        if key in raw:
            rule.report(f"'{key}' only applies to a rule on traps (measurement: trap)", key)
    if not check_keys(source, path, raw, _RULE_KEYS, f"rule '{rule.name}': "):
        rule.ok = False
    kind = rule.choice("kind", KINDS, "threshold")
    measurement = _name_of(rule, "measurement")
    field_name = _name_of(rule, "field")
    if measurement is not None:
        _check_field(rule, model, measurement, field_name)
    comparison = _comparison(rule, kind)
    breach, clear = _levels(rule, comparison)
    hold, clear_hold = _holds(rule, kind)
    entity_tag = _entity(rule, model, measurement)
    baseline_samples, minimum = _baseline(rule, kind, comparison)
    parsed = Rule(
        name=rule.name,
        kind=kind,
        measurement=measurement or "",
        field=field_name or "",
        comparison=comparison,
        breach=breach if breach is not None else 0,
        clear=clear if clear is not None else 0,
        hold=hold,
        clear_hold=clear_hold,
        severity=rule.choice("severity", SEVERITIES, "warning"),
        scope=_scope(rule, entity_tag),
        entity_tag=entity_tag,
        when=_when(rule, model, measurement),
        trigger=_trigger(rule, kind),
        window_s=_window(rule, kind),
        baseline_samples=baseline_samples,
        minimum=minimum,
        description=_description(rule),
        advice=_advice(rule, model, measurement),
        source=f"{source.file}:{rule.line()}",
    )
    return parsed if rule.ok else None


@dataclass
class _Parsed:
    source: YamlSource
    rules: list[Rule] = field(default_factory=list)
    include_defaults: bool = False
    disable: list[tuple[str, int]] = field(default_factory=list)


def _parse_document(source: YamlSource | None, problems: Problems, model: Model) -> _Parsed:
    """The rules of a parsed file; raises ConfigError with every problem found."""
    if source is None:
        problems.raise_if_any()
    assert source is not None
    data = {} if source.data is None else source.data
    if not expect(source, (), data, dict, "a mapping with a 'rules' list"):
        problems.raise_if_any()
    source.data = data
    check_keys(source, (), data, _TOP_KEYS)
    parsed = _Parsed(source)
    include = data.get("include_defaults", False)
    expect(source, ("include_defaults",), include, bool, "true or false")
    parsed.include_defaults = include is True
    disable = data.get("disable") or []
    if expect(source, ("disable",), disable, list, "a list of rule names"):
        for index, name in enumerate(disable):
            if expect(source, ("disable", index), name, str, "a rule name"):
                parsed.disable.append((name, source.line(("disable", index))))
    rules = data.get("rules") or []
    if not expect(source, ("rules",), rules, list, "a list of rules"):
        rules = []
    seen: dict[str, int] = {}
    for index in range(len(rules)):
        rule = _parse_rule(source, ("rules", index), seen, model)
        if rule is not None:
            parsed.rules.append(rule)
    problems.raise_if_any()
    return parsed


def parse_rules(text: str, file: str = "<rules>", model: Model = MODEL) -> tuple[Rule, ...]:
    """Validate rules YAML text (without ``include_defaults`` processing); raises ConfigError.

    ``model`` declares the measurements and fields a rule may watch (add the loaded profiles' fields).
    """
    problems = Problems()
    return tuple(_parse_document(parse_yaml(text, file, problems), problems, model).rules)


def default_rules() -> tuple[Rule, ...]:
    """The shipped default rules (``netpoll/alerts/default_rules.yaml``)."""
    resource = resources.files("netpoll.alerts").joinpath(DEFAULT_RULES_FILE)
    return parse_rules(resource.read_text(encoding="utf-8"), f"<netpoll>/alerts/{DEFAULT_RULES_FILE}")


def load_rules(path: str | Path | None = None, model: Model = MODEL) -> tuple[Rule, ...]:
    """Load and validate a rules file; ``None`` gives the shipped defaults.

    ``model`` declares the measurements and fields a rule may watch: ``netpoll.measurements.MODEL``, plus
    the fields of the loaded device profiles where they add any (``ProfileSet.model()``).

    With ``include_defaults: true`` the file's rules come on top of the defaults (same name replaces the
    default) and ``disable`` drops defaults by name.

    Raises:
        ConfigError: one ``file:line: message`` per problem.
    """
    if path is None:
        return default_rules()
    problems = Problems()
    parsed = _parse_document(load_yaml(Path(path), problems), problems, model)
    source = parsed.source
    if not parsed.include_defaults:
        for _name, line in parsed.disable[:1]:
            problems.add(source.file, line, "'disable' needs include_defaults: true")
        problems.raise_if_any()
        return tuple(parsed.rules)
    defaults = {rule.name: rule for rule in default_rules()}
    for name, line in parsed.disable:
        if defaults.pop(name, None) is None:
            problems.add(
                source.file, line, f"disable: no default rule '{name}'{did_you_mean(name, defaults)}"
            )
    problems.raise_if_any()
    for rule in parsed.rules:
        defaults[rule.name] = rule
    return tuple(defaults.values())
