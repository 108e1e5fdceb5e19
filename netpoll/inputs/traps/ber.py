"""A small, strict BER decoder for SNMP v1/v2c notifications: the fast path in front of pysnmp.

It reads SNMPv1 Trap-PDUs and SNMPv2c SNMPv2-Trap and InformRequest PDUs (community messages) in the encoding
agents send (definite, minimal lengths; minimal integers; primitive strings; values within their SNMP
ranges) straight to netpoll's primitive values, about fifty times faster than pysnmp and pyasn1. What it
accepts is a subset of what pysnmp accepts, decoded to the same values
(``tests/unit/inputs/traps/test_ber.py`` decodes every datagram both ways and compares). Two errors, and
nothing else, leave it:

- ``Unsupported``: something this decoder does not read but pysnmp may (SNMPv3, other PDUs, non-minimal or
  indefinite lengths, constructed strings, values outside their SNMP range, OIDs beyond 128 arcs or with
  arcs above 2^32-1, trailing bytes, ...). The caller decodes the datagram with pysnmp, so what is accepted
  or refused never changes.
- ``Malformed``: an SNMP v1/v2c message that no decoder can read: not a SEQUENCE, or a length that runs past
  the bytes that hold it (truncated, or a claimed length larger than the datagram, however many length
  octets claim it). Refused here.

Hostile input (any device or attacker can send a datagram): every length is checked against the bytes around
it before anything is sliced; integers are read only up to 9 bytes, OIDs only up to 128 arcs of at most 5
bytes each; the structure has a fixed depth, so nothing recurses.
"""

from __future__ import annotations

from dataclasses import dataclass
from socket import inet_ntoa

from netpoll.inputs.snmp.types import Oid, SnmpValue

# BER tags (X.690) and SNMP's application and context tags (RFC 1155, RFC 2578, RFC 3416).
_INTEGER, _OCTETS, _NULL, _OID, _SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
_IPADDRESS, _COUNTER32, _GAUGE32, _TIMETICKS, _OPAQUE, _COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
_NO_SUCH_OBJECT, _NO_SUCH_INSTANCE, _END_OF_MIB_VIEW = 0x80, 0x81, 0x82
V1_TRAP, RESPONSE, INFORM, V2_TRAP = 0xA4, 0xA2, 0xA6, 0xA7
VERSION_1, VERSION_2C = 0, 1

_INT32 = (-(2**31), 2**31 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)
_MAX_INTEGER_BYTES = 9  # a Counter64 with its sign octet
_MAX_ARCS = 128  # RFC 2578 7.1.3
_MAX_ARC = 2**32 - 1
_MAX_ARC_BYTES = 5  # 7 bits each: 32 bits fit in 5
_MAX_OID_BYTES = _MAX_ARCS * _MAX_ARC_BYTES
# The same few OIDs come in every notification (sysUpTime.0, snmpTrapOID.0, the trap's, ifIndex.N): decoded
# once, by their encoding. Bounded: a sender making up new OIDs only empties it now and then.
_OID_CACHE_SIZE = 4096
_oids: dict[bytes, Oid] = {}
# The exact bytes of the version INTEGER (minimal encoding) that this decoder reads.
_VERSIONS = {b"\x02\x01\x00": VERSION_1, b"\x02\x01\x01": VERSION_2C}
_ZERO = b"\x02\x01\x00"  # error-status and error-index of a notification
# pysnmp's encoder (pyasn1) writes -2^(8k-1) one byte longer than needed (-128 as ff 80): an inform carrying
# one of these is left to pysnmp, so its Response stays byte for byte what pysnmp sends.
_REENCODED_LONGER = frozenset({-(2**7), -(2**15), -(2**23), -(2**31)})


class BerError(Exception):
    """The fast path did not decode the datagram (see ``Unsupported`` and ``Malformed``)."""


class Unsupported(BerError):
    """Not what this decoder reads, though it may be valid: decode it with pysnmp instead."""


