"""One shared ICMP socket of one address family on the asyncio loop, and the state of the probes using it.

A raw socket reads every ICMP packet of the host, so packets are matched to requests by identifier and
sequence, and the source address for echo replies; a kernel ICMP type filter drops what we never read. On a
datagram socket the kernel rewrites the identifier and delivers only that identifier's replies.

A target must not be able to settle other targets' requests: sequence numbers are drawn at random for each
request (not consecutively across targets, where one target's own numbers told it its neighbours'), and an
ICMP error counts only if the request it quotes went to the probe's target (its quoted destination).
Packets that fail these checks are counted in ``REFUSED`` (``stray_reply``, ``forged_error``, and
``stray_error`` for an error quoting no request in flight), never logged per packet.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal

from netpoll.compat.icmplib import IcmpSocket, echo_request, echo_request_type, reply_parser
from netpoll.inputs.icmp.packets import (
    ANCBUFSIZE,
    SO_RCVBUFFORCE,
    SO_TIMESTAMPNS,
    Verdict,
    classify,
    quoted_destination,
    raw_filter,
    rx_info,
    ttl_option,
)

logger = logging.getLogger("netpoll.icmp")

SocketKind = Literal["dgram", "raw"]
FAMILY_NAMES: dict[int, str] = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6"}
# Enough of a packet to match it: outer IPv4 header, ICMP header, quoted IP header (with options) and ICMP
# header of an error message. Longer payloads are truncated by the kernel, which is fine.
_RECV_SIZE = 192
# Packets read per readiness callback before yielding to the loop, so a flood cannot starve the senders.
_DRAIN_LIMIT = 4096
_SEQ_SPACE = 0x10000
# Random sequence numbers drawn per os.urandom call: a system call per draw cost more than packing the echo.
_RANDOM_BATCH = 4096
_PAYLOAD_BYTES = bytes(range(256))
_HEADER = struct.Struct("!BBHHH")

# ICMP packets with our identifier and an in-flight sequence that do not belong to that request: echo replies
# from another host, errors quoting another destination. Process-wide, exported on /metrics.
REFUSED: Counter[str] = Counter()


class ProbeState:
    """The mutable state of one probe of one address: what was sent, what came back."""

    __slots__ = (
        "all_sent",
        "count",
        "errors",
        "match_addr",
        "outstanding",
        "rtts_ns",
        "sent_mono_ns",
        "sent_ns",
        "seqs",
        "timeout_ns",
        "transmitted",
        "ttl",
        "waiter",
    )

    def __init__(self, match_addr: str, count: int, timeout_s: float) -> None:
        self.match_addr = match_addr
        self.count = count
        self.timeout_ns = int(timeout_s * 1e9)
        self.sent_ns = [0] * count
        self.sent_mono_ns = [0] * count
        self.rtts_ns: list[int | None] = [None] * count
        self.seqs: list[int | None] = [None] * count
        self.transmitted = 0
        self.outstanding = 0
        self.errors = 0  # ICMP errors (unreachable, time exceeded) quoting our requests
        self.all_sent = False
        self.waiter: asyncio.Future[None] | None = None
        self.ttl: int | None = None  # of the first timely reply that carried one, as Telegraf reports

    def settle(self) -> None:
        """One request is answered or lost; wake the probe when nothing is left to wait for."""
        self.outstanding -= 1
        if self.outstanding == 0 and self.all_sent and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def on_reply(self, index: int, rx_ns: int, ttl: int | None = None) -> None:
        rtt = rx_ns - self.sent_ns[index]
        if not 0 < rtt <= self.timeout_ns:
            # The wall clock stepped between send and receive: fall back to the monotonic clock.
            rtt = time.monotonic_ns() - self.sent_mono_ns[index]
        if rtt <= self.timeout_ns:  # a reply later than the timeout counts as lost, as in ping(8)
            self.rtts_ns[index] = rtt
            if self.ttl is None:
                self.ttl = ttl
        self.settle()


class Channel:
    """One shared ICMP socket of one address family, read on the event loop."""

    def __init__(self, family: int, kind: SocketKind, icmp: IcmpSocket) -> None:
        self.family = family
        self.kind = kind
        self.icmp = icmp
        self.sock: socket.socket = icmp.sock
        # A raw socket reads every ICMP packet of the host: our identifier tells ours apart. A datagram socket
        # has its identifier rewritten by the kernel, which then delivers only that identifier's replies.
        self.ident = random.randrange(1, _SEQ_SPACE) if kind == "raw" else 0
        self.expected_id: int | None = self.ident if kind == "raw" else None
        self.echo_type = echo_request_type(icmp)
        self.table: dict[int, tuple[ProbeState, int]] = {}
        self._next_seq = random.randrange(_SEQ_SPACE)
        self._random: Iterator[int] = iter(())
        self._templates: dict[int, tuple[bytes, int]] = {}

    def configure(self, rcvbuf: int) -> None:
        sock = self.sock
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(*ttl_option(self.family))
        # Replies queue up while a burst is being sent; a large buffer keeps them all.
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # capped by net.core.rmem_max
        if self.kind == "raw":
            sock.setsockopt(*raw_filter(self.family))

    def _alloc_seq(self) -> int:
        # Random, so a target cannot tell other targets' sequence numbers from its own; a free one is found
        # at once unless the table is nearly full, then the scan below.
        for _ in range(16):
            seq = next(self._random, None)
            if seq is None:
                # Two bytes from the kernel's CSPRNG per number, uniform over the whole sequence space.
                self._random = iter(memoryview(os.urandom(2 * _RANDOM_BATCH)).cast("H"))
                seq = next(self._random)
            if seq not in self.table:
                return seq
        seq = self._next_seq
        for _ in range(_SEQ_SPACE):
            seq = (seq + 1) & 0xFFFF
            if seq not in self.table:
                self._next_seq = seq
                return seq
        raise OSError(errno.ENOBUFS, f"{_SEQ_SPACE} echo requests in flight on one socket")

    def _packet(self, seq: int, payload_size: int) -> bytes:
        template = self._templates.get(payload_size)
        if template is None:
            payload = (_PAYLOAD_BYTES * (payload_size // 256 + 1))[:payload_size]
            # icmplib lays out the header and computes the checksum, once per payload size, with sequence 0.
            packet = echo_request(self.icmp, self.ident, 0, payload)
            template = (packet[8:], int.from_bytes(packet[2:4], "big"))
            self._templates[payload_size] = template
        payload, checksum = template
        # RFC 1624 incremental update for the sequence field changing from 0 to seq: one's complement sums,
        # so a send costs no checksum over the payload. (The kernel recomputes it for ICMPv6 and datagram
        # sockets anyway.)
        total = (~checksum & 0xFFFF) + seq
        total = (total & 0xFFFF) + (total >> 16)
        return _HEADER.pack(self.echo_type, 0, ~total & 0xFFFF, self.ident, seq) + payload

    def send(self, probe: ProbeState, index: int, sockaddr: tuple[Any, ...], payload_size: int) -> None:
        """Send request ``index`` of ``probe`` now; raises OSError when the kernel refuses it."""
        seq = self._alloc_seq()
        packet = self._packet(seq, payload_size)
        probe.sent_mono_ns[index] = time.monotonic_ns()
        probe.sent_ns[index] = time.time_ns()
        self.sock.sendto(packet, sockaddr)
        self.table[seq] = (probe, index)
        probe.seqs[index] = seq
        probe.transmitted += 1
        probe.outstanding += 1

    def forget(self, probe: ProbeState) -> None:
        """Drop the requests of a finished probe that never got an answer."""
        for seq in probe.seqs:
            if seq is not None:
                entry = self.table.get(seq)
                if entry is not None and entry[0] is probe:
                    del self.table[seq]

    def on_readable(self) -> None:
        """Drain the socket: match every packet to its request and settle it."""
        sock, table, family, expected_id = self.sock, self.table, self.family, self.expected_id
        parse = reply_parser(self.icmp)
        for _ in range(_DRAIN_LIMIT):
            try:
                data, ancdata, _flags, address = sock.recvmsg(_RECV_SIZE, ANCBUFSIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # a pending socket error is reported once; the socket stays usable
                logger.debug("ICMP %s socket: %s", FAMILY_NAMES[family], exc)
                continue
            reply = parse(data, address[0], 0)
            if reply is None:
                continue
            verdict = classify(family, reply.type, reply.id, expected_id)
            if verdict is Verdict.IGNORE:
                continue
            entry = table.get(reply.sequence)
            if entry is None:
                if verdict is Verdict.ERROR:
                    REFUSED["stray_error"] += 1  # quotes no request in flight: late, or guessed
                continue  # a late reply (the probe gave up), or not ours
            probe, index = entry
            if verdict is Verdict.REPLY:
                source = address[0]
                if source != probe.match_addr and source.split("%", 1)[0] != probe.match_addr:
                    REFUSED["stray_reply"] += 1  # same id and sequence from another host: not our reply
                    continue
                del table[reply.sequence]
                rx_ns, ttl = rx_info(ancdata)
                probe.on_reply(index, rx_ns or time.time_ns(), ttl)
            else:
                if self.kind == "raw" and quoted_destination(family, data) != probe.match_addr:
                    REFUSED["forged_error"] += 1  # it quotes a request to somewhere else: not ours
                    continue
                del table[reply.sequence]
                probe.errors += 1
                probe.settle()

    def close(self) -> None:
        self.icmp.close()
