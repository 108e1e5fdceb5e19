"""Per-row tables of a device profile (``tables:``): one measurement, one series per table row.

A table names the profile columns it reads; each row (the cells with the same row index) becomes one
``Sample`` whose tags are the device's tags, the table's tag cells and the row ``index``, and whose fields
are the table's value cells after their transforms (counter to rate, scale and precision, enum to text).
Compilation (``compile_table``) checks every name and reports ``file:line: message``; evaluation
(``table_samples``) is pure: the poller hands in this poll's columns and the previous counter state.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from netpoll.configkit.problems import did_you_mean
from netpoll.configkit.validation import check_keys
from netpoll.configkit.yamlsource import PathKey, YamlSource
from netpoll.inputs.snmp.metrics import counter_delta, text_of
from netpoll.inputs.snmp.types import Oid, SnmpValue, format_oid, parse_oid
from netpoll.measurements import TABLE_TAGS, Field, FieldType, Measurement, Tag
from netpoll.sample import FieldValue, Sample

# Rows one table may have on one device: a walk past it is cut off (the table skipped until a reboot) so a
# hostile agent's endless table cannot eat the poller's memory or time. ``max_rows`` lowers or raises it.
DEFAULT_MAX_ROWS = 1000
MAX_ROWS_LIMIT = 100_000

INDEX_KINDS = ("int", "ipv4", "inet", "string", "implied")
FORMATS = ("text", "inet", "hex")
KINDS = ("int", "float", "text")
# What profiles accept as a numeric OID and as a name (of an object, a field, a table).
OID_RE = re.compile(r"^\.?\d+(\.\d+)+$")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TABLE_KEYS = (
    "description",
    "measurement",
    "enabled",
    "index",
    "entity",
    "tags",
    "fields",
    "where",
    "max_rows",
    "instead_of",
)
_CELL_KEYS = (
    "column",
    "index",
    "template",
    "type",
    "rate",
    "scale",
    "offset",
    "precision",
    "multiply",
    "divide",
    "sensor_scale",
    "sensor_precision",
    "enum",
    "format",
    "extract",
    "where",
)
_TAG_KEYS = ("column", "index", "template", "enum", "format", "extract")
# INET-ADDRESS-MIB InetAddressType: ipv4(1), ipv6(2), ipv4z(3), ipv6z(4), dns(16).
_INET_TYPES = {1: 4, 2: 16, 3: 8, 4: 20}

Kind = Literal["int", "float", "text"]
Columns = Mapping[str, Mapping[Oid, SnmpValue]]
# Counter state between polls: (measurement, row index, field) → (time_ns, raw counter).
RateState = dict[tuple[str, Oid, str], tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Where:
    """Row filter: the cell of ``column`` in the same row must be one of ``values`` or match ``pattern``.

    ``column`` empty: ``values`` are row indexes.
    """

    column: str
    values: frozenset[int | str | Oid] = frozenset()
    pattern: re.Pattern[str] | None = None

    def accepts(self, cell: SnmpValue | None) -> bool:
        """True when the row passes."""
        if cell is None:
            return False
        value: int | str | Oid = cell.decode("utf-8", "replace") if isinstance(cell, bytes) else cell
        if self.pattern is not None:
            return isinstance(value, str) and self.pattern.search(value) is not None
        return value in self.values

    def row_passes(self, idx: Oid, columns: Columns) -> bool:
        """True when the row ``idx`` passes this filter."""
        if not self.column:
            return idx in self.values
        return self.accepts(columns.get(self.column, {}).get(idx))


@dataclass(frozen=True, slots=True)
class IndexPart:
    """One part of a row index and its kind.

    ``int`` is one sub-identifier, ``ipv4`` four, ``inet`` an InetAddressType, a length and that many octets,
    ``string`` a length and octets, ``implied`` the rest of the index as octets.
    """

    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class Cell:
    """Where one tag or field value comes from, and how it is converted.

    The source is a column of the row, an index part, or a template of index parts.
    """

    column: str = ""
    index: str = ""
    template: str = ""
    kind: Kind = "int"
    rate: int = 0  # counter width (32 or 64): the value is the per-second rate; 0: the value itself
    scale: float = 1.0
    offset: float = 0.0
    precision: int = 0  # decimal places the agent's integer carries (value / 10**precision)
    multiply: str = ""  # column of the same row to multiply by (hrStorageAllocationUnits)
    divide: str = ""  # column of the same row to divide by (used / size); 0 there: no value
    sensor_scale: str = ""  # ENTITY-SENSOR-MIB SiScale column: x 10**(3 x (scale - 9))
    sensor_precision: str = ""  # ENTITY-SENSOR-MIB precision column: / 10**precision
    enum: Mapping[int | str | Oid, str] | None = None
    format: str = "text"
    extract: re.Pattern[str] | None = None
    where: tuple[Where, ...] = ()

    def columns(self) -> set[str]:
        """Every column this cell reads."""
        named = (self.column, self.multiply, self.divide, self.sensor_scale, self.sensor_precision)
        return {n for n in named if n} | {w.column for w in self.where if w.column}

    def text(self, idx: Oid, parts: Mapping[str, str], columns: Columns) -> str | None:
        """The cell as text (tags and text fields): enum names, formatted octets, the extract's group."""
        if self.template:
            return self.template.format_map(parts)
        if self.index:
            return parts.get(self.index)
        raw = columns.get(self.column, {}).get(idx)
        if raw is None:
            return None
        if self.enum is not None and isinstance(raw, int | tuple):
            text = self.enum.get(raw, str(raw) if isinstance(raw, int) else format_oid(raw))
        else:
            text = _format(raw, self.format)
        if self.extract is not None:
            found = self.extract.search(text)
            text = (found.group(1) if found.groups() else found.group(0)) if found else text
        return text

    def number(
        self, idx: Oid, columns: Columns, prev: tuple[int, int] | None, time_ns: int
    ) -> tuple[float | None, int | None]:
        """The numeric value of the row's cell, and for a rate the raw counter to keep for the next poll.

        The value is None when the cell is absent or cannot be computed (first poll of a rate, a wrap).
        """
        raw = columns.get(self.column, {}).get(idx)
        if not isinstance(raw, int):
            return None, None
        value: float | None = float(raw)
        if self.rate:
            value = None
            if prev is not None and time_ns > prev[0]:
                delta = counter_delta(prev[1], raw, self.rate, None)
                value = None if delta is None else delta * 1e9 / (time_ns - prev[0])
        if value is not None:
            value = self._scaled(value, idx, columns)
        return value, raw if self.rate else None

    def _scaled(self, value: float, idx: Oid, columns: Columns) -> float | None:
        for name, apply in ((self.multiply, float.__mul__), (self.divide, float.__truediv__)):
            if name:
                other = columns.get(name, {}).get(idx)
                if not isinstance(other, int) or (apply is float.__truediv__ and other == 0):
                    return None
                value = apply(value, float(other))
        if self.sensor_scale:
            si = columns.get(self.sensor_scale, {}).get(idx)
            if not isinstance(si, int) or not 1 <= si <= 17:
                return None
            value *= 10.0 ** (3 * (si - 9))
        if self.sensor_precision:
            digits = columns.get(self.sensor_precision, {}).get(idx)
            if not isinstance(digits, int) or not -8 <= digits <= 9:
                return None
            value /= 10.0**digits
        if self.precision:
            value /= 10.0**self.precision
        return value * self.scale + self.offset

    def field_type(self) -> FieldType:
        """How the value is written: text as a string, ``type: int`` as an integer, else a float."""
        return {"text": "string", "int": "integer", "float": "float"}[self.kind]  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Table:
    """A compiled table: the measurement it writes, how its rows split, its tags, fields and filters."""

    name: str
    measurement: str
    description: str
    file: str
    index: tuple[IndexPart, ...]
    tags: tuple[tuple[str, Cell], ...]
    fields: tuple[tuple[str, Cell], ...]
    where: tuple[Where, ...] = ()
    entity: str = "index"
    max_rows: int = DEFAULT_MAX_ROWS
    enabled: bool = True
    instead_of: str = ""  # another table of the profile: this one is read only where that one has no rows

    def columns(self) -> frozenset[str]:
        """Every profile column the table reads (what a poll walks for it)."""
        names: set[str] = {w.column for w in self.where if w.column}
        for _, cell in (*self.tags, *self.fields):
            names |= cell.columns()
        return frozenset(names)

    def declaration(self) -> Measurement:
        """The measurement this table writes, as the data model declares measurements."""
        tags = (
            *TABLE_TAGS,
            *(Tag(name, f"from the {self.name} table ({self.file})") for name, _ in self.tags),
        )
        fields = tuple(
            Field(name, cell.field_type(), "", f"from the {self.name} table ({self.file})", profile=True)
            for name, cell in self.fields
        )
        return Measurement(
            name=self.measurement,
            producer="netpoll.inputs.snmp.tables",
            summary=f"SNMP, one point per row of the {self.name} table per poll ({self.file})",
            tags=_unique_tags(tags),
            fields=fields,
            entity_tag=self.entity,
            inventory_tags=True,
        )


