"""ICMP statistics, result codes, the ping record and packet matching: pure logic, no sockets."""

from __future__ import annotations

import itertools
import math
import socket
import struct

import pytest

from netpoll.inputs.icmp.channel import REFUSED, Channel, ProbeState
from netpoll.inputs.icmp.packets import (
    ICMP6_FILTER,
    ICMP_FILTER,
    IP_TTL,
    IPV6_HOPLIMIT,
    SO_TIMESTAMPNS,
    SOL_RAW,
    Verdict,
    classify,
    quoted_destination,
    raw_filter,
    rx_info,
    ttl_option,
)
from netpoll.inputs.icmp.stats import ResultCode, jitter, ping_sample, summarize

V4, V6 = socket.AF_INET, socket.AF_INET6


@pytest.mark.parametrize(
    ("rtts", "expected"),
    [
        ([], None),
        ([1.0], None),
        ([1.0, 3.0], 2.0),
        ([1.0, 3.0, 2.0], 1.5),
        ([5.0, 5.0, 5.0, 5.0], 0.0),
        ([10.0, 0.5, 10.0], 9.5),
    ],
)
def test_jitter_is_mean_absolute_difference_of_consecutive_rtts(
    rtts: list[float], expected: float | None
) -> None:
    assert jitter(rtts) == expected


@pytest.mark.parametrize(
    ("transmitted", "rtts", "error", "code", "loss"),
    [
        (3, [1.0, 2.0, 3.0], False, ResultCode.OK, 0.0),
        (3, [1.0], False, ResultCode.OK, 100 * 2 / 3),
        (4, [1.0, 1.0, 1.0], False, ResultCode.OK, 25.0),
        (3, [], False, ResultCode.NO_REPLY, 100.0),
        (0, [], True, ResultCode.ERROR, 100.0),  # name did not resolve: nothing sent
        (0, [], False, ResultCode.ERROR, 100.0),
        (2, [], True, ResultCode.ERROR, 100.0),  # sends failed part-way (no route)
        (2, [0.5], True, ResultCode.OK, 50.0),  # a reply wins over a later send error
        (1000, [1.0] * 750, False, ResultCode.OK, 25.0),
    ],
)
def test_summarize_loss_and_result_code(
    transmitted: int, rtts: list[float], error: bool, code: ResultCode, loss: float
) -> None:
    stats = summarize(transmitted, rtts, error=error)
    assert stats.result_code is code
    assert stats.received == len(rtts)
    assert stats.loss_pct == pytest.approx(loss)
    assert stats.reachable is bool(rtts)


def test_summarize_rtt_figures() -> None:
    stats = summarize(4, [1.0, 2.0, 3.0, 6.0])
    assert (stats.min_ms, stats.avg_ms, stats.max_ms) == (1.0, 3.0, 6.0)
    # population standard deviation, as ping(8) "mdev": mean of squares minus square of mean
    assert stats.stddev_ms == pytest.approx(math.sqrt((4 + 1 + 0 + 9) / 4))
    assert stats.jitter_ms == pytest.approx((1 + 1 + 3) / 3)


@pytest.mark.parametrize(
    ("transmitted", "rtts", "present", "absent"),
    [
        (
            3,
            [1.0, 2.0],
            {
                "minimum_response_ms",
                "average_response_ms",
                "maximum_response_ms",
                "standard_deviation_ms",
                "jitter_ms",
            },
            set(),
        ),
        (
            3,
            [1.0],
            {"minimum_response_ms", "average_response_ms", "maximum_response_ms", "standard_deviation_ms"},
            {"jitter_ms"},
        ),
        (
            3,
            [],
            set(),
            {
                "minimum_response_ms",
                "average_response_ms",
                "maximum_response_ms",
                "standard_deviation_ms",
                "jitter_ms",
            },
        ),
    ],
)
def test_rtt_fields_only_when_measured(
    transmitted: int, rtts: list[float], present: set[str], absent: set[str]
) -> None:
    fields = summarize(transmitted, rtts).fields()
    assert present <= fields.keys()
    assert not absent & fields.keys()
    for always in (
        "packets_transmitted",
        "packets_received",
        "percent_packet_loss",
        "result_code",
        "reachable",
    ):
        assert always in fields


