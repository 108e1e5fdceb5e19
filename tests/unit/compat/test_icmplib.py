"""Contract of the icmplib internals netpoll uses (``netpoll.compat.icmplib``), against the pinned 3.0.

Packets only, nothing sent: an echo request is built and checked byte by byte, and replies and ICMP errors
as a raw or datagram socket reads them are parsed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import SocketPermissionError

from netpoll.compat.icmplib import IcmpSocket, echo_request, echo_request_type, reply_parser


def _open(cls: type[ICMPv4Socket] | type[ICMPv6Socket], privileged: bool) -> IcmpSocket:
    try:
        return cls(privileged=privileged)
    except SocketPermissionError:
        pytest.fail(f"cannot open a {'raw' if privileged else 'datagram'} ICMP socket: run the tests as root")


@pytest.fixture(params=[True, False], ids=["raw", "dgram"])
def v4(request: pytest.FixtureRequest) -> Iterator[IcmpSocket]:
    icmp = _open(ICMPv4Socket, True)
    if not request.param:
        # A datagram socket needs ping_group_range, the parse contract does not: icmplib pads the IP header a
        # datagram socket does not deliver on the socket's privileged flag alone.
        icmp._privileged = False
    yield icmp
    icmp.close()


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4_header(length: int) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0, 64, 1, 0, bytes(4), bytes(4))


def test_echo_request_types() -> None:
    icmp4 = _open(ICMPv4Socket, True)
    icmp6 = _open(ICMPv6Socket, True)
    try:
        assert echo_request_type(icmp4) == 8
        assert echo_request_type(icmp6) == 128
    finally:
        icmp4.close()
        icmp6.close()


def test_echo_request_layout_and_checksum(v4: IcmpSocket) -> None:
    payload = bytes(range(56))
    packet = echo_request(v4, 0x1234, 0, payload)
    assert packet[8:] == payload
    kind, code, checksum, ident, sequence = struct.unpack("!BBHHH", packet[:8])
    assert (kind, code, ident, sequence) == (8, 0, 0x1234, 0)
    assert _checksum(packet) == 0  # a valid one's complement checksum sums to zero
    assert checksum != 0


def test_parse_echo_reply(v4: IcmpSocket) -> None:
    reply = struct.pack("!BBHHH", 0, 0, 0, 0x1234, 77) + bytes(56)
    packet = reply if not v4.is_privileged else _ipv4_header(len(reply)) + reply
    parsed = reply_parser(v4)(packet, "127.0.0.1", 0.0)
    assert parsed is not None
    assert (parsed.type, parsed.id, parsed.sequence, parsed.source) == (0, 0x1234, 77, "127.0.0.1")


def test_parse_error_gives_the_quoted_request(v4: IcmpSocket) -> None:
    request = echo_request(v4, 0x1234, 4242, bytes(8))
    quoted = _ipv4_header(len(request)) + request
    error = struct.pack("!BBHI", 3, 1, 0, 0) + quoted  # destination unreachable, host unreachable
    packet = error if not v4.is_privileged else _ipv4_header(len(error)) + error
    parsed = reply_parser(v4)(packet, "198.18.0.1", 0.0)
    assert parsed is not None
    assert (parsed.type, parsed.code, parsed.id, parsed.sequence) == (3, 1, 0x1234, 4242)


def test_parse_of_a_runt_is_none(v4: IcmpSocket) -> None:
    runt = b"\x00\x00" if not v4.is_privileged else _ipv4_header(2) + b"\x00\x00"
    assert reply_parser(v4)(runt, "127.0.0.1", 0.0) is None
