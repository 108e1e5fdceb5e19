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
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from netpoll.errors import ConfigError
from netpoll.measurements import MODEL, Model
from netpoll.sample import FieldValue

RuleKind = Literal["threshold", "event", "flapping"]
Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
Trigger = Literal["match", "change"]

KINDS: tuple[RuleKind, ...] = ("threshold", "event", "flapping")
COMPARISONS: tuple[Comparison, ...] = (">", ">=", "<", "<=", "==", "!=")
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "warning", "info")
TRIGGERS: tuple[Trigger, ...] = ("match", "change")

DEFAULT_RULES_FILE = "default_rules.yaml"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

_TOP_KEYS = ("rules", "include_defaults", "disable")
_RULE_KEYS = (
    "name", "description", "kind", "measurement", "field", "comparison", "breach", "clear", "for",
    "clear_for", "severity", "scope", "entity", "when", "trigger", "window",
)  # fmt: skip
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
    description: str = ""
    source: str = ""

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
        return compare(value, self.comparison, self.breach)

    def clearing(self, value: FieldValue) -> bool:
        """True when the value no longer meets ``value <comparison> clear``."""
        return not compare(value, self.comparison, self.clear)


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


def usable_value(value: object) -> bool:
    """Whether a field value can be evaluated (NaN and other types count as a missing sample)."""
    if isinstance(value, bool | int | str):
        return True
    return isinstance(value, float) and not math.isnan(value)


# --------------------------------------------------------------------------------------------------
# YAML with line numbers


class _LineDict(dict[Any, Any]):
    line: int = 0
    key_lines: dict[Any, int]
    duplicates: list[tuple[Any, int]]


class _LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping, key and list item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.duplicates = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result.key_lines:
            # YAML silently keeps the last of two equal keys; a rules file says it once.
            result.duplicates.append((key, key_node.start_mark.line + 1))
        else:
            result.key_lines[key] = key_node.start_mark.line + 1
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Problems:
    """Collects ``file:line: message`` strings."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.items.append(f"{self.file}:{line}: {message}")


def _line_of(mapping: Any, key: str) -> int:
    if isinstance(mapping, _LineDict):
        return mapping.key_lines.get(key, mapping.line)
    return 1


def _check_keys(mapping: _LineDict, allowed: tuple[str, ...], where: str, problems: _Problems) -> None:
    for key, line in getattr(mapping, "duplicates", ()):
        problems.add(line, f"'{key}' given twice in {where} (first on line {mapping.key_lines[key]})")
    for key in mapping:
        if key not in allowed:
            problems.add(
                _line_of(mapping, key),
                f"unknown key '{key}' in {where}{_did_you_mean(str(key), allowed)}; "
                f"allowed: {', '.join(allowed)}",
            )


def parse_duration(value: object) -> float | None:
    """``90``, ``"90s"``, ``"5m"``, ``"1h"`` → seconds; None if it is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    return None


def _parse_hold(raw: object, line: int, key: str, name: str, problems: _Problems) -> Hold:
    # An integer is a count of consecutive samples; a string with a unit is a duration.
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw >= 1:
            return Hold(samples=raw)
    elif isinstance(raw, str):
        seconds = parse_duration(raw)
        if seconds is not None and re.search(r"[a-z]$", raw.strip()):
            return Hold(seconds=seconds)
    problems.add(
        line,
        f"rule '{name}': '{key}' must be a count of consecutive samples (1, 3, ...) "
        f"or a duration with a unit ('90s', '5m'), not {raw!r}",
    )
    return Hold()


def _parse_globs(raw: object, line: int, where: str, problems: _Problems) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(item, str | int) for item in raw):
        return tuple(str(item) for item in raw)
    problems.add(line, f"{where} must be a name or a list of names (globs like 'core-*' allowed)")
    return ()


