"""MQTT topic names for alerts, events (SNMP traps) and daemon status, with each level escaped.

A device, rule or interface name is one topic level. Names such as ``Gi0/1`` or ``core#2`` would
otherwise split a level (``/``) or be illegal in a published topic (``+``, ``#``, NUL), and a level
starting with ``$`` would make a topic the broker treats as a system topic. Each level is therefore
percent-encoded (like a URL path segment), only for these characters:

==========  ==========  ==================================================
character   becomes     why
==========  ==========  ==================================================
``%``       ``%25``     the escape character itself, so decoding is exact
``/``       ``%2F``     level separator
``+``       ``%2B``     single-level wildcard (illegal in a published topic)
``#``       ``%23``     multi-level wildcard (illegal in a published topic)
NUL         ``%00``     forbidden in MQTT strings
``$``       ``%24``     only as the first character of a level
(empty)     ``%``       an empty level (none of netpoll's own names is empty)
unsafe      ``%XX``...  ``netpoll.text.UNSAFE``: C0/C1 controls (the broker refuses U+0001 as a
                        malformed packet), non-characters (U+FFFE), bidi controls, lone surrogates:
                        their UTF-8 bytes; a lone surrogate from undecodable bytes (``surrogateescape``)
                        the original byte
==========  ==========  ==================================================

``unescape_level`` (``urllib.parse.unquote`` with ``surrogateescape``) decodes a level back to the name.

A level is at most ``LEVEL_MAX`` bytes (MQTT caps a whole topic at 65,535, and paho refuses longer ones): a
longer escaped name is cut to ``LEVEL_MAX - 19`` bytes, and ``%7E`` plus 16 hex digits of a BLAKE2b hash of
the name are appended, so distinct long names stay distinct topics (decoded, such a level reads
``<start>~<hash>``; the alert payload carries the full name).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

from netpoll.text import UNSAFE

_ESCAPES = str.maketrans({"%": "%25", "/": "%2F", "+": "%2B", "#": "%23"})
_TO_ESCAPE = re.compile(f"{UNSAFE.pattern[:-1]}%/+#]")
LEVEL_MAX = 256


def _percent(match: re.Match[str]) -> str:
    char = match.group()
    try:
        data = char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that did not come from an undecodable byte
        data = char.encode("utf-8", "surrogatepass")
    return "".join(f"%{byte:02X}" for byte in data)


def escape_level(name: str) -> str:
    """Escape one topic level (see the module docstring for the table)."""
    if name == "":
        return "%"
    escaped = _TO_ESCAPE.sub(_percent, name)
    if escaped.startswith("$"):
        escaped = "%24" + escaped[1:]
    if len(escaped) > LEVEL_MAX // 4 and len(escaped.encode()) > LEVEL_MAX:
        digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
        keep = escaped.encode()[: LEVEL_MAX - 19].decode("utf-8", "ignore")
        keep = re.sub(r"%[0-9A-F]?$", "", keep)  # never cut inside a %XX escape
        escaped = f"{keep}%7E{digest}"
    return escaped


def unescape_level(level: str) -> str:
    """Inverse of :func:`escape_level` (a cut level gives its start, ``~`` and the hash)."""
    return "" if level == "%" else unquote(level, errors="surrogateescape")


def _prefix(prefix: str) -> str:
    # The prefix is the operator's own choice and may have several levels (``site1/netpoll``): kept as is,
    # only trailing slashes are dropped so that the join never makes an empty level.
    return prefix.rstrip("/")


def alert_topic(prefix: str, device: str, rule: str, entity: str = "") -> str:
    """``<prefix>/alerts/<device>/<rule>[/<entity>]``, every name level escaped."""
    topic = f"{_prefix(prefix)}/alerts/{escape_level(device)}/{escape_level(rule)}"
    if entity:
        topic += f"/{escape_level(entity)}"
    return topic


def event_topic(prefix: str, device: str, name: str) -> str:
    """``<prefix>/events/<device>/<name>`` (an SNMP trap: its name), every name level escaped."""
    return f"{_prefix(prefix)}/events/{escape_level(device)}/{escape_level(name)}"


def status_topic(prefix: str, instance: str) -> str:
    """``<prefix>/status/<instance>``: retained ``online``, last will ``offline``."""
    return f"{_prefix(prefix)}/status/{escape_level(instance)}"
