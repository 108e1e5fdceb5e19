"""Contract of the gufo-snmp internals netpoll uses (``netpoll.compat.gufo_snmp``), against the pinned 0.13.

No agent: the session's compiled socket talks to a UDP socket of this test on 127.0.0.1, which answers by
turning the request into a response (same request-id, every value an empty OCTET STRING).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest
from gufo.snmp import SnmpVersion
from gufo.snmp.aio.client import SnmpSession

from netpoll.compat.gufo_snmp import GetIter, session_socket

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
GET, GETBULK, RESPONSE = 0xA0, 0xA5, 0xA2


@pytest.fixture
def peer() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    yield sock
    sock.close()


def _session(port: int) -> SnmpSession:
    return SnmpSession(addr="127.0.0.1", port=port, community="public", version=SnmpVersion.v2c, timeout=1.0)


def _pdu_tag(message: bytes) -> int:
    # SEQUENCE { version INTEGER, community OCTET STRING, PDU }: short-form lengths in these small messages.
    version_end = 2 + 2 + message[3]
    community_end = version_end + 2 + message[version_end + 1]
    return message[community_end]


def _answer(request: bytes) -> bytes:
    """The request as a response: PDU tag GetResponse, each varbind's NULL value an empty OCTET STRING."""
    position = request.index(bytes([GET]))
    body = request[:position] + bytes([RESPONSE]) + request[position + 1 :]
    # A varbind's value is its last TLV: NULL (05 00) right before the next varbind (30 ..) or the end.
    out = bytearray()
    i = 0
    while i < len(body):
        if body[i : i + 2] == b"\x05\x00" and (i + 2 == len(body) or body[i + 2] == 0x30):
            out += b"\x04\x00"
            i += 2
        else:
            out.append(body[i])
            i += 1
    return bytes(out)


def _wait_readable(fd: int) -> None:
    readable, _, _ = select.select([fd], [], [], 5.0)
    assert readable, "no datagram arrived"


def test_session_socket_has_the_calls_the_wire_uses(peer: socket.socket) -> None:
    sock = session_socket(_session(peer.getsockname()[1]))
    for name in ("get_fd", "send_get", "recv_get", "send_get_many", "recv_get_many"):
        assert callable(getattr(sock, name)), name
    for name in ("send_get_next", "recv_get_next", "send_get_bulk", "recv_get_bulk"):
        assert callable(getattr(sock, name)), name
    fd = sock.get_fd()
    probe = socket.socket(fileno=fd)
    try:
        assert probe.type == socket.SOCK_DGRAM
    finally:
        probe.detach()  # the fd is the session's


def test_recv_without_a_datagram_raises_blocking_io_error(peer: socket.socket) -> None:
    sock = session_socket(_session(peer.getsockname()[1]))
    with pytest.raises(BlockingIOError):
        sock.recv_get_many()


def test_get_many_round_trip_and_a_stale_reply_is_blocking_io_error(peer: socket.socket) -> None:
    sock = session_socket(_session(peer.getsockname()[1]))
    sock.send_get_many([SYS_UPTIME])
    first, agent = peer.recvfrom(2048)
    assert _pdu_tag(first) == GET
    sock.send_get_many([SYS_DESCR, SYS_UPTIME])
    second, _ = peer.recvfrom(2048)
    # The answer to the first (abandoned) request is not taken for the second's: BlockingIOError, wait on.
    peer.sendto(_answer(first), agent)
    _wait_readable(sock.get_fd())
    with pytest.raises(BlockingIOError):
        sock.recv_get_many()
    peer.sendto(_answer(second), agent)
    _wait_readable(sock.get_fd())
    assert sock.recv_get_many() == {SYS_DESCR: b"", SYS_UPTIME: b""}


def test_get_iter_drives_a_getbulk_with_the_repetitions_asked(peer: socket.socket) -> None:
    sock = session_socket(_session(peer.getsockname()[1]))
    sock.send_get_bulk(GetIter("1.3.6.1.2.1.2.2", 7))
    request, _ = peer.recvfrom(2048)
    assert _pdu_tag(request) == GETBULK
    # request-id, non-repeaters 0, max-repetitions 7, then the varbind list
    assert b"\x02\x01\x00\x02\x01\x07\x30" in request
    sock.send_get_next(GetIter("1.3.6.1.2.1.2.2"))
    request, _ = peer.recvfrom(2048)
    assert _pdu_tag(request) == 0xA1  # GetNextRequest
