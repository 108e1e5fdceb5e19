"""Device profiles (``mibs/*.yaml``): which OIDs to poll per vendor, compiled once at load.

A profile file names MIB objects (``scalars``: instance ``.0`` added; ``columns``: table columns) with their
numeric OIDs, lists the IF-MIB columns the interface maths uses, and defines the device-level fields of the
``snmp`` measurement as lists of alternatives (the first that yields a value wins), and per-row ``tables``
(``netpoll.inputs.snmp.tables``). ``extends`` merges a parent profile underneath; ``match`` picks the profile
by sysObjectID prefix (longest wins), optionally narrowed by a sysDescr regular expression. The user's
profiles (``profiles_dir``) come on top of the shipped ones by name (``load_profiles``).

Compilation checks every name and OID and stops start-up with ``file:line: message`` (``ConfigError``);
the polling path then only sees int tuples and prepared walk roots.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netpoll.configkit.problems import Problems, did_you_mean
from netpoll.configkit.validation import check_keys, expect, validate
from netpoll.configkit.yamlsource import PathKey, YamlSource, load_yaml
from netpoll.inputs.snmp.metrics import COUNTER_COLUMNS, text_of
from netpoll.inputs.snmp.tables import (
    NAME_RE,
    OID_RE,
    Table,
    Where,
    check_switches,
    compile_table,
    compile_where,
    merge_declarations,
)
from netpoll.inputs.snmp.types import Oid, SnmpValue, parse_oid
from netpoll.inventory.interfaces import selection as interface_selection
from netpoll.inventory.models import InterfaceSelection
from netpoll.inventory.schema import RawInterfaces
from netpoll.measurements import (
    MEASUREMENTS,
    MODEL,
    SNMP,
    TABLE_MEASUREMENTS,
    Field,
    FieldType,
    Measurement,
    Model,
)
from netpoll.sample import FieldValue

log = logging.getLogger("netpoll.snmp.profiles")


def _shipped_dir() -> Path:
    # A source checkout (or editable install) reads the repository's mibs/; a wheel installs the same files
    # under <prefix>/share/netpoll/mibs (pyproject's data-files).
    checkout = Path(__file__).resolve().parents[3] / "mibs"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "netpoll" / "mibs"


DEFAULT_DIR = _shipped_dir()
DEFAULT_PROFILE = "generic"

AGGREGATES = ("value", "avg", "min", "max", "sum", "text")
# Compared with the previous poll by the poller: ``rate`` of a counter (per second), ``changed`` marker.
STATEFUL = ("rate", "changed")
PERCENT_PARTS = ("used", "free", "total")
IF_LABELS = frozenset({"ifDescr", "ifName", "ifAlias", "ifHighSpeed", "ifSpeed", "ifType"})
IF_STATUS = frozenset({"ifOperStatus", "ifAdminStatus"})
IF_KNOWN = IF_LABELS | IF_STATUS | frozenset(COUNTER_COLUMNS)
# "traps": vendor notification names, read by netpoll.inputs.traps.catalog.
_TOP_KEYS = (
    "description",
    "extends",
    "match",
    "scalars",
    "columns",
    "interfaces",
    "fields",
    "system",
    "traps",
    "tables",
)


# --- compiled records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """One way of computing a field: an aggregate of scalars/columns, filtered rows, scale and offset."""

    op: str  # value | avg | min | max | sum | text | percent | rate | changed
    names: tuple[str, ...]  # the object for aggregates; (used, free, total) for percent ("" = not given)
    where: tuple[Where, ...] = ()
    scale: float = 1.0
    offset: float = 0.0
    as_int: bool = False

    def evaluate(
        self, scalars: Mapping[str, SnmpValue], columns: Mapping[str, Mapping[Oid, SnmpValue]]
    ) -> FieldValue | None:
        """The field's value from this poll's scalars and columns (by name), or None when absent."""
        if self.op == "text":
            name = self.names[0]
            cell = scalars.get(name)
            if cell is None:
                col = columns.get(name)
                cell = next(iter(col.values()), None) if col else None
            return None if cell is None else text_of(cell)
        if self.op in STATEFUL:
            # The raw reading (a column is summed); the poller compares it with the previous poll's.
            raw = self._values(self.names[0], scalars, columns)
            return sum(raw) if raw else None
        if self.op == "percent":
            used, free, total = (self._sum(n, scalars, columns) if n else None for n in self.names)
            if used is not None and total is not None:
                result = used * 100.0 / total if total else None
            elif free is not None and total is not None:
                result = (total - free) * 100.0 / total if total else None
            elif used is not None and free is not None:
                result = used * 100.0 / (used + free) if used + free else None
            else:
                result = None
        else:
            values = self._values(self.names[0], scalars, columns)
            if not values:
                return None
            if self.op == "value":
                result = values[0]
            elif self.op == "avg":
                result = sum(values) / len(values)
            elif self.op == "min":
                result = min(values)
            elif self.op == "max":
                result = max(values)
            else:
                result = sum(values)
        if result is None:
            return None
        result = result * self.scale + self.offset
        return round(result) if self.as_int else float(result)

    def _values(
        self, name: str, scalars: Mapping[str, SnmpValue], columns: Mapping[str, Mapping[Oid, SnmpValue]]
    ) -> list[int]:
        if name in scalars:
            cell = scalars[name]
            return [cell] if isinstance(cell, int) else []
        col = columns.get(name)
        if not col:
            return []
        if not self.where:
            return [v for v in col.values() if isinstance(v, int)]
        filters = [(w, columns.get(w.column, {})) for w in self.where]
        return [
            v
            for idx, v in col.items()
            if isinstance(v, int)
            and all(idx in w.values if not w.column else w.accepts(c.get(idx)) for w, c in filters)
        ]

    def _sum(
        self, name: str, scalars: Mapping[str, SnmpValue], columns: Mapping[str, Mapping[Oid, SnmpValue]]
    ) -> int | None:
        values = self._values(name, scalars, columns)
        return sum(values) if values else None

    @property
    def field_type(self) -> FieldType:
        """How the value is written: text as a string, ``type: int`` as an integer, else a float."""
        if self.op == "text":
            return "string"
        if self.op == "changed":
            return "integer"
        return "integer" if self.as_int else "float"

    @property
    def stateful(self) -> bool:
        """Whether the value needs the previous poll's reading (``rate``, ``changed``)."""
        return self.op in STATEFUL

    def objects(self) -> set[str]:
        """Every object name this source reads."""
        return {n for n in self.names if n} | {w.column for w in self.where if w.column}


