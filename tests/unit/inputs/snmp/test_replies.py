"""The BER pre-check and the request key read from a message header (``netpoll.inputs.snmp.replies``)."""

from __future__ import annotations

import pytest

from netpoll.inputs.snmp.replies import MAX_SOURCES, ReplyStats, message_key, well_formed
from tests.harness.standin import GETBULK, SEQUENCE, Request, enc_int, enc_str, response, tlv

REQUEST = Request(1, b"public", GETBULK, 0x1234567, 0, 10, [(1, 3, 6, 1)], ("127.0.0.1", 1))
GOOD = response(REQUEST, [((1, 3, 6, 1, 2, 1, 1, 5, 0), enc_str(b"r1"))])
HEADER = enc_int(987654) + enc_int(65507) + enc_str(b"\x04") + enc_int(3)
V3 = tlv(SEQUENCE, enc_int(3) + tlv(SEQUENCE, HEADER))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (GOOD, True),
        (b"", False),
        (b"\x30\x81", False),  # the 2-byte reply that panics gufo-snmp 0.13
        (b"\x30\x00", True),
        (b"\x30\x80\x00\x00", False),  # indefinite length: not SNMP
        (b"\x30\x85\x00\x00\x00\x00\x01", False),  # 5 length bytes
        (b"\x1f\x01\x00", False),  # high tag number
        (GOOD + b"\x00", False),  # a trailing byte is an incomplete element
        (b"\x30" * 40 + b"\x00" * 40, False),  # nesting beyond any SNMP message
    ],
)
def test_well_formed(data: bytes, expected: bool) -> None:
    assert well_formed(data) is expected


def test_every_truncation_is_refused() -> None:
    assert not any(well_formed(GOOD[:cut]) for cut in range(len(GOOD)))
    assert not any(message_key(GOOD[:cut]) for cut in range(len(GOOD)))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (GOOD, (1, 0x1234567)),
        (response(REQUEST, [], request_id=-5), (1, -5)),
        (V3, (3, 987654)),
        (b"\x30\x03\x02\x01\x01", None),  # no community
        (tlv(SEQUENCE, enc_int(1) + enc_str(b"c") + tlv(0x30, enc_int(1))), None),  # not a PDU tag
        (tlv(SEQUENCE, enc_int(1) + enc_str(b"c") + tlv(0xA2, enc_int(2**40))), None),  # id too long
        (b"\x04\x00", None),
    ],
)
def test_message_key(data: bytes, expected: tuple[int, int] | None) -> None:
    assert message_key(data) == expected


def test_dropped_sources_are_bounded() -> None:
    stats = ReplyStats()
    for i in range(MAX_SOURCES + 50):
        stats.note_dropped(f"127.0.{i // 256}.{i % 256}", "test")
    assert len(stats.dropped) == MAX_SOURCES + 1
    assert stats.dropped["other"] == 50
