"""What SNMP replies are trusted: a cheap BER pre-check, request binding keys, and the counters of refusals.

A polled device is not trusted. Its replies may be malformed (gufo-snmp 0.13 panics in its Rust decoder on
some truncated replies; pyo3 raises that as ``PanicException``, a ``BaseException``), may answer another
device's request, or may arrive unasked by the hundred. Both backends use this module:

- ``well_formed``: every BER element complete and inside its container. gufo runs it (before its own
  decoder) for a device that once sent an undecodable reply, so one device costs at most one panic.
- ``message_key``: the request-id (v1/v2c) or msgID (v3) of a datagram, read from its first few elements
  without decoding the rest; pysnmp's transport drops a reply whose key and source were not sent together.
- ``STATS``: decoder faults per backend and dropped datagrams per source address, counted, never logged per
  datagram (``note_dropped`` logs a source the first time only).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("netpoll.snmp.replies")

# Sources tracked by address before the rest are counted under "other": bounded memory under a flood from
# many (spoofed) addresses.
MAX_SOURCES = 256
_MAX_DEPTH = 16  # SNMP nests 6 levels deep (message, PDU, varbind list, varbind, value); more is hostile


def is_fatal(exc: BaseException) -> bool:
    """True for exceptions that must propagate (cancellation, Ctrl-C, exit), False for a decoder's failure."""
    return isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit))


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the element at ``pos``, or None if it does not fit in ``end``."""
    if pos + 2 > end:
        return None
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        # 0 is BER's indefinite form (not allowed in SNMP); more than 4 length bytes is never a datagram.
        if count == 0 or count > 4 or pos + count > end:
            return None
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > end or tag & 0x1F == 0x1F:  # high tag numbers: not used by SNMP
        return None
    return tag, pos, pos + length


def well_formed(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> bool:
    """True if ``data[start:end]`` is a run of complete BER elements, constructed ones checked inside too."""
    stop = len(data) if end is None else end
    pos = start
    while pos < stop:
        element = _header(data, pos, stop)
        if element is None:
            return False
        tag, inner, pos = element
        if tag & 0x20 and (depth >= _MAX_DEPTH or not well_formed(data, inner, pos, depth + 1)):
            return False
    return start < stop or depth > 0


def _integer(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    element = _header(data, pos, end)
    if element is None or element[0] != 0x02 or not 0 < element[2] - element[1] <= 5:
        return None
    return int.from_bytes(data[element[1] : element[2]], "big", signed=True), element[2]


def message_key(data: bytes) -> tuple[int, int] | None:
    """``(version, id)`` of an SNMP message: the PDU's request-id for v1/v2c, msgID for v3; None if malformed.

    Reads only the message header (at most 5 elements): a reply is bound to its request before pysnmp decodes
    it. For v3 the msgID is outside the encrypted part, and it is what pysnmp matches responses by.
    """
    end = len(data)
    message = _header(data, 0, end)
    if message is None or message[0] != 0x30:
        return None
    _, pos, end = message
    version = _integer(data, pos, end)
    if version is None:
        return None
    number, pos = version
    if number == 3:  # msgGlobalData SEQUENCE { msgID, ... }
        inner = _header(data, pos, end)
        if inner is None or inner[0] != 0x30:
            return None
        msg_id = _integer(data, inner[1], inner[2])
        return None if msg_id is None else (3, msg_id[0])
    community = _header(data, pos, end)
    if community is None or community[0] != 0x04:
        return None
    pdu = _header(data, community[2], end)
    if pdu is None or pdu[0] & 0xE0 != 0xA0:
        return None
    request_id = _integer(data, pdu[1], pdu[2])
    return None if request_id is None else (number, request_id[0])


@dataclass
class ReplyStats:
    """Counters of refused replies, process-wide (both backends, every client)."""

    decoder_faults: Counter[str] = field(default_factory=Counter)  # by backend
    dropped: Counter[str] = field(default_factory=Counter)  # by source address ("other" past MAX_SOURCES)
    refused_values: int = 0  # values outside their SNMP type (a negative counter, a Gauge32 beyond 2^32-1)

    def note_refused_value(self) -> None:
        """Count one value no SNMP type of its column allows (treated as absent, not as a number)."""
        self.refused_values += 1

    def note_fault(self, backend: str) -> None:
        """Count one reply a backend could not decode."""
        self.decoder_faults[backend] += 1

    def note_dropped(self, source: str, why: str) -> None:
        """Count one dropped datagram from ``source``; logged for the first datagram of each source only."""
        if source not in self.dropped and len(self.dropped) >= MAX_SOURCES:
            source = "other"
        if source not in self.dropped:
            log.warning(
                "SNMP: dropping %s from %s (counted per source on /metrics, not logged again)", why, source
            )
        self.dropped[source] += 1


STATS = ReplyStats()
