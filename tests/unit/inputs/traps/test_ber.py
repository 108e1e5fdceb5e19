"""The BER fast path against pysnmp: the same datagrams decoded both ways, field by field.

Datagrams: pysnmp's own encoder (every value type at its edges, v1 generic-trap 0-6, traps and informs),
net-snmp 5.9.3 captures (``datagrams.py``), hand-made unusual-but-valid encodings (which must fall back to
pysnmp), and hostile ones (truncated at every offset, every byte replaced, wrong and huge lengths, deep
nesting, 10,000-arc OIDs, 200-byte integers): the fast path raises only its own errors, and ``decode`` ends
where pysnmp alone does.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from pyasn1.codec.ber import encoder
from pysnmp.proto.api import v1, v2c

from netpoll.inputs.traps import ber
from netpoll.inputs.traps.ber import tlv
from netpoll.inputs.traps.decode import (
    NotNotification,
    SnmpV3Message,
    decode,
    decode_pysnmp,
    inform_response,
)
from tests.unit.inputs.traps import datagrams

UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
ENTERPRISE = (1, 3, 6, 1, 4, 1, 8072, 2, 3)
X = (1, 3, 6, 1, 4, 1, 8072, 9)  # where the test values live


def v2_message(
    varbinds: list[tuple[Any, Any]],
    *,
    inform: bool = False,
    request_id: int = 7,
    community: bytes = b"public",
    head: bool = True,
) -> bytes:
    """An SNMPv2c trap (or inform) encoded by pysnmp; ``head``: sysUpTime.0 and snmpTrapOID.0 first."""
    pdu = v2c.InformRequestPDU() if inform else v2c.SNMPv2TrapPDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    first = [(UPTIME, v2c.TimeTicks(12345)), (TRAP_OID, v2c.ObjectIdentifier(LINK_DOWN))] if head else []
    v2c.apiPDU.set_varbinds(pdu, first + varbinds)
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, community)
    v2c.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def v1_message(
    varbinds: list[tuple[Any, Any]],
    *,
    generic: int = 6,
    specific: int = 17,
    enterprise: tuple[int, ...] = ENTERPRISE,
    agent: str = "192.0.2.9",
    stamp: int = 777,
) -> bytes:
    """An SNMPv1 Trap-PDU encoded by pysnmp."""
    pdu = v1.TrapPDU()
    v1.apiTrapPDU.set_defaults(pdu)
    v1.apiTrapPDU.set_enterprise(pdu, enterprise)
    v1.apiTrapPDU.set_agent_address(pdu, agent)
    v1.apiTrapPDU.set_generic_trap(pdu, generic)
    v1.apiTrapPDU.set_specific_trap(pdu, specific)
    v1.apiTrapPDU.set_timestamp(pdu, stamp)
    v1.apiTrapPDU.set_varbinds(pdu, varbinds)
    message = v1.Message()
    v1.apiMessage.set_defaults(message)
    v1.apiMessage.set_community(message, "public")
    v1.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


V2_VALUES: dict[str, Any] = {
    "integer-max": v2c.Integer32(2**31 - 1),
    "integer-0": v2c.Integer(0),
    "integer-127": v2c.Integer(127),
    "integer-128": v2c.Integer(128),
    "integer-minus-127": v2c.Integer(-127),
    "integer-minus-129": v2c.Integer(-129),
    "counter32-0": v2c.Counter32(0),
    "counter32-2^31": v2c.Counter32(2**31),
    "counter32-max": v2c.Counter32(2**32 - 1),
    "gauge32-max": v2c.Gauge32(2**32 - 1),
    "unsigned32": v2c.Unsigned32(65536),
    "timeticks-max": v2c.TimeTicks(2**32 - 1),
    "counter64-0": v2c.Counter64(0),
    "counter64-2^63": v2c.Counter64(2**63),
    "counter64-max": v2c.Counter64(2**64 - 1),
    "ipaddress-0": v2c.IpAddress("0.0.0.0"),
    "ipaddress-255": v2c.IpAddress("255.255.255.255"),
    "octets-empty": v2c.OctetString(b""),
    "octets-binary": v2c.OctetString(bytes(range(256))),
    "octets-127": v2c.OctetString(b"a" * 127),
    "octets-128": v2c.OctetString(b"a" * 128),
    "octets-1000": v2c.OctetString(b"\xff" * 1000),
    "opaque": v2c.Opaque(b"\x9f\x78\x04\x3f\xc0\x00\x00"),
    "bits": v2c.Bits(b"\x50"),
    "oid-two-arcs": v2c.ObjectIdentifier((1, 3)),
    "oid-joint-iso": v2c.ObjectIdentifier((2, 999, 3)),
    "oid-big-arcs": v2c.ObjectIdentifier((1, 3, 6, 1, 4, 1, 2**32 - 1, 128, 16384, 2**21)),
    "oid-128-arcs": v2c.ObjectIdentifier((1, 3, *range(126))),
    "null": v2c.Null(),
    "no-such-object": v2c.NoSuchObject(),
    "no-such-instance": v2c.NoSuchInstance(),
    "end-of-mib-view": v2c.EndOfMibView(),
}
V1_VALUES: dict[str, Any] = {
    "integer-min-plus-1": v1.Integer(-(2**31) + 1),
    "integer-max": v1.Integer(2**31 - 1),
    "counter-max": v1.Counter(2**32 - 1),
    "gauge-max": v1.Gauge(2**32 - 1),
    "timeticks": v1.TimeTicks(4711),
    "ipaddress": v1.IpAddress("198.51.100.7"),
    "octets": v1.OctetString(b"eth\x1b0"),
    "octets-300": v1.OctetString(b"x" * 300),
    "opaque": v1.Opaque(b"\x01\x02"),
    "oid": v1.ObjectIdentifier((1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 3)),
    "null": v1.Null(),
}


# sysUpTime.0 = 12345 and snmpTrapOID.0 = linkDown, as VarBinds.
_HEAD = bytes.fromhex("300e06082b06010201010300430230393017060a2b06010603010104010006092b0601060301010503")


def _v2(
    varbinds: bytes,
    *,
    pdu: int = 0xA7,
    version: bytes = b"\x02\x01\x01",
    error: bytes = b"\x02\x01\x00",
    community: bytes = b"\x04\x06public",
    request_id: bytes = b"\x02\x01\x07",
    after: bytes = b"",
) -> bytes:
    """A v2c notification from raw parts; sysUpTime.0 and snmpTrapOID.0 ahead of ``varbinds``."""
    body = request_id + error + b"\x02\x01\x00" + tlv(0x30, _HEAD + varbinds)
    return tlv(0x30, version + community + tlv(pdu, body)) + after


def _bind(value: bytes, name: bytes = b"\x06\x03\x2b\x06\x01") -> bytes:
    return tlv(0x30, name + value)


def _nested(tag: int, depth: int, core: bytes) -> bytes:
    for _ in range(depth):
        core = tlv(tag, core)
    return core


# Decoded by the fast path, and to the same notification as pysnmp's.
FAST: dict[str, bytes] = {
    "netsnmp-v1-link-down": datagrams.V1_LINK_DOWN,
    "netsnmp-v2c-link-up": datagrams.V2C_LINK_UP,
    "netsnmp-inform": datagrams.V2C_INFORM_COLD_START,
    "netsnmp-v1-types": datagrams.NETSNMP_V1_TYPES,
    "netsnmp-v2c-types": datagrams.NETSNMP_V2C_TYPES,
    "netsnmp-v2c-opaque": datagrams.NETSNMP_V2C_OPAQUE,
    "netsnmp-inform-long": datagrams.NETSNMP_INFORM_LONG,
    **{f"v2c-{name}": v2_message([((*X, 1, 0), value)]) for name, value in V2_VALUES.items()},
    **{f"inform-{name}": v2_message([((*X, 1, 0), value)], inform=True) for name, value in V2_VALUES.items()},
    **{f"v1-{name}": v1_message([((*X, 1, 0), value)]) for name, value in V1_VALUES.items()},
    **{f"v1-generic-{generic}": v1_message([], generic=generic) for generic in range(7)},
    "v1-specific-max": v1_message([], specific=2**32 - 1),
    "v1-enterprise-joint-iso": v1_message([], enterprise=(2, 5, 3)),
    "v1-agent-0": v1_message([], agent="0.0.0.0"),
    "v1-trap-address-varbind": v1_message([((1, 3, 6, 1, 6, 3, 18, 1, 3, 0), v1.IpAddress("10.1.1.1"))]),
    "v1-trap-oid-varbind": v1_message([(TRAP_OID, v1.ObjectIdentifier((1, 3, 6, 1, 9)))]),
    "v2c-all-values": v2_message([((*X, n, 0), value) for n, value in enumerate(V2_VALUES.values())]),
    "inform-all-values": v2_message([((*X, n, 0), v) for n, v in enumerate(V2_VALUES.values())], inform=True),
    "v2c-request-id-min-plus-1": v2_message([], request_id=-(2**31) + 1),
    "v2c-integer-minus-128-minimal": _v2(_bind(b"\x02\x01\x80")),
    "v2c-integer-min-minimal": _v2(_bind(b"\x02\x04\x80\x00\x00\x00")),
    "v2c-request-id-max": v2_message([], request_id=2**31 - 1),
    "inform-request-id-negative": v2_message([], request_id=-1, inform=True),
    "inform-community-300": v2_message([], community=b"c" * 300, inform=True),
    "v2c-community-empty": v2_message([], community=b""),
    "v2c-trap-address": v2_message([((1, 3, 6, 1, 6, 3, 18, 1, 3, 0), v2c.IpAddress("10.9.9.9"))]),
    "v2c-trap-community-dropped": v2_message([((1, 3, 6, 1, 6, 3, 18, 1, 4, 0), v2c.OctetString(b"secret"))]),
    "v2c-uptime-twice": v2_message([(UPTIME, v2c.TimeTicks(99))]),
    "v2c-trap-oid-not-an-oid": v2_message([(TRAP_OID, v2c.Integer(4))]),
    "v2c-name-128-arcs": v2_message([((1, 3, *range(126)), v2c.Integer(1))]),
    "v2c-no-varbinds": v2_message([], head=False),  # both refuse it: no snmpTrapOID.0
    "v2c-no-trap-oid": v2_message([(UPTIME, v2c.TimeTicks(1))], head=False),
}


# Valid, or at least not plainly broken, but not what the fast path reads: pysnmp decides.
FALLBACK: dict[str, bytes] = {
    "snmpv3": datagrams.V3_AUTH_PRIV_COLD_START,
    "get-request": _v2(b"", pdu=0xA0),
    "response": _v2(b"", pdu=0xA2),
    "v1-trap-in-v2c": _v2(b"", pdu=0xA4),
    "v2-trap-in-v1": _v2(b"", version=b"\x02\x01\x00"),
    "version-2": _v2(b"", version=b"\x02\x01\x02"),
    "version-non-minimal": _v2(b"", version=b"\x02\x02\x00\x01"),
    "error-status-5": _v2(b"", error=b"\x02\x01\x05"),
    "community-constructed": _v2(b"", community=tlv(0x24, b"\x04\x02pu\x04\x04blic")),
    "length-non-minimal": _v2(_bind(b"\x04\x81\x02ab")),
    "length-indefinite": b"\x30\x80" + _v2(b"")[2:] + b"\x00\x00",
    "length-3-octets": _v2(_bind(b"\x04\x83\x00\x00\x02ab")),
    "trailing-bytes": _v2(b"", after=b"\x00\x00"),
    "integer-non-minimal": _v2(_bind(b"\x02\x02\x00\x05")),
    "integer-empty": _v2(_bind(b"\x02\x00")),
    "integer-2^31": _v2(_bind(b"\x02\x05\x00\x80\x00\x00\x00")),
    "integer-200-bytes-zeros": _v2(_bind(b"\x02\x81\xc8" + bytes(199) + b"\x05")),
    "integer-200-bytes": _v2(_bind(b"\x02\x81\xc8" + b"\x01" * 200)),
    "counter32-negative": _v2(_bind(b"\x41\x01\xff")),
    "counter64-2^64": _v2(_bind(b"\x46\x09\x01" + bytes(8))),
    "ipaddress-3-bytes": _v2(_bind(b"\x40\x03\x01\x02\x03")),
    "null-with-content": _v2(_bind(b"\x05\x01\x00")),
    "unsigned32-app7": _v2(_bind(b"\x47\x01\x05")),
    "high-tag-number": _v2(_bind(b"\x5f\x81\x00\x00")),
    "oid-10000-arcs": _v2(_bind(b"\x02\x01\x01", name=tlv(0x06, b"\x2b" + b"\x82\x2c" * 10_000))),
    "oid-129-arcs": _v2(_bind(b"\x02\x01\x01", name=tlv(0x06, b"\x2b" + b"\x01" * 128))),
    "oid-arc-2^32": _v2(_bind(b"\x02\x01\x01", name=b"\x06\x06\x2b\x90\x80\x80\x80\x00")),
    "oid-padded": _v2(_bind(b"\x06\x03\x2b\x80\x01")),
    "oid-empty": _v2(_bind(b"\x06\x00")),
    "oid-unfinished": _v2(_bind(b"\x06\x02\x2b\x81")),
    "varbind-three-elements": _v2(_bind(b"\x02\x01\x01\x02\x01\x02")),
    "deep-sequences-as-value": _v2(_bind(_nested(0x30, 10_000, b"\x05\x00"))),
    "deep-strings-as-value": _v2(_bind(_nested(0x24, 10_000, b"\x04\x01a"))),
    "deep-indefinite": b"\x30\x80" * 10_000,
    # pyasn1 writes -2^(8k-1) one byte longer than minimal: its own encodings are not minimal ...
    "pysnmp-integer-min": v2_message([((*X, 1, 0), v2c.Integer32(-(2**31)))]),
    "pysnmp-integer-minus-128": v1_message([((*X, 1, 0), v1.Integer(-128))]),
    "pysnmp-request-id-min": v2_message([], request_id=-(2**31)),
    # ... and an inform with one is answered by pysnmp, whose Response would not echo the minimal encoding.
    "inform-integer-minus-128-minimal": _v2(_bind(b"\x02\x01\x80"), pdu=0xA6),
    "inform-request-id-minus-32768": _v2(b"", pdu=0xA6, request_id=b"\x02\x02\x80\x00"),
}
# Refused by the fast path as no decoder could read them (pysnmp refuses them too).
MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "one-byte": b"\x30",
    "not-a-sequence": b"\x00garbage",
    "outer-length-past-end": b"\x30\x50\x02\x01\x01",
    "outer-long-length-past-end": b"\x30\x82\xff\xff\x02\x01\x01\x04\x00",
    "community-past-end": tlv(0x30, b"\x02\x01\x01\x04\x7f\x00"),
    "value-past-varbind": _v2(_bind(b"\x04\x81\xffab")),
    "huge-length": b"\x30\x84\xff\xff\xff\xff\x02\x01\x01",
    "length-9-octets": _v2(_bind(b"\x04\x89" + b"\xff" * 9 + b"ab")),
    # Found by fuzzing: an agent-addr whose 8-octet length made pyasn1 raise OverflowError, which escaped.
    "length-8-octets-overflow": bytes.fromhex(
        "302a02010004067075626c6963a41d06092b06010401bf0802034088c0000209020103820111430203093000"
    ),
}


def outcome(decoder: Any, datagram: bytes) -> Any:
    """What a decoder made of a datagram, comparable across decoders (values with their types)."""
    try:
        note = decoder(datagram)
    except SnmpV3Message:
        return "snmpv3"
    except NotNotification:
        return "refused"
    varbinds = tuple((oid, type(value).__name__, value) for oid, value in note.varbinds)
    response = inform_response(note) if note.kind == "inform" else None
    return (note.version, note.community, note.kind, note.trap_oid, varbinds, note.agent_addr, note.uptime,
            response)  # fmt: skip


def fast(datagram: bytes) -> str:
    """The fast path's verdict; anything but its own errors escapes (and fails the test)."""
    try:
        ber.decode_message(datagram)
    except ber.Unsupported:
        return "unsupported"
    except ber.Malformed:
        return "malformed"
    return "decoded"


