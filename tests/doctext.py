"""Reading what the documentation states, so tests can hold it against the code.

The docs mark what a test reads with HTML comments, invisible when rendered:
``<!-- quickstart: NAME -->`` before a fenced block, and ``<!-- KIND: NAME -->`` ... ``<!-- /KIND -->`` around
a table (``options: poll``, ``config: mqtt``, ``measurement: ping``).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

_CODE = re.compile(r"`([^`]*)`")


def read(relative: str) -> str:
    """The text of a file of the repository, by its path from the root."""
    return (ROOT / relative).read_text(encoding="utf-8")


def marked_blocks(text: str, kind: str) -> dict[str, str]:
    """``NAME`` → the body of the first fenced code block after each ``<!-- KIND: NAME ... -->`` marker."""
    blocks: dict[str, str] = {}
    for match in re.finditer(rf"<!-- {kind}: (\S+)[^>]*-->\s*```[a-z]*\n(.*?)^```", text, re.S | re.M):
        blocks[match.group(1)] = match.group(2)
    return blocks


def marked_table(text: str, kind: str, name: str) -> list[dict[str, str]]:
    """The rows of the table between ``<!-- KIND: NAME -->`` and ``<!-- /KIND -->``, as header → cell text."""
    match = re.search(rf"<!-- {kind}: {re.escape(name)} -->\n(.*?)<!-- /{kind} -->", text, re.S)
    if match is None:
        raise AssertionError(f"no table marked <!-- {kind}: {name} -->")
    lines = [line for line in match.group(1).splitlines() if line.startswith("|")]
    header = _cells(lines[0])
    return [dict(zip(header, _cells(line), strict=True)) for line in lines[2:]]


def _cells(line: str) -> list[str]:
    # A `\|` inside a cell is a literal bar, not a column break.
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [part.strip().replace("\\|", "|") for part in parts]


def code_spans(cell: str) -> list[str]:
    """The `code` spans of a table cell, in order."""
    return _CODE.findall(cell)


def documented_defaults(rows: list[dict[str, str]]) -> dict[str, object]:
    """``key`` → the default a config table states: its ``default`` cell's first code span, read as YAML.

    A default given in words (``(required)``, ``the host name``) has no code span and is left out.
    """
    defaults: dict[str, object] = {}
    for row in rows:
        key = code_spans(row["key"])[0]
        spans = code_spans(row["default"])
        if spans:
            defaults[key] = yaml.safe_load(spans[0])
    return defaults