def test_field_types_follow_telegraf() -> None:
    fields = summarize(3, [1.0, 2.0, 4.0]).fields()
    for name in ("packets_transmitted", "packets_received", "result_code", "reachable"):
        assert type(fields[name]) is int, name
    for name in ("percent_packet_loss", "minimum_response_ms", "average_response_ms", "maximum_response_ms"):
        assert type(fields[name]) is float, name


def test_ping_sample_tags_drop_agent_host() -> None:
    sample = ping_sample(
        summarize(1, []),
        device="r1",
        url="r1.example",
        tags={"device": "r1", "agent_host": "r1.example", "site": "par1", "role": "core"},
        time_ns=123,
    )
    assert sample.measurement == "ping"
    assert dict(sample.tags) == {"device": "r1", "url": "r1.example", "site": "par1", "role": "core"}
    assert sample.to_line_protocol() == (
        "ping,device=r1,role=core,site=par1,url=r1.example "
        "packets_transmitted=1i,packets_received=0i,percent_packet_loss=100.0,result_code=1i,reachable=0i 123"
    )


@pytest.mark.parametrize(
    ("family", "icmp_type", "icmp_id", "expected_id", "verdict"),
    [
        (V4, 0, 7, 7, Verdict.REPLY),
        (V4, 0, 8, 7, Verdict.IGNORE),  # another process's reply on a raw socket
        (V4, 0, 1234, None, Verdict.REPLY),  # datagram socket: the kernel matched the identifier
        (V4, 8, 7, 7, Verdict.IGNORE),  # our own request, seen on loopback
        (V4, 3, 7, 7, Verdict.ERROR),  # destination unreachable quoting our request
        (V4, 11, 7, 7, Verdict.ERROR),  # time exceeded
        (V4, 3, 9, 7, Verdict.IGNORE),  # an error quoting somebody else's request
        (V4, 13, 7, 7, Verdict.IGNORE),  # timestamp request
        (V6, 129, 7, 7, Verdict.REPLY),
        (V6, 128, 7, 7, Verdict.IGNORE),
        (V6, 1, 7, 7, Verdict.ERROR),
        (V6, 3, 7, 7, Verdict.ERROR),
        (V6, 0, 7, 7, Verdict.IGNORE),  # type 0 is not an ICMPv6 echo reply
        (V6, 135, 7, 7, Verdict.IGNORE),  # neighbour solicitation
    ],
)
def test_classify(
    family: int, icmp_type: int, icmp_id: int, expected_id: int | None, verdict: Verdict
) -> None:
    assert classify(family, icmp_type, icmp_id, expected_id) is verdict


def test_raw_filters_pass_only_replies_and_errors() -> None:
    level, option, value = raw_filter(V4)
    assert (level, option) == (SOL_RAW, ICMP_FILTER)
    (mask,) = struct.unpack("=I", value)
    passed = {t for t in range(32) if not mask & (1 << t)}
    assert passed == {0, 3, 4, 11, 12}
    level, option, value = raw_filter(V6)
    assert (level, option) == (socket.IPPROTO_ICMPV6, ICMP6_FILTER)
    words = struct.unpack("=8I", value)
    passed = {t for t in range(256) if not words[t >> 5] & (1 << (t & 31))}
    assert passed == {129, 1, 2, 3, 4}


def test_rx_timestamp_from_ancillary_data() -> None:
    data = struct.pack("@qq", 1_700_000_000, 123_456_789)
    assert rx_info([(socket.SOL_SOCKET, SO_TIMESTAMPNS, data)]) == (1_700_000_000_123_456_789, None)
    assert rx_info([(socket.SOL_IP, 1, data)]) == (None, None)
    assert rx_info([(socket.SOL_SOCKET, SO_TIMESTAMPNS, data[:8])]) == (None, None)  # truncated
    assert rx_info([]) == (None, None)


