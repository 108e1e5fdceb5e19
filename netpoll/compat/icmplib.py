"""icmplib 3.0 internals: building an echo request and parsing what a shared socket reads.

netpoll sends and reads every probe through one ICMP socket per address family (``inputs/icmp/channel.py``),
not through icmplib's ``send``/``receive``, which block on one socket per request. It keeps icmplib's packet
layout and parsing, which icmplib has only as methods of its socket classes:

- ``ICMPSocket._create_packet(id, sequence, payload)``: header (type, code, checksum, id, sequence) + payload;
- ``ICMPSocket._parse_reply(packet, source, time)``: an ``ICMPReply`` (type, code, id, sequence) of an echo
  reply, or of the request an ICMP error quotes; None for a packet too short;
- ``ICMPSocket._ICMP_ECHO_REQUEST``: the echo request type of the socket's family (8, or 128 for ICMPv6).

Contract: ``tests/unit/compat/test_icmplib.py``; pinned ``icmplib>=3.0.4,<3.1``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.models import ICMPReply

IcmpSocket: TypeAlias = ICMPv4Socket | ICMPv6Socket
ReplyParser: TypeAlias = Callable[[bytes, str, float], ICMPReply | None]

__all__ = ["IcmpSocket", "ReplyParser", "echo_request", "echo_request_type", "reply_parser"]


def echo_request_type(icmp: IcmpSocket) -> int:
    """The ICMP type of an echo request on this socket's family."""
    return int(icmp._ICMP_ECHO_REQUEST)


def echo_request(icmp: IcmpSocket, ident: int, sequence: int, payload: bytes) -> bytes:
    """An echo request packet (ICMP header with its checksum, then ``payload``)."""
    packet: bytes = icmp._create_packet(id=ident, sequence=sequence, payload=payload)
    return packet


def reply_parser(icmp: IcmpSocket) -> ReplyParser:
    """``parse(packet, source, time)`` for packets read from this socket (bound once, called per packet)."""
    parse: ReplyParser = icmp._parse_reply
    return parse