@dataclass(frozen=True, slots=True)
class WalkRoot:
    """One subtree to bulk-walk and how to split its varbinds back into named columns."""

    root: Oid
    columns: tuple[tuple[str, Oid], ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """A compiled profile: numeric OIDs only, ready for the poller."""

    name: str
    file: str
    description: str
    scalars: Mapping[str, Oid]  # name → instance OID (``.0`` included)
    columns: Mapping[str, Oid]  # name → column OID
    if_labels: tuple[str, ...]
    if_counters: tuple[str, ...]
    if_fallback: tuple[str, ...]
    fields: Mapping[str, tuple[Source, ...]]
    system: Mapping[str, str]  # role (sys_uptime, sys_object_id, ...) → scalar name
    get_oids: tuple[Oid, ...] = field(default=())
    # The profile's default interface selection (``interfaces.select``); the inventory's keys beat it.
    if_select: InterfaceSelection | None = None
    tables: tuple[Table, ...] = ()  # the enabled per-row tables (``tables:``)

    def walk_plan(self, names: Iterable[str]) -> tuple[WalkRoot, ...]:
        """Deduplicated, minimized walk roots for these column names (a root under another is dropped)."""
        oids = sorted({self.columns[n]: n for n in names}.items())
        roots: list[WalkRoot] = []
        for oid, name in oids:
            if roots and oid[: len(roots[-1].root)] == roots[-1].root:
                last = roots[-1]
                roots[-1] = WalkRoot(last.root, (*last.columns, (name, oid)))
            else:
                roots.append(WalkRoot(oid, ((name, oid),)))
        return tuple(roots)

    def field_columns(self, sources: Iterable[Source]) -> set[str]:
        """Column names (not scalars) the given sources read."""
        return {n for s in sources for n in s.objects() if n in self.columns}


@dataclass(frozen=True, slots=True)
class _Match:
    prefix: Oid
    descr: re.Pattern[str] | None
    profile: str


class ProfileSet:
    """All loaded profiles, with the sysObjectID → profile lookup."""

    def __init__(self, profiles: Mapping[str, Profile], matches: Sequence[_Match], default: str) -> None:
        self.profiles = dict(profiles)
        self.default = default
        # Longest prefix first; at equal length, sysDescr-qualified entries first.
        self._matches = sorted(matches, key=lambda m: (-len(m.prefix), m.descr is None))

    def __getitem__(self, name: str) -> Profile:
        return self.profiles[name]

    def __eq__(self, other: object) -> bool:
        # Equal when loaded from files that say the same: a reload that changed no profile changes nothing.
        if not isinstance(other, ProfileSet):
            return NotImplemented
        return (self.profiles, self._matches, self.default) == (other.profiles, other._matches, other.default)

    __hash__ = None  # type: ignore[assignment]

    def __contains__(self, name: object) -> bool:
        return name in self.profiles

    def __len__(self) -> int:
        return len(self.profiles)

    def __iter__(self) -> Iterator[str]:
        return iter(self.profiles)

    def model(self, base: Model = MODEL) -> Model:
        """The data model with the ``snmp`` fields and the table measurements these profiles write.

        User profiles may add fields, tables of their own, or tags and fields to a declared table measurement.
        The alert rules parser takes its known measurements and fields from it; what the model already
        declares keeps its declaration (a test checks that the shipped profiles agree with it).
        """
        fields: dict[str, Field] = {}
        tables: dict[str, Measurement] = {}
        for profile in self.profiles.values():
            for name, sources in profile.fields.items():
                if name not in fields:
                    meaning = f"from the {profile.name} profile ({profile.file})"
                    fields[name] = Field(name, sources[0].field_type, "", meaning, profile=True)
            for table in profile.tables:
                known = tables.get(table.measurement)
                declaration = table.declaration()
                tables[table.measurement] = (
                    declaration if known is None else merge_declarations(known, declaration)
                )
        model = base.with_fields({SNMP.name: fields.values()})
        out = dict(model.measurements)
        for name, declaration in tables.items():
            # A declared table measurement keeps its declaration; a user table's tags and fields are added.
            out[name] = declaration if name not in out else merge_declarations(out[name], declaration)
        return Model(out)

    def pick(self, sys_object_id: Oid | None, sys_descr: str = "") -> Profile:
        """The profile for a device: longest matching sysObjectID prefix, else the default profile."""
        if sys_object_id:
            for m in self._matches:
                if sys_object_id[: len(m.prefix)] == m.prefix and (
                    m.descr is None or m.descr.search(sys_descr)
                ):
                    return self.profiles[m.profile]
        return self.profiles[self.default]


# --- loading ---------------------------------------------------------------------------------------


@dataclass
class _Raw:
    """One profile file after parsing, before ``extends`` is merged."""

    name: str
    doc: YamlSource
    extends: str | None
    description: str
    match: list[tuple[Oid, re.Pattern[str] | None]]
    scalars: dict[str, Oid]
    columns: dict[str, Oid]
    interfaces: dict[str, list[str]] | None
    fields: dict[str, list[dict[str, Any]]]
    system: dict[str, str]
    select: InterfaceSelection | None = None
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)


