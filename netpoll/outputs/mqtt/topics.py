"""MQTT topic names for alerts and daemon status, with each level escaped.

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
==========  ==========  ==================================================

``urllib.parse.unquote`` decodes a level back to the name.
"""

from __future__ import annotations

from urllib.parse import unquote

_ESCAPES = str.maketrans({"%": "%25", "/": "%2F", "+": "%2B", "#": "%23", "\x00": "%00"})


def escape_level(name: str) -> str:
    """Escape one topic level (see the module docstring for the table)."""
    if name == "":
        return "%"
    escaped = name.translate(_ESCAPES)
    if escaped.startswith("$"):
        escaped = "%24" + escaped[1:]
    return escaped


def unescape_level(level: str) -> str:
    """Inverse of :func:`escape_level`."""
    return "" if level == "%" else unquote(level)


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


def status_topic(prefix: str, instance: str) -> str:
    """``<prefix>/status/<instance>``: retained ``online``, last will ``offline``."""
    return f"{_prefix(prefix)}/status/{escape_level(instance)}"