# --- matching on a shared socket, with a fake in place of the kernel ---------------------------------------


class _FakeIcmp:
    """Stands in for icmplib's socket: records what is sent and parses what the test queues."""

    _ICMP_ECHO_REQUEST = 8

    def __init__(self) -> None:
        self.sock = _FakeSock()

    def _create_packet(self, id: int, sequence: int, payload: bytes) -> bytes:
        return struct.pack("!BBHHH", 8, 0, 0, id, sequence) + payload

    def _parse_reply(self, packet: bytes, source: str, current_time: float) -> object:
        # A raw IPv4 socket reads the outer IP header; an error quotes the request's IP and ICMP headers.
        outer = (packet[0] & 0x0F) * 4
        icmp_type = packet[outer]
        quoted = outer + 8 + 20 if icmp_type in (3, 4, 11, 12) else outer
        _type, _code, _sum, ident, seq = struct.unpack("!BBHHH", packet[quoted : quoted + 8])
        return type("Reply", (), {"type": icmp_type, "id": ident, "sequence": seq, "source": source})

    def close(self) -> None:
        pass


class _FakeSock:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.inbox: list[tuple[bytes, list[tuple[int, int, bytes]], int, tuple[str, int]]] = []

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        self.sent.append((data, address))
        return len(data)

    def recvmsg(
        self, bufsize: int, ancbufsize: int
    ) -> tuple[bytes, list[tuple[int, int, bytes]], int, tuple[str, int]]:
        if not self.inbox:
            raise BlockingIOError
        return self.inbox.pop(0)


def _channel(kind: str = "raw") -> tuple[Channel, _FakeSock]:
    icmp = _FakeIcmp()
    channel = Channel(V4, kind, icmp)  # type: ignore[arg-type]
    return channel, icmp.sock


def _ip_header(src: str, dst: str) -> bytes:
    return struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, 1, 0, socket.inet_aton(src), socket.inet_aton(dst)
    )


def _deliver(
    sock: _FakeSock,
    icmp_type: int,
    ident: int,
    seq: int,
    source: str,
    rx_ns: int,
    quoted_dst: str = "",
    ttl: int | None = None,
) -> None:
    """Queue what a raw IPv4 socket reads: outer IP header, ICMP; an error quotes a request to quoted_dst.

    ``ttl``: the IP_TTL control message the kernel adds (IP_RECVTTL).
    """
    stamp = struct.pack("@qq", rx_ns // 1_000_000_000, rx_ns % 1_000_000_000)
    ancdata = [(socket.SOL_SOCKET, SO_TIMESTAMPNS, stamp)]
    if ttl is not None:
        ancdata.append((socket.IPPROTO_IP, IP_TTL, struct.pack("@i", ttl)))
    packet = _ip_header(source, "127.0.0.1")
    if quoted_dst:
        packet += struct.pack("!BBHHH", icmp_type, 1, 0, 0, 0) + _ip_header("127.0.0.1", quoted_dst)
        packet += struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    else:
        packet += struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq)
    sock.inbox.append((packet, ancdata, 0, (source, 0)))


def _seq(sock: _FakeSock, n: int) -> int:
    return int(struct.unpack("!H", sock.sent[n][0][6:8])[0])