def profile_oid(doc: YamlSource, path: PathKey, value: Any, example: str = "1.3.6.1.2.1.1.3") -> Oid | None:
    """A numeric OID written in a ``mibs/`` file, or None with the problem reported at ``path``."""
    if isinstance(value, str) and OID_RE.match(value.strip()):
        return parse_oid(value)
    doc.report(path, f"bad OID {value!r}: write it as a quoted dotted string, e.g. '{example}'")
    return None


def _names_map(doc: YamlSource, section: str, data: Any) -> dict[str, Oid]:
    out: dict[str, Oid] = {}
    if data is None:
        return out
    if not isinstance(data, dict):
        doc.report((section,), f"'{section}' must map MIB object names to numeric OIDs")
        return out
    for name, value in data.items():
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            doc.report((section, name), f"bad name {name!r}: use the MIB's object name")
            continue
        oid = profile_oid(doc, (section, name), value)
        if oid is not None:
            out[name] = oid
    return out


def _section(doc: YamlSource, data: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    """``data[key]`` when it is a ``kind`` (absent: an empty one); else reported, and an empty one."""
    value = data.get(key)
    return value if value is not None and expect(doc, (key,), value, kind, what) else kind()


def _parse_file(path: Path, problems: Problems) -> _Raw | None:
    doc = load_yaml(path, problems)
    if doc is None:
        return None
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        doc.report((), "a profile is a mapping (description, extends, match, scalars, columns, fields, ...)")
        data = {}
    check_keys(doc, (), data, _TOP_KEYS)
    system = _section(doc, data, "system", dict, "a mapping of roles to scalar names")
    extends = data.get("extends")
    return _Raw(
        name=path.stem,
        doc=doc,
        extends=str(extends) if extends is not None else None,
        description=str(data.get("description") or ""),
        match=_parse_match(doc, _section(doc, data, "match", list, "a list of sysObjectID prefixes")),
        scalars=_names_map(doc, "scalars", data.get("scalars")),
        columns=_names_map(doc, "columns", data.get("columns")),
        interfaces=_parse_interfaces(doc, data.get("interfaces")),
        select=_parse_select(doc, data.get("interfaces")),
        fields=_parse_fields(doc, _section(doc, data, "fields", dict, "a mapping of field names")),
        system={str(k): str(v) for k, v in system.items()},
        tables=_parse_tables(doc, _section(doc, data, "tables", dict, "a mapping of table names")),
    )


def _parse_tables(doc: YamlSource, value: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        if not isinstance(spec, dict):
            doc.report(("tables", name), f"table {name!r}: give a mapping (index, tags, fields, ...)")
            continue
        check_switches(doc, ("tables", name), spec)
        tables[str(name)] = spec
    return tables


def _parse_match(doc: YamlSource, entries: list[Any]) -> list[tuple[Oid, re.Pattern[str] | None]]:
    match: list[tuple[Oid, re.Pattern[str] | None]] = []
    for i, entry in enumerate(entries):
        path: PathKey = ("match", i)
        descr: re.Pattern[str] | None = None
        if isinstance(entry, dict):
            check_keys(doc, path, entry, ("sys_object_id", "sys_descr"), "match: ")
            if "sys_descr" in entry:
                try:
                    descr = re.compile(str(entry["sys_descr"]))
                except re.error as exc:
                    doc.report((*path, "sys_descr"), f"bad regular expression: {exc}")
            entry = entry.get("sys_object_id")
            path = (*path, "sys_object_id")
        oid = profile_oid(doc, path, entry)
        if oid is not None:
            match.append((oid, descr))
    return match


def _parse_interfaces(doc: YamlSource, value: Any) -> dict[str, list[str]] | None:
    if value is None:
        return None
    parts = ("labels", "counters", "fallback", "select")
    if not isinstance(value, dict):
        doc.report(("interfaces",), "'interfaces' has the lists labels, counters and fallback, and select")
        return None
    if not check_keys(doc, ("interfaces",), value, parts, "interfaces: "):
        return None
    out: dict[str, list[str]] = {}
    for part, names in value.items():
        if part == "select":
            continue
        if names is not None and not expect(
            doc, ("interfaces", part), names, list, "a list of IF-MIB columns"
        ):
            return None
        out[part] = [str(name) for name in names or []]
    return out


def _parse_select(doc: YamlSource, value: Any) -> InterfaceSelection | None:
    """``interfaces.select``: the profile's default interface selection, checked like the inventory's."""
    if not isinstance(value, dict) or value.get("select") is None:
        return None
    at: PathKey = ("interfaces", "select")
    raw = validate(RawInterfaces, value["select"], doc, at, "interfaces.select", doc.problems)
    if raw is None:
        return None
    return interface_selection(
        raw, lambda path, message: doc.report((*at, *path), f"interfaces.select.{message}")
    )


def _parse_fields(doc: YamlSource, value: dict[Any, Any]) -> dict[str, list[dict[str, Any]]]:
    fields: dict[str, list[dict[str, Any]]] = {}
    for fname, alts in value.items():
        if isinstance(alts, dict):
            alts = [alts]
        if not isinstance(alts, list) or not all(isinstance(a, dict) for a in alts):
            doc.report(("fields", fname), f"field {fname!r}: give a list of alternatives (mappings)")
            continue
        fields[str(fname)] = alts
    return fields


def _compile_source(
    doc: YamlSource,
    path: PathKey,
    spec: dict[str, Any],
    scalars: Mapping[str, Oid],
    columns: Mapping[str, Oid],
) -> Source | None:
    ops_known = (*AGGREGATES, "percent", *STATEFUL)
    if not check_keys(doc, path, spec, (*ops_known, "where", "scale", "offset", "type")):
        return None
    ops = [k for k in ops_known if k in spec]
    if len(ops) != 1:
        doc.report(path, f"give exactly one of {', '.join(ops_known)}")
        return None
    op = ops[0]

    def check(name: Any, at: PathKey) -> str:
        if not isinstance(name, str) or (name not in scalars and name not in columns):
            doc.report(at, f"bad name {name!r}: not in this profile's scalars or columns")
            return ""
        return name

    if op == "percent":
        parts = spec["percent"]
        if not isinstance(parts, dict) or len(parts) != 2 or set(parts) - set(PERCENT_PARTS):
            doc.report((*path, "percent"), "percent takes two of used, free, total")
            return None
        names = tuple(check(parts[p], (*path, "percent", p)) if p in parts else "" for p in PERCENT_PARTS)
    else:
        names = (check(spec[op], (*path, op)),)
    where = compile_where(doc, (*path, "where"), spec.get("where") or {}, columns)
    scale, offset = spec.get("scale", 1.0), spec.get("offset", 0.0)
    if not isinstance(scale, int | float) or not isinstance(offset, int | float):
        doc.report(path, "scale and offset are numbers")
        return None
    kind = spec.get("type", "float")
    if kind not in ("int", "float"):
        doc.report((*path, "type"), f"bad type {kind!r} (allowed: int, float)")
    if "" in names and op != "percent":
        return None
    return Source(op, names, where, float(scale), float(offset), kind == "int")


_SYSTEM_ROLES = (
    "sys_object_id",
    "sys_descr",
    "sys_name",
    "sys_uptime",
    "engine_time",
    "hr_uptime",
    "if_number",
    "if_table_last_change",
)


def _resolve(name: str, raws: Mapping[str, _Raw], chain: tuple[str, ...] = ()) -> list[_Raw]:
    raw = raws[name]
    if raw.extends is None:
        return [raw]
    if raw.extends in chain or raw.extends == name:
        raw.doc.report(("extends",), f"extends cycle: {' → '.join((*chain, name, raw.extends))}")
        return [raw]
    if raw.extends not in raws:
        raw.doc.report(("extends",), f"bad name {raw.extends!r}: no profile {raw.extends}.yaml")
        return [raw]
    return [*_resolve(raw.extends, raws, (*chain, name)), raw]


def _check_references(owner: _Raw, scalars: Mapping[str, Oid], columns: Mapping[str, Oid]) -> None:
    """The system roles and interface columns ``owner`` names exist in the merged profile."""
    check_keys(owner.doc, ("system",), owner.system, _SYSTEM_ROLES, "system: ")
    for role, sname in owner.system.items():
        if role in _SYSTEM_ROLES and sname not in scalars:
            owner.doc.report(("system", role), f"bad name {sname!r}: not in this profile's scalars")
    for part, names in (owner.interfaces or {}).items():
        for i, n in enumerate(names):
            if n not in columns or n not in IF_KNOWN:
                owner.doc.report(
                    ("interfaces", part, i),
                    f"bad name {n!r}: interface columns are IF-MIB columns declared under columns",
                )


def _compile(name: str, raws: Mapping[str, _Raw]) -> Profile:
    chain = _resolve(name, raws)
    me = chain[-1]
    doc = me.doc
    scalars: dict[str, Oid] = {}
    columns: dict[str, Oid] = {}
    interfaces: dict[str, list[str]] = {"labels": [], "counters": [], "fallback": []}
    raw_fields: dict[str, tuple[_Raw, list[dict[str, Any]]]] = {}
    system: dict[str, str] = {}
    select: InterfaceSelection | None = None
    for raw in chain:
        select = raw.select.over(select) if raw.select is not None else select
        scalars.update(raw.scalars)
        columns.update(raw.columns)
        if raw.interfaces is not None:
            interfaces.update(raw.interfaces)
        system.update(raw.system)
        for fname, alts in raw.fields.items():
            raw_fields[fname] = (raw, alts)
    for owner in chain:
        _check_references(owner, scalars, columns)
    fields: dict[str, tuple[Source, ...]] = {}
    for fname, (owner, alts) in raw_fields.items():
        if not NAME_RE.fullmatch(fname):
            owner.doc.report(("fields", fname), f"bad field name {fname!r}")
            continue
        compiled = []
        for i, spec in enumerate(alts):
            src = _compile_source(owner.doc, ("fields", fname, i), spec, scalars, columns)
            if src is not None:
                compiled.append(src)
        fields[fname] = tuple(compiled)
    tables = _compile_tables(chain, columns)
    return Profile(
        name=name,
        file=doc.file,
        description=me.description,
        scalars={n: (*oid, 0) for n, oid in scalars.items()},
        columns=columns,
        if_labels=tuple(n for n in interfaces["labels"] if n in columns),
        if_counters=tuple(n for n in interfaces["counters"] if n in columns),
        if_fallback=tuple(n for n in interfaces["fallback"] if n in columns),
        fields=fields,
        system={role: sname for role, sname in system.items() if sname in scalars},
        get_oids=tuple((*oid, 0) for oid in scalars.values()),
        if_select=select,
        tables=tables,
    )


def _compile_tables(chain: Sequence[_Raw], columns: Mapping[str, Oid]) -> tuple[Table, ...]:
    """The enabled tables of a profile: each entry merged key by key over its parents' entry of that name."""
    merged: dict[str, tuple[_Raw, dict[str, Any]]] = {}
    for raw in chain:
        for name, spec in raw.tables.items():
            owner, base = merged.get(name, (raw, {}))
            # The file that gives more than enabled/max_rows owns the entry (its lines name the problems).
            merged[name] = (raw if set(spec) - {"enabled", "max_rows"} else owner, {**base, **spec})
    tables: list[Table] = []
    for name, (owner, spec) in merged.items():
        table = compile_table(owner.doc, ("tables", name), name, spec, columns)
        if table is None or not _fits_model(owner.doc, table):
            continue
        if table.enabled:
            tables.append(table)
    for table in tables:
        if table.instead_of and table.instead_of not in merged:
            merged[table.name][0].doc.report(
                ("tables", table.name, "instead_of"),
                f"instead_of {table.instead_of!r}: no table of that name"
                + did_you_mean(table.instead_of, merged),
            )
    # A table read instead of another comes after it.
    return tuple(sorted(tables, key=lambda t: bool(t.instead_of)))


def _fits_model(doc: YamlSource, table: Table) -> bool:
    """A table writes its own measurement or a declared table measurement, with the declared field types."""
    path: PathKey = ("tables", table.name)
    declared = TABLE_MEASUREMENTS.get(table.measurement)
    if declared is None:
        if table.measurement in MEASUREMENTS:
            doc.report(
                path, f"measurement {table.measurement!r} is netpoll's own: give the table another name"
            )
            return False
        return True
    ok = True
    for fname, cell in table.fields:
        known = declared.field(fname)
        if known is not None and known.type != cell.field_type():
            doc.report(
                (*path, "fields", fname),
                f"{fname} is declared {known.type}; this table makes it {cell.field_type()}",
            )
            ok = False
    return ok


# The shipped profile a user profile of the same name builds on (``extends: <its own name>``) is kept under
# this name: it cannot be picked or named, only extended.
_SHIPPED = "@shipped"


def _read_dir(directory: Path, problems: Problems) -> dict[str, _Raw]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        what = "not a directory" if not directory.is_dir() else "no profiles (*.yaml) in it"
        problems.add(directory, 0, f"{what}: name a directory of profiles")
    raws: dict[str, _Raw] = {}
    for path in files:
        raw = _parse_file(path, problems)
        if raw is not None:
            raws[path.stem] = raw
    return raws


def _overlay(raws: dict[str, _Raw], user: Mapping[str, _Raw]) -> None:
    """Put the user's profiles over the shipped ones: same name wins; ``extends: <own name>`` builds on it."""
    for name, raw in user.items():
        shipped = raws.get(name)
        if shipped is not None and raw.extends == name:
            raws[name + _SHIPPED] = shipped
            raw.extends = name + _SHIPPED
            if not raw.match:  # picked where the shipped one was, unless it says otherwise
                raw.match, shipped.match = shipped.match, []
        raws[name] = raw


def load_profiles(dir: str | Path | None = None, user_dir: str | Path | None = None) -> ProfileSet:
    """Load and compile every ``*.yaml`` profile in ``dir`` (default: the shipped ``mibs/``) and ``user_dir``.

    A profile in ``user_dir`` (``profiles_dir`` in the daemon configuration, ``--profiles`` on the command
    line) replaces the one of the same name in ``dir``: devices that pick it, inventories that name it and the
    profiles that extend it get the user's. When it says ``extends: <its own name>`` it is built on the
    replaced one (keys it gives win, see ``extends``) and, without a ``match`` of its own, is picked by the
    replaced one's. A new name is a new profile.

    Raises:
        ConfigError: one ``file:line: message`` per problem (unknown names, bad OIDs, unknown keys, ...).
    """
    directory = Path(dir) if dir is not None else DEFAULT_DIR
    problems = Problems()
    raws = _read_dir(directory, problems)
    if user_dir is not None:
        _overlay(raws, _read_dir(Path(user_dir), problems))
    if DEFAULT_PROFILE not in raws and not problems:
        problems.add(directory, 0, f"the default profile {DEFAULT_PROFILE}.yaml is missing")
    profiles: dict[str, Profile] = {}
    matches: list[_Match] = []
    for name, raw in raws.items():
        # A parent's problem is found again while compiling each child: Problems keeps it once.
        profile = _compile(name, raws)
        if not name.endswith(_SHIPPED):
            profiles[name] = profile
            matches.extend(_Match(prefix, descr, name) for prefix, descr in raw.match)
    problems.raise_if_any()
    log.debug(
        "loaded %d SNMP profiles from %s%s", len(profiles), directory, f" and {user_dir}" if user_dir else ""
    )
    return ProfileSet(profiles, matches, DEFAULT_PROFILE)