def _parse_scope(raw: object, line: int, name: str, problems: _Problems) -> Scope:
    if raw is None:
        return Scope()
    if not isinstance(raw, _LineDict):
        problems.add(line, f"rule '{name}': 'scope' must be a mapping with keys {', '.join(_SCOPE_KEYS)}")
        return Scope()
    _check_keys(raw, _SCOPE_KEYS, f"scope of rule '{name}'", problems)
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("devices", "roles", "sites", "interfaces"):
        if key in raw:
            lists[key] = _parse_globs(raw[key], _line_of(raw, key), f"rule '{name}': scope.{key}", problems)
    tags: tuple[tuple[str, str], ...] = ()
    if "tags" in raw:
        raw_tags = raw["tags"]
        if isinstance(raw_tags, dict) and all(isinstance(v, str | int | float) for v in raw_tags.values()):
            tags = tuple((str(k), str(v)) for k, v in raw_tags.items())
        else:
            problems.add(_line_of(raw, "tags"), f"rule '{name}': scope.tags must map tag names to values")
    return Scope(
        devices=lists.get("devices", ()),
        roles=lists.get("roles", ()),
        sites=lists.get("sites", ()),
        interfaces=lists.get("interfaces", ()),
        tags=tags,
    )


def _choice(
    raw: _LineDict, key: str, choices: tuple[_C, ...], default: _C, name: str, problems: _Problems
) -> _C:
    """The rule's ``key``, one of ``choices`` (``default`` when absent, or after reporting a wrong one)."""
    value = raw.get(key, default)
    for choice in choices:
        if value == choice:
            return choice
    problems.add(
        _line_of(raw, key),
        f"rule '{name}': {key} must be one of {', '.join(choices)}, not {value!r}"
        f"{_did_you_mean(str(value), choices)}",
    )
    return default


def _scalar(raw: object) -> bool:
    return isinstance(raw, bool | int | float | str) and not (isinstance(raw, float) and math.isnan(raw))


def _check_field(
    model: Model, raw: _LineDict, name: str, measurement: str, field_name: str | None, problems: _Problems
) -> None:
    """The rule's measurement and field must be declared (``netpoll.measurements`` + loaded profiles)."""
    declared = model.measurements.get(measurement)
    if declared is None or not declared.rules:
        watched = [m for m in model if model[m].rules]
        hint = _did_you_mean(measurement, watched) or f"; rules watch {', '.join(watched)}"
        problems.add(
            _line_of(raw, "measurement"), f"rule '{name}': unknown measurement '{measurement}'{hint}"
        )
    elif field_name is not None and field_name not in declared.field_names:
        known = sorted(declared.field_names)
        hint = _did_you_mean(field_name, known) or f"; its fields: {', '.join(known)}"
        problems.add(
            _line_of(raw, "field"),
            f"rule '{name}': measurement '{measurement}' has no field '{field_name}'{hint}",
        )