def test_replies_are_matched_by_identifier_sequence_and_source() -> None:
    channel, sock = _channel()
    a, b = ProbeState("127.0.0.2", 2, 1.0), ProbeState("127.0.0.3", 1, 1.0)
    channel.send(a, 0, ("127.0.0.2", 0), 8)
    channel.send(a, 1, ("127.0.0.2", 0), 8)
    channel.send(b, 0, ("127.0.0.3", 0), 8)
    seq_a0, seq_a1, seq_b = _seq(sock, 0), _seq(sock, 1), _seq(sock, 2)
    assert len({seq_a0, seq_a1, seq_b}) == 3
    sent_a0 = a.sent_ns[0]
    _deliver(sock, 0, channel.ident, seq_a0, "127.0.0.9", sent_a0 + 1000)  # wrong source: ignored
    _deliver(sock, 0, channel.ident ^ 1, seq_a0, "127.0.0.2", sent_a0 + 1000)  # wrong identifier: ignored
    _deliver(sock, 8, channel.ident, seq_b, "127.0.0.3", sent_a0 + 1000)  # a request: ignored
    _deliver(sock, 0, channel.ident, seq_a0, "127.0.0.2", sent_a0 + 2000)
    _deliver(sock, 0, channel.ident, seq_a0, "127.0.0.2", sent_a0 + 3000)  # duplicate: already settled
    forged = REFUSED["forged_error"]
    # unreachable quoting b's sequence but a request to another address: forged (or stray), not b's loss
    _deliver(sock, 3, channel.ident, seq_b, "127.0.0.2", sent_a0 + 3500, quoted_dst="127.0.0.2")
    _deliver(sock, 3, channel.ident, seq_b, "198.18.0.1", sent_a0 + 4000, quoted_dst="127.0.0.3")  # b's loss
    channel.on_readable()
    assert REFUSED["forged_error"] == forged + 1
    assert a.rtts_ns == [2000, None]
    assert a.outstanding == 1
    assert b.rtts_ns == [None]
    assert (b.outstanding, b.errors) == (0, 1)
    assert set(channel.table) == {seq_a1}
    channel.forget(a)
    assert channel.table == {}


def test_late_reply_counts_as_lost() -> None:
    channel, sock = _channel()
    probe = ProbeState("127.0.0.2", 1, 0.5)
    channel.send(probe, 0, ("127.0.0.2", 0), 0)
    # The kernel timestamp says 0.6 s, and so does the monotonic clock once the sender's is moved back.
    probe.sent_mono_ns[0] -= 600_000_000
    _deliver(sock, 0, channel.ident, _seq(sock, 0), "127.0.0.2", probe.sent_ns[0] + 600_000_000)
    channel.on_readable()
    assert probe.rtts_ns == [None]
    assert probe.outstanding == 0


def test_ttl_is_the_first_timely_replys() -> None:
    channel, sock = _channel()
    probe = ProbeState("127.0.0.2", 3, 0.5)
    for index in range(3):
        channel.send(probe, index, ("127.0.0.2", 0), 0)
    sent = probe.sent_ns[0]
    _deliver(sock, 0, channel.ident, _seq(sock, 0), "127.0.0.2", sent + 600_000_000, ttl=10)  # too late
    _deliver(sock, 0, channel.ident, _seq(sock, 2), "127.0.0.2", sent + 1000)  # no TTL reported
    _deliver(sock, 0, channel.ident, _seq(sock, 1), "127.0.0.2", sent + 2000, ttl=61)
    probe.sent_mono_ns[0] -= 600_000_000
    channel.on_readable()
    assert probe.ttl == 61  # of the first timely reply that came with one: not the late reply's
    other = ProbeState("127.0.0.3", 2, 0.5)
    channel.send(other, 0, ("127.0.0.3", 0), 0)
    channel.send(other, 1, ("127.0.0.3", 0), 0)
    _deliver(sock, 0, channel.ident, _seq(sock, 4), "127.0.0.3", other.sent_ns[1] + 1000, ttl=250)
    _deliver(sock, 0, channel.ident, _seq(sock, 3), "127.0.0.3", other.sent_ns[0] + 2000, ttl=57)
    channel.on_readable()
    assert other.ttl == 250  # the first reply to arrive, as Telegraf reports it