@pytest.mark.parametrize("datagram", FAST.values(), ids=FAST.keys())
def test_fast_path_decodes_as_pysnmp_does(datagram: bytes) -> None:
    assert fast(datagram) == "decoded"
    assert outcome(decode, datagram) == outcome(decode_pysnmp, datagram)


def test_the_table_covers_traps_informs_and_refusals() -> None:
    kinds = [outcome(decode, datagram) for datagram in FAST.values()]
    assert "refused" in kinds  # no snmpTrapOID.0: refused after decoding, as by pysnmp
    assert {kind[2] for kind in kinds if kind != "refused"} == {"trap", "inform"}
    assert {kind[0] for kind in kinds if kind != "refused"} == {"1", "2c"}


def test_v1_generic_traps_map_as_rfc_3584_says() -> None:
    for generic in range(6):
        note = decode(FAST[f"v1-generic-{generic}"])
        assert note.trap_oid == (1, 3, 6, 1, 6, 3, 1, 1, 5, generic + 1)
    note = decode(FAST["v1-generic-6"])
    assert note.trap_oid == (*ENTERPRISE, 0, 17)
    assert note.agent_addr == "192.0.2.9"
    assert note.uptime == 777
    assert note.varbinds[:2] == (((1, 3, 6, 1, 6, 3, 18, 1, 3, 0), "192.0.2.9"),
                                 ((1, 3, 6, 1, 6, 3, 1, 1, 4, 3, 0), ENTERPRISE))  # fmt: skip


