"""docs/inventory.md's device table: the snmp.* and ping.* rows state the models' defaults and bounds."""

from __future__ import annotations

import re

import annotated_types
import pytest
from pydantic import BaseModel

from netpoll.inventory.models import PingSettings, SnmpSettings
from netpoll.inventory.schema import RawPing, RawSnmp
from tests.doctext import code_spans, documented_defaults, marked_table, read

EN_DASH = "\N{EN DASH}"  # as the table writes a range
ROWS = marked_table(read("docs/inventory.md"), "config", "device")
# Section → (the resolved model: defaults; the file's model: bounds).
SECTIONS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "snmp": (SnmpSettings, RawSnmp),
    "ping": (PingSettings, RawPing),
}


def rows_of(section: str) -> dict[str, dict[str, str]]:
    return {
        code_spans(row["key"])[0].split(".", 1)[1]: row
        for row in ROWS
        if code_spans(row["key"])[0].startswith(f"{section}.")
    }


def bounds(model: type[BaseModel], key: str) -> str | None:
    """The bounds of ``key`` as the table writes them: ``1``, en dash, ``65535``; None when unbounded."""
    low = high = ""
    for meta in model.model_fields[key].metadata:
        if isinstance(meta, annotated_types.Ge):
            low = f"{meta.ge:g}"
        elif isinstance(meta, annotated_types.Gt):
            low = f">{meta.gt:g}"
        elif isinstance(meta, annotated_types.Le):
            high = f"{meta.le:g}"
    return f"{low}{EN_DASH}{high}" if low or high else None


@pytest.mark.parametrize("section", SECTIONS)
def test_every_key_is_documented(section: str) -> None:
    assert set(rows_of(section)) == set(SECTIONS[section][1].model_fields)


@pytest.mark.parametrize("section", SECTIONS)
def test_defaults_are_the_models(section: str) -> None:
    resolved, _ = SECTIONS[section]
    rows = rows_of(section)
    stated = documented_defaults([{"key": f"`{k}`", "default": r["default"]} for k, r in rows.items()])
    expected = {
        k: f.default.model_dump(exclude_none=True) if isinstance(f.default, BaseModel) else f.default
        for k, f in resolved.model_fields.items()
        if not f.is_required()
    }
    assert stated == {"enabled": True, **expected}


@pytest.mark.parametrize("section", SECTIONS)
def test_bounds_are_the_models(section: str) -> None:
    _, raw = SECTIONS[section]
    for key, row in rows_of(section).items():
        stated = row["type"] if re.match(r">?\d", row["type"]) else None
        assert stated == bounds(raw, key), f"{section}.{key}"