def merge_declarations(base: Measurement, extra: Measurement) -> Measurement:
    """``base`` with the tags and fields ``extra`` adds (those ``base`` declares keep their declaration)."""
    tags = _unique_tags((*base.tags, *extra.tags))
    return dataclasses.replace(base.with_fields(extra.fields), tags=tags)


def _unique_tags(tags: Iterable[Tag]) -> tuple[Tag, ...]:
    seen: dict[str, Tag] = {}
    for tag in tags:
        seen.setdefault(tag.name, tag)
    return tuple(seen.values())


# --- evaluation --------------------------------------------------------------------------------------------


def split_index(parts: Sequence[IndexPart], idx: Oid) -> dict[str, str] | None:
    """The named parts of a row index as text, or None when the index does not have that shape."""
    out: dict[str, str] = {}
    pos = 0
    for part in parts:
        rest = idx[pos:]
        if part.kind == "int":
            if not rest:
                return None
            out[part.name], pos = str(rest[0]), pos + 1
        elif part.kind == "ipv4":
            if len(rest) < 4:
                return None
            out[part.name], pos = (
                _octets_text(bytes(rest[:4]) if _bytes_ok(rest[:4]) else None, "inet"),
                pos + 4,
            )
        elif part.kind == "implied":
            out[part.name], pos = _octets_text(bytes(rest) if _bytes_ok(rest) else None, "text"), len(idx)
        else:  # inet and string: a length, then that many octets (inet: the address type first)
            skip = 1 if part.kind == "inet" else 0
            if len(rest) < skip + 1 or len(rest) < skip + 1 + rest[skip]:
                return None
            octets = rest[skip + 1 : skip + 1 + rest[skip]]
            fmt = "inet" if part.kind == "inet" and rest[skip] in _INET_TYPES.values() else "text"
            out[part.name] = _octets_text(bytes(octets) if _bytes_ok(octets) else None, fmt)
            pos += skip + 1 + rest[skip]
        if out[part.name] == "":
            return None
    return out if pos == len(idx) else None