def _parse_rule(
    raw: object, line: int, problems: _Problems, seen: dict[str, int], model: Model = MODEL
) -> Rule | None:
    if not isinstance(raw, _LineDict):
        problems.add(line, "each rule must be a mapping (name, measurement, field, comparison, breach, ...)")
        return None
    before = len(problems.items)
    _check_keys(raw, _RULE_KEYS, "a rule", problems)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        problems.add(
            _line_of(raw, "name"),
            "rule 'name' is required: letters, digits, '_', '.', '-' (at most 64), e.g. 'cpu_high'",
        )
        name = str(name) if name is not None else "?"
    elif name in seen:
        problems.add(
            _line_of(raw, "name"), f"duplicate rule name '{name}' (first defined on line {seen[name]})"
        )
    else:
        seen[name] = _line_of(raw, "name")

    def need(key: str) -> Any:
        if key not in raw or raw[key] is None:
            problems.add(raw.line, f"rule '{name}': '{key}' is required")
            return None
        return raw[key]

    kind = _choice(raw, "kind", KINDS, "threshold", name, problems)

    measurement = need("measurement")
    if measurement is not None and not isinstance(measurement, str):
        problems.add(_line_of(raw, "measurement"), f"rule '{name}': measurement must be a name")
        measurement = None
    field_name = need("field")
    if field_name is not None and not isinstance(field_name, str):
        problems.add(_line_of(raw, "field"), f"rule '{name}': field must be a name")
        field_name = None
    if isinstance(measurement, str):
        _check_field(model, raw, name, measurement, field_name, problems)

    comparison: Comparison
    raw_comparison = raw.get("comparison", ">=" if kind == "flapping" else None)
    if raw_comparison is None:
        problems.add(raw.line, f"rule '{name}': 'comparison' is required: one of {' '.join(COMPARISONS)}")
        comparison = "=="
    elif raw_comparison not in COMPARISONS:
        problems.add(
            _line_of(raw, "comparison"),
            f"rule '{name}': comparison must be one of {' '.join(COMPARISONS)} (quote it in YAML), "
            f"not {raw_comparison!r}",
        )
        comparison = "=="
    else:
        comparison = raw_comparison

    breach = need("breach")
    if breach is not None and not _scalar(breach):
        problems.add(
            _line_of(raw, "breach"), f"rule '{name}': breach must be a number, true/false or a string"
        )
        breach = None
    clear = raw.get("clear", breach)
    if clear is not None and not _scalar(clear):
        problems.add(_line_of(raw, "clear"), f"rule '{name}': clear must be a number, true/false or a string")
        clear = breach
    ordering = comparison in (">", ">=", "<", "<=")
    if ordering:
        for key, value in (("breach", breach), ("clear", clear)):
            if value is not None and (isinstance(value, str | bool)):
                problems.add(
                    _line_of(raw, key), f"rule '{name}': {key} must be a number for comparison '{comparison}'"
                )
        if _number(breach) and _number(clear):
            # Hysteresis only makes sense on the safe side of the breach value.
            assert isinstance(breach, int | float)
            assert isinstance(clear, int | float)
            if comparison in (">", ">=") and clear > breach:
                problems.add(
                    _line_of(raw, "clear"),
                    f"rule '{name}': clear ({clear}) must not be above breach ({breach}) for '{comparison}'",
                )
            if comparison in ("<", "<=") and clear < breach:
                problems.add(
                    _line_of(raw, "clear"),
                    f"rule '{name}': clear ({clear}) must not be below breach ({breach}) for '{comparison}'",
                )

    hold = _parse_hold(raw["for"], _line_of(raw, "for"), "for", name, problems) if "for" in raw else Hold()
    clear_hold = (
        _parse_hold(raw["clear_for"], _line_of(raw, "clear_for"), "clear_for", name, problems)
        if "clear_for" in raw
        else hold
    )
    if kind == "event":
        for key in ("clear", "for", "clear_for"):
            if key in raw:
                problems.add(_line_of(raw, key), f"rule '{name}': '{key}' does not apply to an event rule")

    severity = _choice(raw, "severity", SEVERITIES, "warning", name, problems)

    entity_tag = model[measurement].entity_tag if measurement in model else None
    if "entity" in raw:
        entity_raw = raw["entity"]
        if entity_raw is None or entity_raw == "":
            entity_tag = None
        elif isinstance(entity_raw, str):
            entity_tag = entity_raw
        else:
            problems.add(_line_of(raw, "entity"), f"rule '{name}': entity must be a tag name such as ifName")

    scope = _parse_scope(raw.get("scope"), _line_of(raw, "scope"), name, problems)
    if scope.interfaces and entity_tag is None:
        problems.add(
            _line_of(raw, "scope"),
            f"rule '{name}': scope.interfaces needs a per-interface rule (measurement interface or 'entity')",
        )

    when: tuple[tuple[str, FieldValue], ...] = ()
    if "when" in raw:
        raw_when = raw["when"]
        if isinstance(raw_when, dict) and all(isinstance(k, str) and _scalar(v) for k, v in raw_when.items()):
            when = tuple(raw_when.items())
        else:
            problems.add(
                _line_of(raw, "when"),
                f"rule '{name}': when must map field names to values, e.g. {{admin_status: 1}}",
            )

    trigger = _choice(raw, "trigger", TRIGGERS, "match", name, problems)
    if "trigger" in raw and raw["trigger"] in TRIGGERS and kind != "event":
        problems.add(_line_of(raw, "trigger"), f"rule '{name}': 'trigger' only applies to an event rule")

    window_s: float | None = None
    if kind == "flapping":
        window_s = parse_duration(raw.get("window"))
        if window_s is None or window_s <= 0:
            problems.add(
                _line_of(raw, "window"),
                f"rule '{name}': a flapping rule needs 'window', a duration such as '10m'",
            )
    elif "window" in raw:
        problems.add(_line_of(raw, "window"), f"rule '{name}': 'window' only applies to a flapping rule")

    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add(_line_of(raw, "description"), f"rule '{name}': description must be text")
        description = ""

    if len(problems.items) > before or measurement is None or field_name is None or breach is None:
        return None
    assert clear is not None
    return Rule(
        name=name,
        kind=kind,
        measurement=measurement,
        field=field_name,
        comparison=comparison,
        breach=breach,
        clear=clear,
        hold=hold,
        clear_hold=clear_hold,
        severity=severity,
        scope=scope,
        entity_tag=entity_tag,
        when=when,
        trigger=trigger,
        window_s=window_s,
        description=description,
        source=f"{problems.file}:{raw.line}",
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class _Parsed:
    rules: list[Rule] = field(default_factory=list)
    include_defaults: bool = False
    disable: list[tuple[str, int]] = field(default_factory=list)


def _parse_document(text: str, file: str, model: Model = MODEL) -> _Parsed:
    problems = _Problems(file)
    parsed = _Parsed()
    try:
        document = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{file}:{line}: invalid YAML: {reason}"]) from None
    if document is None:
        document = _LineDict()
        document.line, document.key_lines, document.duplicates = 1, {}, []
    if not isinstance(document, _LineDict):
        raise ConfigError([f"{file}:1: a rules file is a mapping with a 'rules' list"])
    _check_keys(document, _TOP_KEYS, "the rules file", problems)
    include = document.get("include_defaults", False)
    if not isinstance(include, bool):
        problems.add(_line_of(document, "include_defaults"), "include_defaults must be true or false")
        include = False
    parsed.include_defaults = include
    disable = document.get("disable")
    if disable is None:
        pass
    elif isinstance(disable, _LineList) and all(isinstance(item, str) for item in disable):
        parsed.disable = list(zip(disable, disable.item_lines, strict=True))
    else:
        problems.add(_line_of(document, "disable"), "disable must be a list of rule names")
    raw_rules = document.get("rules")
    if raw_rules is None:
        raw_rules = _LineList()
        raw_rules.item_lines = []
    if not isinstance(raw_rules, _LineList):
        problems.add(_line_of(document, "rules"), "'rules' must be a list of rules")
        raw_rules = _LineList()
    seen: dict[str, int] = {}
    for raw, line in zip(raw_rules, getattr(raw_rules, "item_lines", []), strict=False):
        rule = _parse_rule(raw, line, problems, seen, model)
        if rule is not None:
            parsed.rules.append(rule)
    if problems.items:
        raise ConfigError(sorted(problems.items, key=_problem_line))
    return parsed


def _problem_line(problem: str) -> int:
    # "file:line: message" with a file name that may itself hold colons: the line is the last number before
    # the first ": " that follows it.
    head = problem.split(": ", 1)[0]
    number = head.rsplit(":", 1)[-1]
    return int(number) if number.isdigit() else 0


def parse_rules(text: str, file: str = "<rules>", model: Model = MODEL) -> tuple[Rule, ...]:
    """Validate rules YAML text (without ``include_defaults`` processing); raises ConfigError.

    ``model`` declares the measurements and fields a rule may watch (add the loaded profiles' fields).
    """
    return tuple(_parse_document(text, file, model).rules)


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
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}:0: cannot read rules file: {exc.strerror or exc}"]) from None
    parsed = _parse_document(text, file, model)
    if not parsed.include_defaults:
        if parsed.disable:
            raise ConfigError([f"{file}:{parsed.disable[0][1]}: 'disable' needs include_defaults: true"])
        return tuple(parsed.rules)
    defaults = {rule.name: rule for rule in default_rules()}
    problems = [
        f"{file}:{line}: disable: no default rule '{name}'{_did_you_mean(name, defaults)}"
        for name, line in parsed.disable
        if name not in defaults
    ]
    if problems:
        raise ConfigError(problems)
    for name, _line in parsed.disable:
        del defaults[name]
    for rule in parsed.rules:
        defaults[rule.name] = rule
    return tuple(defaults.values())
