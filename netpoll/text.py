r"""One rule for device strings (names, ifName, ifAlias, sysDescr, ...) wherever they leave netpoll.

A device string is the device's to choose: it may hold control characters (an ESC starts a terminal escape
sequence), Unicode non-characters, bidirectional overrides, lone surrogates (bytes that were not UTF-8) or
be 22 KB long. The same characters are unsafe in every output; each output has its own way to write them:

- logs and terminals (``for_terminal``): escaped as ``\xNN`` / ``\uNNNN``, cut to a length;
- JSON (``json_text``): the same characters as ``\uNNNN`` escapes, so the JSON is exact and still safe to
  print;
- MQTT topic levels and line protocol use ``UNSAFE`` in ``netpoll.outputs.mqtt.topics`` and
  ``netpoll.sample``.
"""

from __future__ import annotations

import hashlib
import re

# C0 and C1 controls and DEL; bidirectional marks, embeddings, overrides and isolates (they reorder what a
# terminal shows: "Trojan Source"); line and paragraph separators; the BOM; lone surrogates; and the
# 66 Unicode non-characters (U+FDD0..U+FDEF, and the last two code points of each of the 17 planes).
_NONCHARACTERS = "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(17))
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff\ufdd0-\ufdef" + _NONCHARACTERS + "]"
)

# Longest device string shown in a log line or a terminal cell; the rest is counted, not shown.
TERMINAL_MAX = 200


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a code point beyond the BMP as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def for_terminal(text: str, limit: int = TERMINAL_MAX) -> str:
    r"""``text`` with unsafe characters escaped (``\x1b``, ``\u202e``) and cut to ``limit`` characters."""
    if len(text) > limit:
        text = f"{text[:limit]}…(+{len(text) - limit} chars)"
    return UNSAFE.sub(_escape, text)


def json_text(dumped: str) -> str:
    r"""JSON text (from ``json.dumps(..., ensure_ascii=False)``) with unsafe characters as ``\uNNNN`` escapes.

    ``json.dumps`` already escapes C0 controls; this adds the rest (C1, bidi controls, lone surrogates,
    non-characters), which it would write raw. The decoded values are unchanged.
    """
    return UNSAFE.sub(_json_escape, dumped)


def cut(text: str, max_bytes: int) -> str:
    """``text`` if its UTF-8 form fits ``max_bytes``; else its start, ``~`` and 16 hex digits of its hash.

    Distinct long strings stay distinct (the hash is BLAKE2b-64 of the whole string), and the result fits.
    """
    if len(text) * 4 <= max_bytes:
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    digest = hashlib.blake2b(data, digest_size=8).hexdigest()
    return data[: max_bytes - 17].decode("utf-8", "ignore") + "~" + digest