def _bytes_ok(subids: Sequence[int]) -> bool:
    return all(0 <= s <= 255 for s in subids)


def _octets_text(data: bytes | None, fmt: str) -> str:
    return "" if data is None else _format(data, fmt)


def _format(raw: SnmpValue, fmt: str) -> str:
    if isinstance(raw, bytes):
        if fmt == "inet" and len(raw) in (4, 16):
            return str(ipaddress.ip_address(raw))
        if fmt == "hex":
            return ":".join(f"{b:02x}" for b in raw)
    return text_of(raw)


def _row_parts(table: Table, idx: Oid) -> dict[str, str] | None:
    if not table.index:
        return {}
    return split_index(table.index, idx)


def table_samples(
    table: Table,
    columns: Columns,
    base_tags: Mapping[str, str],
    state: RateState,
    time_ns: int,
    *,
    rates: bool = True,
) -> list[Sample]:
    """One sample per row of ``table`` in this poll's ``columns``; ``state`` keeps the counters for rates.

    Rows are the indexes of the table's columns; a row whose index does not split as declared, that a
    ``where`` drops, or that has no field value is skipped. ``rates`` False (a reboot): no rate this time.
    """
    samples: list[Sample] = []
    indexes: set[Oid] = set()
    for _, cell in table.fields:
        if cell.column:
            indexes.update(columns.get(cell.column, {}))
    for idx in sorted(indexes):
        parts = _row_parts(table, idx)
        if parts is None or not all(w.row_passes(idx, columns) for w in table.where):
            continue
        fields = _row_fields(table, idx, parts, columns, state, time_ns, rates)
        if not fields:
            continue
        tags = dict(base_tags)
        tags["index"] = format_oid(idx)
        for name, cell in table.tags:
            text = cell.text(idx, parts, columns)
            if text:
                tags[name] = text
        samples.append(Sample(table.measurement, tags, fields, time_ns))
    return samples