@pytest.mark.parametrize(
    ("ancdata", "expected"),
    [
        ([(socket.IPPROTO_IP, IP_TTL, struct.pack("@i", 63))], 63),
        ([(socket.IPPROTO_IPV6, IPV6_HOPLIMIT, struct.pack("@i", 255))], 255),
        ([(socket.SOL_SOCKET, SO_TIMESTAMPNS, b"\0" * 16), (socket.IPPROTO_IP, IP_TTL, b"\x01\0\0\0")], 1),
        ([(socket.IPPROTO_IP, IP_TTL, b"\x01")], None),  # truncated
        ([(socket.IPPROTO_IP, 99, struct.pack("@i", 63))], None),
        ([(socket.IPPROTO_IP, IPV6_HOPLIMIT, struct.pack("@i", 63))], None),  # type of the other level
        ([(socket.IPPROTO_IPV6, IP_TTL, struct.pack("@i", 63))], None),
        ([], None),
    ],
)
def test_rx_ttl_from_ancillary_data(ancdata: list[tuple[int, int, bytes]], expected: int | None) -> None:
    assert rx_info(ancdata)[1] == expected


def test_ttl_option_per_family() -> None:
    assert ttl_option(V4) == (socket.IPPROTO_IP, 12, 1)
    assert ttl_option(V6) == (socket.IPPROTO_IPV6, 51, 1)


def test_error_is_written_only_when_the_probe_could_not_run() -> None:
    def fields(stats: object, error: str | None) -> dict[str, object]:
        return dict(ping_sample(stats, device="r1", url="r1", tags={}, time_ns=1, error=error).fields)  # type: ignore[arg-type]

    assert fields(summarize(0, [], error=True), "no such host: x")["error"] == "no such host: x"
    assert "error" not in fields(summarize(2, []), "no echo reply")  # no reply is not an error
    assert "error" not in fields(summarize(2, [1.0], error=True), "send failed")  # a reply came: ok
    assert "error" not in fields(summarize(0, [], error=True), None)


def test_ttl_field_only_with_a_reply() -> None:
    assert summarize(2, [1.0], ttl=64).fields()["ttl"] == 64
    assert "ttl" not in summarize(2, [], ttl=64).fields()
    assert "ttl" not in summarize(2, [1.0]).fields()


def test_datagram_socket_trusts_the_kernel_identifier() -> None:
    channel, sock = _channel("dgram")
    probe = ProbeState("127.0.0.2", 1, 1.0)
    channel.send(probe, 0, ("127.0.0.2", 0), 0)
    _deliver(sock, 0, 4242, _seq(sock, 0), "127.0.0.2", probe.sent_ns[0] + 5000)
    channel.on_readable()
    assert probe.rtts_ns == [5000]


def test_sequence_numbers_are_random_and_skip_those_in_flight() -> None:
    channel, sock = _channel()
    probe = ProbeState("127.0.0.2", 200, 1.0)
    for i in range(200):
        channel.send(probe, i, ("127.0.0.2", 0), 0)
    seqs = [_seq(sock, i) for i in range(200)]
    assert len(set(seqs)) == 200
    # Not a run: one target's sequence numbers do not tell it the next target's.
    assert sum(1 for a, b in itertools.pairwise(seqs) if (b - a) & 0xFFFF == 1) < 5


def test_packet_checksum_matches_icmplib() -> None:
    from icmplib.sockets import ICMPv4Socket

    builder = object.__new__(ICMPv4Socket)  # icmplib's packet layout without opening a socket
    builder._sock = None
    channel = Channel(V4, "raw", builder)
    for seq in (0, 1, 255, 256, 4095, 32768, 65534, 65535):
        for size in (0, 1, 56, 57, 300):
            payload = (bytes(range(256)) * 2)[:size]
            expected = builder._create_packet(channel.ident, seq, payload)
            assert channel._packet(seq, size) == expected, (seq, size)


def test_quoted_destination_of_v4_and_v6_errors() -> None:
    v4 = _ip_header("192.0.2.1", "127.0.0.1") + bytes(8) + _ip_header("127.0.0.1", "198.18.0.7") + bytes(8)
    assert quoted_destination(V4, v4) == "198.18.0.7"
    assert quoted_destination(V4, v4[:40]) is None
    quoted6 = bytes(24) + socket.inet_pton(socket.AF_INET6, "2001:db8::7") + bytes(8)
    assert quoted_destination(socket.AF_INET6, bytes(8) + quoted6) == "2001:db8::7"
    assert quoted_destination(socket.AF_INET6, bytes(8)) is None