class Malformed(BerError):
    """Not decodable by any BER decoder (not a SEQUENCE, or a length past the end of its container)."""


@dataclass(frozen=True, slots=True)
class V1Trap:
    """The fields of an SNMPv1 Trap-PDU before its variable bindings (RFC 1157)."""

    enterprise: Oid
    agent_addr: str
    generic: int
    specific: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class InformRequest:
    """What the Response to a v2c InformRequest repeats (RFC 3416 4.2.7).

    ``varbind_list`` is the VarBindList TLV as received, which is its own re-encoding: the decoder took only
    canonical encodings.
    """

    community: bytes
    request_id: int
    varbind_list: bytes

    def response(self) -> bytes:
        """The Response-PDU message: same community, request-id and variable bindings, no error."""
        request_id = self.request_id.to_bytes((self.request_id.bit_length() + 8) // 8, "big", signed=True)
        pdu = tlv(_INTEGER, request_id) + _ZERO + _ZERO + self.varbind_list
        return tlv(_SEQUENCE, b"\x02\x01\x01" + tlv(_OCTETS, self.community) + tlv(RESPONSE, pdu))


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded v1/v2c notification message.

    Attributes:
        version: ``VERSION_1`` (0) or ``VERSION_2C`` (1), as on the wire.
        community: the community (a secret).
        pdu: the PDU tag: ``V1_TRAP``, ``V2_TRAP`` or ``INFORM``.
        varbinds: the variable bindings in order, values as ``netpoll.inputs.snmp.types.SnmpValue`` (None for
            NULL, noSuchObject, noSuchInstance, endOfMibView).
        trap: the Trap-PDU fields of an SNMPv1 trap; None for v2c.
        inform: what an InformRequest's Response needs; None otherwise.
    """

    version: int
    community: bytes
    pdu: int
    varbinds: list[tuple[Oid, SnmpValue | None]]
    trap: V1Trap | None = None
    inform: InformRequest | None = None


def decode_message(datagram: bytes) -> Message:
    """Decode one SNMP v1/v2c trap or inform.

    Raises:
        Unsupported: not read here (decode it with pysnmp).
        Malformed: not an SNMP message any decoder can read.
    """
    end = len(datagram)
    if end < 2 or datagram[0] != _SEQUENCE:
        raise Malformed("not an SNMP message")
    # The version before the outer length is checked: pysnmp tells an SNMPv3 message by its version even when
    # the rest is cut short, and so must the caller.
    if datagram[1] < 0x80:
        start, stop = 2, 2 + datagram[1]
    else:
        start, stop = _long_length(datagram, 1, end)
    version = _VERSIONS.get(datagram[start : start + 3])
    if version is None:
        raise Unsupported("not SNMPv1 or SNMPv2c")
    if stop > end:
        raise Malformed("truncated")
    if stop != end:
        raise Unsupported("bytes after the message")
    tag, cstart, cstop = _header(datagram, start + 3, stop)
    if tag != _OCTETS:
        raise Unsupported("community is no primitive OCTET STRING")
    community = datagram[cstart:cstop]
    tag, pstart, pstop = _header(datagram, cstop, stop)
    if pstop != stop:
        raise Unsupported("bytes after the PDU")
    if version == VERSION_1 and tag == V1_TRAP:
        return _v1_trap(datagram, community, pstart, pstop)
    if version == VERSION_2C and tag in (V2_TRAP, INFORM):
        return _v2_notification(datagram, community, tag, pstart, pstop)
    raise Unsupported("not a trap or inform PDU")


def _v1_trap(data: bytes, community: bytes, start: int, stop: int) -> Message:
    tag, ostart, ostop = _header(data, start, stop)
    if tag != _OID:
        raise Unsupported("enterprise is no OID")
    enterprise = _oid(data, ostart, ostop)
    tag, astart, astop = _header(data, ostop, stop)
    if tag != _IPADDRESS or astop - astart != 4:
        raise Unsupported("agent-addr is no IpAddress")
    agent_addr = inet_ntoa(data[astart:astop])
    generic, pos = _integer_at(data, astop, stop, _INTEGER, 0, 6)
    specific, pos = _integer_at(data, pos, stop, _INTEGER, *_UINT32)
    timestamp, pos = _integer_at(data, pos, stop, _TIMETICKS, *_UINT32)
    varbinds = _varbind_list(data, pos, stop, VERSION_1)
    trap = V1Trap(enterprise, agent_addr, generic, specific, timestamp)
    return Message(VERSION_1, community, V1_TRAP, varbinds, trap)


def _v2_notification(data: bytes, community: bytes, pdu: int, start: int, stop: int) -> Message:
    request_id, pos = _integer_at(data, start, stop, _INTEGER, *_INT32)
    # error-status and error-index are 0 in every notification; pysnmp reads the others as they are.
    if data[pos : pos + 6] != _ZERO + _ZERO:
        raise Unsupported("error-status or error-index")
    list_start = pos + 6
    varbinds = _varbind_list(data, list_start, stop, VERSION_2C)
    if pdu != INFORM:
        return Message(VERSION_2C, community, pdu, varbinds)
    if request_id in _REENCODED_LONGER or any(value in _REENCODED_LONGER for _, value in varbinds):
        raise Unsupported("an inform whose Response pysnmp encodes differently")
    inform = InformRequest(community, request_id, data[list_start:stop])
    return Message(VERSION_2C, community, pdu, varbinds, None, inform)


def _varbind_list(data: bytes, at: int, stop: int, version: int) -> list[tuple[Oid, SnmpValue | None]]:
    """The VarBindList TLV at ``at``, which must end at ``stop``."""
    tag, pos, list_stop = _header(data, at, stop)
    if tag != _SEQUENCE or list_stop != stop:
        raise Unsupported("variable-bindings")
    varbinds: list[tuple[Oid, SnmpValue | None]] = []
    append = varbinds.append
    while pos < stop:
        tag, bind_start, bind_stop = _header(data, pos, stop)
        if tag != _SEQUENCE:
            raise Unsupported("VarBind is no SEQUENCE")
        tag, name_start, name_stop = _header(data, bind_start, bind_stop)
        if tag != _OID:
            raise Unsupported("VarBind name is no OID")
        name = _oid(data, name_start, name_stop)
        tag, value_start, value_stop = _header(data, name_stop, bind_stop)
        if value_stop != bind_stop:
            raise Unsupported("VarBind has more than a name and a value")
        append((name, _value(data, tag, value_start, value_stop, version)))
        pos = bind_stop
    return varbinds


def _value(data: bytes, tag: int, start: int, stop: int, version: int) -> SnmpValue | None:
    """A VarBind value (RFC 2578 ObjectSyntax; RFC 1155 for SNMPv1) as netpoll's primitive."""
    if tag == _INTEGER:
        return _integer(data, start, stop, *_INT32)
    if tag in (_OCTETS, _OPAQUE):
        return data[start:stop]
    if tag == _OID:
        return _oid(data, start, stop)
    if tag in (_COUNTER32, _GAUGE32, _TIMETICKS):
        return _integer(data, start, stop, *_UINT32)
    if tag == _IPADDRESS and stop - start == 4:
        return inet_ntoa(data[start:stop])
    if start == stop and (
        tag == _NULL or (version == VERSION_2C and _NO_SUCH_OBJECT <= tag <= _END_OF_MIB_VIEW)
    ):
        return None
    if tag == _COUNTER64 and version == VERSION_2C:
        return _integer(data, start, stop, *_UINT64)
    raise Unsupported(f"value tag 0x{tag:02x}")


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``, which must end by ``end``."""
    if pos + 2 > end:
        raise Malformed("truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise Unsupported("high tag number")
    length = data[pos + 1]
    if length < 0x80:
        start, stop = pos + 2, pos + 2 + length
    else:
        start, stop = _long_length(data, pos + 1, end)
    if stop > end:
        raise Malformed("truncated")
    return tag, start, stop


def _long_length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(content start, content end) from the long-form length octets at ``pos`` (the end is not checked)."""
    count = data[pos] & 0x7F
    if count == 0:
        raise Unsupported("indefinite length")
    if pos + 1 + count > end:
        raise Malformed("truncated")
    length = int.from_bytes(data[pos + 1 : pos + 1 + count], "big")
    # Minimal: at least 128, in no more octets than it needs. A minimal length of 3 octets or more
    # (65,536 and up) is larger than any datagram: the caller's end check refuses it.
    if length < 0x80 or length < 1 << (8 * (count - 1)):
        raise Unsupported("non-minimal length")
    return pos + 1 + count, pos + 1 + count + length


def _integer_at(data: bytes, pos: int, stop: int, expect: int, low: int, high: int) -> tuple[int, int]:
    """The integer TLV with tag ``expect`` at ``pos`` (within ``low``..``high``), and where it ends."""
    tag, start, end = _header(data, pos, stop)
    if tag != expect:
        raise Unsupported(f"expected tag 0x{expect:02x}")
    return _integer(data, start, end, low, high), end


def _integer(data: bytes, start: int, stop: int, low: int, high: int) -> int:
    """A minimal two's-complement integer within ``low``..``high`` (read only up to 9 bytes)."""
    size = stop - start
    if size == 0 or size > _MAX_INTEGER_BYTES:
        raise Unsupported("integer size")
    if size > 1:
        first, second = data[start], data[start + 1]
        if (first == 0 and second < 0x80) or (first == 0xFF and second >= 0x80):
            raise Unsupported("non-minimal integer")
    value = int.from_bytes(data[start:stop], "big", signed=True)
    if value < low or value > high:
        raise Unsupported("integer out of range")
    return value


def _oid(data: bytes, start: int, stop: int) -> Oid:
    """An OBJECT IDENTIFIER's content as an int tuple (at most 128 arcs, each below 2^32)."""
    if start == stop or stop - start > _MAX_OID_BYTES:
        raise Unsupported("OID size")
    raw = data[start:stop]
    oid = _oids.get(raw)
    if oid is None:
        oid = _oid_arcs(raw)
        if len(_oids) >= _OID_CACHE_SIZE:
            _oids.clear()
        _oids[raw] = oid
    return oid


def _oid_arcs(raw: bytes) -> Oid:
    if max(raw) < 0x80:  # every subidentifier one byte: the common case
        if len(raw) >= _MAX_ARCS:
            raise Unsupported("OID over 128 arcs")
        return (*_split_first(raw[0]), *raw[1:])
    arcs = _subidentifiers(raw)
    if len(arcs) >= _MAX_ARCS:
        raise Unsupported("OID over 128 arcs")
    head = _split_first(arcs[0])
    rest = arcs[1:]
    if head[1] > _MAX_ARC or (rest and max(rest) > _MAX_ARC):
        raise Unsupported("OID arc over 2^32-1")
    return (*head, *rest)


def _split_first(value: int) -> tuple[int, int]:
    """The first two arcs from the first subidentifier (X.690 8.19.4)."""
    if value < 40:
        return 0, value
    if value < 80:
        return 1, value - 40
    return 2, value - 80


def _subidentifiers(raw: bytes) -> list[int]:
    """Base-128 subidentifiers, each minimal and at most 5 bytes."""
    arcs: list[int] = []
    value = size = 0
    for byte in raw:
        if size == 0 and byte == 0x80:
            raise Unsupported("non-minimal OID subidentifier")
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            arcs.append(value)
            value = size = 0
            continue
        size += 1
        if size == _MAX_ARC_BYTES:
            raise Unsupported("OID subidentifier over 5 bytes")
    if size:
        raise Unsupported("OID ends inside a subidentifier")
    return arcs


def tlv(tag: int, content: bytes) -> bytes:
    """One definite-length TLV with minimal length octets (as pysnmp's encoder writes them)."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + content