def test_inform_response_is_byte_for_byte_pysnmps() -> None:
    informs = {name: datagram for name, datagram in FAST.items() if "inform" in name}
    assert len(informs) > 30
    for name, datagram in informs.items():
        note = decode(datagram)
        assert isinstance(note.request, ber.InformRequest)
        assert inform_response(note) == inform_response(decode_pysnmp(datagram)), name


@pytest.mark.parametrize("datagram", FALLBACK.values(), ids=FALLBACK.keys())
def test_unusual_encodings_fall_back_to_pysnmp(datagram: bytes) -> None:
    assert fast(datagram) == "unsupported"
    assert outcome(decode, datagram) == outcome(decode_pysnmp, datagram)


@pytest.mark.parametrize("datagram", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_is_refused_without_pysnmp(datagram: bytes) -> None:
    assert fast(datagram) == "malformed"
    assert outcome(decode, datagram) == outcome(decode_pysnmp, datagram) == "refused"


def test_pysnmp_alone_lets_no_exception_escape() -> None:
    with pytest.raises(NotNotification):
        decode_pysnmp(MALFORMED["length-8-octets-overflow"])


HOSTILE_SOURCES = {
    **{name: FAST[name] for name in ("netsnmp-v1-types", "netsnmp-v2c-types", "netsnmp-inform-long")},
    "snmpv3": datagrams.V3_SHA256_AES128_LINK_DOWN,
}


@pytest.mark.parametrize("datagram", HOSTILE_SOURCES.values(), ids=HOSTILE_SOURCES.keys())
def test_truncated_at_every_offset(datagram: bytes) -> None:
    for size in range(len(datagram)):
        cut = datagram[:size]
        assert fast(cut) != "decoded", size
        assert outcome(decode, cut) == outcome(decode_pysnmp, cut), size


@pytest.mark.parametrize(
    "datagram", [datagrams.V1_LINK_DOWN, datagrams.V2C_INFORM_COLD_START], ids=["v1", "inform"]
)
def test_every_byte_replaced(datagram: bytes) -> None:
    """Wrong lengths and tags everywhere: each byte set to values that mean something in BER."""
    for offset in range(len(datagram)):
        for byte in {0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF, datagram[offset] ^ 0x01}:
            mutant = datagram[:offset] + bytes((byte,)) + datagram[offset + 1 :]
            fast(mutant)
            assert outcome(decode, mutant) == outcome(decode_pysnmp, mutant), (offset, byte)


def test_random_mutations_agree_with_pysnmp() -> None:
    rng = random.Random(20261129)
    sources = list(FAST.values())[:40]
    for _ in range(400):
        mutant = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 3)):
            where = rng.randrange(len(mutant))
            action = rng.randrange(3)
            if action == 0:
                mutant[where] = rng.randrange(256)
            elif action == 1:
                del mutant[where]
            else:
                mutant.insert(where, rng.randrange(256))
        fast(bytes(mutant))
        assert outcome(decode, bytes(mutant)) == outcome(decode_pysnmp, bytes(mutant)), bytes(mutant).hex()
