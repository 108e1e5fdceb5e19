"""What a shared ICMP socket reads and how it is matched to an echo request: pure logic, no sockets.

Packet layout, checksums and parsing are icmplib's (``ICMPv4Socket`` / ``ICMPv6Socket``); this module adds the
parts a socket shared by thousands of targets needs: which packets are ours, the kernel-side type filters and
the kernel receive timestamp.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
import struct
from collections.abc import Iterable

# Linux constants Python's socket module does not export.
SO_TIMESTAMPNS = 35  # == SCM_TIMESTAMPNS; the "old" value, which is the 64-bit-time one on 64-bit ABIs
SO_RCVBUFFORCE = 33
SOL_RAW = 255
ICMP_FILTER = 1  # SOL_RAW option of raw IPv4 ICMP sockets: bitmap of ICMP types to drop
ICMP6_FILTER = 1  # IPPROTO_ICMPV6 option of raw ICMPv6 sockets: 256-bit bitmap of types to drop
IP_RECVTTL = 12  # IPPROTO_IP option: deliver each packet's TTL as an IP_TTL control message
IP_TTL = 2  # the control message's type
IPV6_RECVHOPLIMIT = 51  # IPPROTO_IPV6 option: deliver each packet's hop limit as IPV6_HOPLIMIT
IPV6_HOPLIMIT = 52

ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
# ICMP errors that quote one of our requests: destination unreachable, source quench, time exceeded,
# parameter problem (v4); destination unreachable, packet too big, time exceeded, parameter problem (v6).
ERROR_TYPES: dict[int, frozenset[int]] = {
    socket.AF_INET: frozenset({3, 4, 11, 12}),
    socket.AF_INET6: frozenset({1, 2, 3, 4}),
}

_TIMESPEC = struct.Struct("@qq")
_INT = struct.Struct("@i")


class Verdict(enum.Enum):
    """What one packet read from the shared socket means for the probe that sent the request."""

    REPLY = "reply"  # an echo reply to one of our requests
    ERROR = "error"  # an ICMP error quoting one of our requests: that request is lost
    IGNORE = "ignore"  # somebody else's packet, or one we did not ask for


def classify(family: int, icmp_type: int, icmp_id: int, expected_id: int | None) -> Verdict:
    """Decide whether a parsed packet belongs to us.

    Args:
        family: ``AF_INET`` or ``AF_INET6``.
        icmp_type: the ICMP type of the packet read.
        icmp_id: the echo identifier: of the reply itself, or of the request an error quotes.
        expected_id: our identifier on a raw socket (which sees every ICMP packet of the host); None on a
            datagram socket, where the kernel already delivered only packets with the socket's identifier.
    """
    if expected_id is not None and icmp_id != expected_id:
        return Verdict.IGNORE
    if icmp_type == ECHO_REPLY[family]:
        return Verdict.REPLY
    if icmp_type in ERROR_TYPES[family]:
        return Verdict.ERROR
    return Verdict.IGNORE


def _pass_types(family: int) -> Iterable[int]:
    return (ECHO_REPLY[family], *ERROR_TYPES[family])


def raw_filter(family: int) -> tuple[int, int, bytes]:
    """``(level, option, value)`` for setsockopt: the kernel drops every ICMP type we never read.

    On loopback a raw socket would otherwise also read each of our own echo requests, and everywhere every
    echo request and reply of the host.
    """
    if family == socket.AF_INET:
        mask = 0xFFFFFFFF
        for icmp_type in _pass_types(family):
            mask &= ~(1 << icmp_type)
        return SOL_RAW, ICMP_FILTER, struct.pack("=I", mask)
    words = [0xFFFFFFFF] * 8
    for icmp_type in _pass_types(family):
        words[icmp_type >> 5] &= ~(1 << (icmp_type & 31))
    return socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words)


# Room for both control messages a reply comes with: the receive timestamp and the TTL (hop limit).
ANCBUFSIZE = socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(_INT.size)


def ttl_option(family: int) -> tuple[int, int, int]:
    """``(level, option, value)`` for setsockopt: every packet read comes with its IP TTL (IPv6 hop limit).

    A control message rather than the IP header, because only a raw IPv4 socket reads the header; datagram
    sockets and ICMPv6 sockets never see it.
    """
    if family == socket.AF_INET:
        return socket.IPPROTO_IP, IP_RECVTTL, 1
    return socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1


def rx_info(ancdata: list[tuple[int, int, bytes]]) -> tuple[int | None, int | None]:
    """``(receive time, TTL)`` of a packet from its recvmsg ancillary data; either None when absent.

    The receive time is the kernel's (SO_TIMESTAMPNS), ns since the epoch; the TTL is the IP TTL (IPv6: hop
    limit). One pass over the control messages for both, with plain comparisons: this runs for every packet
    read, and a second pass (or a tuple built per message for a set lookup) cost more than reading the TTL.
    """
    rx_ns: int | None = None
    ttl: int | None = None
    for level, kind, data in ancdata:
        if kind == SO_TIMESTAMPNS and level == _SOL_SOCKET:
            if len(data) >= _TIMESPEC_SIZE:
                sec, nsec = _TIMESPEC_UNPACK(data)
                rx_ns = sec * 1_000_000_000 + nsec
        elif (
            (kind == IP_TTL and level == _IPPROTO_IP) or (kind == IPV6_HOPLIMIT and level == _IPPROTO_IPV6)
        ) and len(data) >= _INT_SIZE:
            (ttl,) = _INT_UNPACK(data)
    return rx_ns, ttl


_SOL_SOCKET, _IPPROTO_IP, _IPPROTO_IPV6 = socket.SOL_SOCKET, socket.IPPROTO_IP, socket.IPPROTO_IPV6
_TIMESPEC_SIZE, _TIMESPEC_UNPACK = _TIMESPEC.size, _TIMESPEC.unpack_from
_INT_SIZE, _INT_UNPACK = _INT.size, _INT.unpack_from


def quoted_destination(family: int, packet: bytes) -> str | None:
    """The destination address of the request an ICMP error quotes, as read from a raw socket; None if short.

    A raw IPv4 socket reads the outer IP header too: outer header (IHL words), ICMP header (8 bytes), then the
    quoted IP header, whose destination is at bytes 16..20. A raw ICMPv6 socket reads from the ICMPv6 header:
    8 bytes, then the quoted IPv6 header, destination at bytes 24..40.
    """
    if family == socket.AF_INET:
        if not packet:
            return None
        start = (packet[0] & 0x0F) * 4 + 8
        dst = packet[start + 16 : start + 20]
        return str(ipaddress.IPv4Address(dst)) if len(dst) == 4 else None
    dst = packet[8 + 24 : 8 + 40]
    return str(ipaddress.IPv6Address(dst)) if len(dst) == 16 else None
