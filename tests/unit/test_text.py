"""Device strings made safe for logs, terminals and JSON (``netpoll.text``)."""

from __future__ import annotations

import json
import logging

import pytest

from netpoll.logging_setup import JsonFormatter, TextFormatter
from netpoll.text import cut, for_terminal, json_text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Gi0/1 é", "Gi0/1 é"),
        ("\x1b[2Jpwned", "\\x1b[2Jpwned"),
        ("a\nb\tc", "a\\x0ab\\x09c"),
        ("x\x9by", "x\\x9by"),
        ("abc\u202efed", "abc\\u202efed"),
        ("eth\ufffe0", "eth\\ufffe0"),
        ("\U0010ffff", "\\U0010ffff"),
        ("\udcff", "\\udcff"),
    ],
)
def test_for_terminal(text: str, shown: str) -> None:
    assert for_terminal(text) == shown


def test_for_terminal_cuts_long_names() -> None:
    assert for_terminal("/" * 22000, 10) == "/" * 10 + "…(+21990 chars)"


def test_json_text_is_exact_and_printable() -> None:
    value = {"name": "a\x9b\u202e\udcff\U0001fffe\x1b é"}
    text = json_text(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert text.isprintable()
    assert "é" in text


def test_cut() -> None:
    assert cut("short", 100) == "short"
    long = cut("é" * 1000, 100)
    assert len(long.encode()) <= 100
    assert long[-17] == "~"
    assert cut("é" * 1000, 100) != cut("é" * 1001, 100)


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_log_lines_carry_no_raw_escape_sequences(formatter: logging.Formatter) -> None:
    record = logging.LogRecord("netpoll.x", logging.WARNING, "f", 1, "ifAlias %s down", ("\x1b[2J\n",), None)
    record.device = "evil\x1b]0;title\x07\u202e"
    line = formatter.format(record)
    assert "\x1b" not in line
    assert "\x07" not in line
    assert "\n" not in line
    assert "\u202e" not in line