def _row_fields(
    table: Table,
    idx: Oid,
    parts: Mapping[str, str],
    columns: Columns,
    state: RateState,
    time_ns: int,
    rates: bool,
) -> dict[str, FieldValue]:
    fields: dict[str, FieldValue] = {}
    for name, cell in table.fields:
        if not all(w.row_passes(idx, columns) for w in cell.where):
            continue
        if cell.kind == "text":
            text = cell.text(idx, parts, columns)
            if text is not None:
                fields[name] = text
            continue
        key = (table.measurement, idx, name)
        value, counter = cell.number(idx, columns, state.get(key) if rates else None, time_ns)
        if counter is not None:
            state[key] = (time_ns, counter)
        if value is None or math.isnan(value) or math.isinf(value):
            continue
        fields[name] = round(value) if cell.kind == "int" else value
    return fields


# --- compilation -------------------------------------------------------------------------------------------


def where_value(doc: YamlSource, path: PathKey, value: Any) -> int | str | Oid:
    """A ``where`` value: an integer, a string, or a dotted OID (two dots or more)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        doc.report(path, f"bad value {value!r} in where: use an integer, a string or a dotted OID")
        return ""
    if isinstance(value, str) and OID_RE.match(value) and value.count(".") >= 2:
        return parse_oid(value)
    return value


def compile_where(doc: YamlSource, path: PathKey, spec: Any, columns: Mapping[str, Oid]) -> tuple[Where, ...]:
    """Row filters from ``{column: value | [values] | {match: regex}, index: [...]}``."""
    if not isinstance(spec, dict):
        doc.report(path, "where maps column names to a value, a list of values or {match: regex}")
        return ()
    where: list[Where] = []
    for column, cond in spec.items():
        wpath = (*path, column)
        if column == "index":
            # The row index itself, e.g. "40.6" (CISCO-FIREWALL-MIB: protocolIp, currentInUse).
            idx = [
                parse_oid(str(v)) if OID_RE.match(str(v)) else None
                for v in (cond if isinstance(cond, list) else [cond])
            ]
            if None in idx:
                doc.report(wpath, f"bad index {cond!r}: give row indexes such as 1 or '40.6'")
                continue
            where.append(Where("", frozenset(i for i in idx if i is not None)))
        elif column not in columns:
            doc.report(
                wpath,
                f"bad name {column!r}: where filters on columns of this profile{_hint(column, columns)}",
            )
        elif isinstance(cond, dict) and set(cond) == {"match"}:
            try:
                where.append(Where(column, pattern=re.compile(str(cond["match"]))))
            except re.error as exc:
                doc.report(wpath, f"bad regular expression: {exc}")
        else:
            values = cond if isinstance(cond, list) else [cond]
            where.append(Where(column, frozenset(where_value(doc, wpath, v) for v in values)))
    return tuple(where)


def _hint(name: str, columns: Iterable[str]) -> str:
    return did_you_mean(name, sorted(columns))


def compile_table(
    doc: YamlSource, path: PathKey, name: str, spec: Mapping[str, Any], columns: Mapping[str, Oid]
) -> Table | None:
    """Compile one ``tables:`` entry (already merged with the parent profile's entry of the same name).

    Problems go to ``doc`` as ``file:line: message``; None when the table cannot be used.
    """
    if not NAME_RE.fullmatch(name):
        doc.report(path, f"bad table name {name!r}: letters, digits and _ (it names the measurement)")
        return None
    if not check_keys(doc, path, spec, _TABLE_KEYS, f"table {name}: "):
        return None
    measurement = spec.get("measurement", name)
    if not isinstance(measurement, str) or not NAME_RE.fullmatch(measurement):
        doc.report((*path, "measurement"), f"bad measurement name {measurement!r}")
        return None
    index = _compile_index(doc, (*path, "index"), spec.get("index"))
    if index is None:
        return None
    part_names = {p.name for p in index}
    tags = _compile_cells(doc, (*path, "tags"), spec.get("tags"), columns, part_names, tag=True)
    fields = _compile_cells(doc, (*path, "fields"), spec.get("fields"), columns, part_names, tag=False)
    if not fields:
        if not spec.get("fields"):  # else its fields' own problems were reported
            doc.report(path, f"table {name}: give at least one field (fields: {{name: {{column: ...}}}})")
        return None
    if not any(cell.column for _, cell in fields):
        doc.report((*path, "fields"), f"table {name}: at least one field must read a column (its rows)")
        return None
    for tag_name, _ in tags:
        if tag_name in {"index", "device", "agent_host", "site", "role"} or tag_name in dict(fields):
            doc.report((*path, "tags", tag_name), f"tag {tag_name!r} is taken (device tags, index, a field)")
    entity = spec.get("entity", tags[0][0] if tags else "index")
    if entity != "index" and entity not in dict(tags):
        doc.report((*path, "entity"), f"entity {entity!r}: name one of this table's tags or index")
    max_rows = spec.get("max_rows", DEFAULT_MAX_ROWS)
    if not _max_rows_ok(max_rows):
        max_rows = DEFAULT_MAX_ROWS  # reported by check_switches, in the file that gave it
    return Table(
        name=name,
        measurement=measurement,
        description=str(spec.get("description") or ""),
        file=doc.file,
        index=index,
        tags=tags,
        fields=fields,
        where=compile_where(doc, (*path, "where"), spec["where"], columns) if "where" in spec else (),
        entity=str(entity),
        max_rows=max_rows,
        enabled=spec.get("enabled", True) is not False,
        instead_of=str(spec.get("instead_of") or ""),
    )


def _max_rows_ok(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= MAX_ROWS_LIMIT


def check_switches(doc: YamlSource, path: PathKey, spec: Mapping[str, Any]) -> None:
    """``enabled`` and ``max_rows`` of one file's table entry, reported in that file.

    A profile may give only these for a table its parent declares (``{enabled: true}``): they are checked
    where they are written, not in the merged entry ``compile_table`` sees.
    """
    if "enabled" in spec and not isinstance(spec["enabled"], bool):
        doc.report((*path, "enabled"), "enabled must be true or false")
    if "max_rows" in spec and not _max_rows_ok(spec["max_rows"]):
        doc.report((*path, "max_rows"), f"max_rows must be a whole number from 1 to {MAX_ROWS_LIMIT}")


def _compile_index(doc: YamlSource, path: PathKey, spec: Any) -> tuple[IndexPart, ...] | None:
    if spec is None:
        return ()
    if not isinstance(spec, list):
        doc.report(
            path, f"index is a list of parts such as [{{peer: ipv4}}]; kinds: {', '.join(INDEX_KINDS)}"
        )
        return None
    parts: list[IndexPart] = []
    for i, entry in enumerate(spec):
        if not isinstance(entry, dict) or len(entry) != 1:
            doc.report((*path, i), "each index part is one {name: kind}, e.g. {peer: ipv4}")
            return None
        ((pname, kind),) = entry.items()
        if not isinstance(pname, str) or not NAME_RE.fullmatch(pname):
            doc.report((*path, i), f"bad index part name {pname!r}")
            return None
        if kind not in INDEX_KINDS:
            doc.report(
                (*path, i, pname),
                f"bad index kind {kind!r}{did_you_mean(str(kind), INDEX_KINDS)}; kinds: "
                + ", ".join(INDEX_KINDS),
            )
            return None
        if kind == "implied" and i != len(spec) - 1:
            doc.report((*path, i, pname), "an implied part takes the rest of the index: it must come last")
            return None
        parts.append(IndexPart(pname, str(kind)))
    return tuple(parts)


def _compile_cells(
    doc: YamlSource,
    path: PathKey,
    spec: Any,
    columns: Mapping[str, Oid],
    parts: set[str],
    *,
    tag: bool,
) -> tuple[tuple[str, Cell], ...]:
    if spec is None:
        return ()
    what = "tags" if tag else "fields"
    if not isinstance(spec, dict):
        doc.report(path, f"{what} maps names to a column name or {{column: ..., ...}}")
        return ()
    out: list[tuple[str, Cell]] = []
    for cname, cspec in spec.items():
        cpath = (*path, cname)
        if not isinstance(cname, str) or not NAME_RE.fullmatch(cname):
            doc.report(cpath, f"bad {what[:-1]} name {cname!r}: letters, digits and _")
            continue
        if isinstance(cspec, str):
            cspec = {"column": cspec}
        if not isinstance(cspec, dict):
            doc.report(
                cpath, f"{cname}: give a column name or a mapping such as {{column: ..., scale: 0.01}}"
            )
            continue
        cell = _compile_cell(doc, cpath, cspec, columns, parts, tag=tag)
        if cell is not None:
            out.append((cname, cell))
    return tuple(out)


def _compile_cell(
    doc: YamlSource,
    path: PathKey,
    spec: Mapping[str, Any],
    columns: Mapping[str, Oid],
    parts: set[str],
    *,
    tag: bool,
) -> Cell | None:
    if not check_keys(doc, path, spec, _TAG_KEYS if tag else _CELL_KEYS):
        return None
    sources = [k for k in ("column", "index", "template") if k in spec]
    if len(sources) != 1 or (not tag and sources[0] != "column" and spec.get("type", "text") != "text"):
        allowed = "column, index or template" if tag else "column (or index/template with type: text)"
        doc.report(path, f"give exactly one of {allowed}")
        return None
    names_ok = _check_names(doc, path, spec, columns, parts)
    enum = _compile_enum(doc, (*path, "enum"), spec["enum"]) if "enum" in spec else None
    fmt = spec.get("format", "text")
    if fmt not in FORMATS:
        doc.report((*path, "format"), f"bad format {fmt!r} (allowed: {', '.join(FORMATS)})")
    extract = None
    if "extract" in spec:
        try:
            extract = re.compile(str(spec["extract"]))
        except re.error as exc:
            doc.report((*path, "extract"), f"bad regular expression: {exc}")
    numbers = _numbers(doc, path, spec)
    if numbers is None or not names_ok:
        return None
    kind = _kind(
        doc, path, spec, text=bool(enum is not None or "format" in spec or extract or sources[0] != "column")
    )
    return Cell(
        column=str(spec.get("column", "")),
        index=str(spec.get("index", "")),
        template=str(spec.get("template", "")),
        kind=kind,
        enum=enum,
        format=str(fmt),
        extract=extract,
        where=compile_where(doc, (*path, "where"), spec["where"], columns) if "where" in spec else (),
        **numbers,
    )


def _check_names(
    doc: YamlSource, path: PathKey, spec: Mapping[str, Any], columns: Mapping[str, Oid], parts: set[str]
) -> bool:
    ok = True
    for key in ("column", "multiply", "divide", "sensor_scale", "sensor_precision"):
        if key in spec and spec[key] not in columns:
            doc.report(
                (*path, key),
                f"bad name {spec[key]!r}: not in this profile's columns{_hint(str(spec[key]), columns)}",
            )
            ok = False
    if "index" in spec and spec["index"] not in parts:
        doc.report(
            (*path, "index"),
            f"bad index part {spec['index']!r}: the table's index names {sorted(parts) or 'none'}",
        )
        ok = False
    if "template" in spec:
        try:
            str(spec["template"]).format_map(dict.fromkeys(parts, ""))
        except (KeyError, ValueError, IndexError) as exc:
            doc.report(
                (*path, "template"),
                f"bad template: {exc!s}; use {{part}} for the index parts {sorted(parts)}",
            )
            ok = False
    return ok


def _numbers(doc: YamlSource, path: PathKey, spec: Mapping[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for key in ("scale", "offset"):
        if key in spec:
            value = spec[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                doc.report((*path, key), f"{key} must be a number")
                return None
            out[key] = float(value)
    if "precision" in spec:
        if isinstance(spec["precision"], bool) or spec["precision"] not in range(-8, 10):
            doc.report(
                (*path, "precision"), "precision is the number of decimals, a whole number from -8 to 9"
            )
            return None
        out["precision"] = spec["precision"]
    if "rate" in spec:
        if spec["rate"] not in (32, 64) or isinstance(spec["rate"], bool):
            doc.report((*path, "rate"), "rate gives the counter's width: 32 (Counter32) or 64 (Counter64)")
            return None
        out["rate"] = spec["rate"]
    for key in ("multiply", "divide", "sensor_scale", "sensor_precision"):
        if key in spec:
            out[key] = str(spec[key])
    return out


def _kind(doc: YamlSource, path: PathKey, spec: Mapping[str, Any], *, text: bool) -> Kind:
    transformed = any(
        k in spec for k in ("rate", "scale", "offset", "precision", "multiply", "divide", "sensor_scale")
    )
    default: Kind = "text" if text else "float" if transformed else "int"
    kind = spec.get("type", default)
    if kind not in KINDS:
        doc.report((*path, "type"), f"bad type {kind!r} (allowed: {', '.join(KINDS)})")
        return default
    if text and kind != "text":
        doc.report((*path, "type"), "enum, format, extract, index and template give text: type text")
        return "text"
    return kind  # type: ignore[no-any-return]


def _compile_enum(doc: YamlSource, path: PathKey, spec: Any) -> dict[int | str | Oid, str] | None:
    if not isinstance(spec, dict) or not spec:
        doc.report(path, "enum maps values to names, e.g. {1: up, 2: down}")
        return None
    out: dict[int | str | Oid, str] = {}
    for key, name in spec.items():
        if isinstance(key, str) and OID_RE.match(key):
            out[parse_oid(key)] = str(name)
        elif isinstance(key, int) and not isinstance(key, bool):
            out[key] = str(name)
        else:
            doc.report((*path, key), f"bad enum value {key!r}: an integer or a dotted OID")
    return out
