"""pysnmp's UDP transport with every reply bound to its request, and unpredictable request-ids.

pysnmp sends all devices' requests of one engine through one UDP socket and matches a response by its
request-id (v1/v2c) or msgID (v3) alone, whoever sent it; its ids are sequential and process-wide. So a
device that sees its own ids could answer its neighbours' requests from its own address, and every datagram
to the socket was decoded in full (and a garbage one logged with a traceback). Here:

- ids come from ``secrets`` (``randomise_ids``), so they cannot be guessed from one's own;
- ``BoundTransport`` books each outgoing message's id with its destination, and hands pysnmp only a reply
  whose id was booked for the address and port it came from, once. Everything else is dropped after reading
  the message header only (``replies.message_key``) and counted per source address, never logged per datagram;
- a reply from the right peer that pysnmp cannot decode (it raises out of its callback) fails the request
  waiting on that peer at once (``watch``), as a decoder fault, instead of a timeout.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6

from netpoll.compat.pysnmp import receive_callback, use_request_ids
from netpoll.inputs.snmp.replies import STATS, is_fatal, message_key

Peer = tuple[str, int]

# A booked id is forgotten after this long without a reply (the largest timeout x tries of the clients, at
# least this): by then pysnmp has given up on the request too.
MIN_BOOK_TTL_S = 30.0
_PRUNE_EVERY_S = 5.0


def _random_id() -> int:
    # 1 .. 2^31-1: the positive range of the INTEGER request-id and msgID (RFC 3416, RFC 3412)
    return secrets.randbelow(0x7FFFFFFE) + 1


def randomise_ids() -> None:
    """Make pysnmp's msgIDs (v1/v2c request-ids on the wire too) and PDU request-ids unpredictable.

    pysnmp draws them from process-wide counters (``nextid.Integer``). Idempotent.
    """
    use_request_ids(_random_id)


def _peer(address: Any) -> Peer:
    return str(address[0]), int(address[1])


class _Binding:
    """The booked ids of one transport, and the requests waiting on each peer (for decoder faults)."""

    def __init__(self) -> None:
        self.book: dict[tuple[int, int], tuple[Peer, float]] = {}
        self.waiters: dict[Peer, set[asyncio.Future[BaseException]]] = {}
        self.ttl = MIN_BOOK_TTL_S
        self._next_prune = 0.0

    def booked(self, message: bytes, peer: Peer, now: float) -> None:
        key = message_key(message)
        if key is not None:
            self.book[key] = (peer, now + self.ttl)
        if now >= self._next_prune:
            self._next_prune = now + _PRUNE_EVERY_S
            for stale in [k for k, (_, expiry) in self.book.items() if expiry < now]:
                del self.book[stale]

    def accept(self, datagram: bytes, peer: Peer) -> bool:
        """True (and the id used up) if ``datagram`` answers a request sent to ``peer``; else counted."""
        key = message_key(datagram)
        entry = self.book.get(key) if key is not None else None
        if entry is not None and entry[0] == peer:
            del self.book[key]  # type: ignore[arg-type]
            return True
        if key is None and peer in self.waiters:
            # The peer a request waits on sent something that is not an SNMP message: its answer is garbage.
            self.fault(peer, ValueError("malformed or truncated SNMP message"))
        else:
            STATS.note_dropped(peer[0], "SNMP replies that answer no request sent to their source")
        return False

    def fault(self, peer: Peer, exc: BaseException) -> None:
        STATS.note_fault("pysnmp")
        for waiter in self.waiters.get(peer, ()):
            if not waiter.done():
                waiter.set_result(exc)


class BoundTransport:
    """Mixin for pysnmp's asyncio UDP transports: see the module docstring."""

    binding: _Binding
    loop: asyncio.AbstractEventLoop

    def send_message(self, outgoingMessage: Any, transportAddress: Any) -> None:  # noqa: N803 (pysnmp's names)
        self.binding.booked(bytes(outgoingMessage), _peer(transportAddress), self.loop.time())
        super().send_message(outgoingMessage, transportAddress)  # type: ignore[misc]

    def datagram_received(self, datagram: bytes, transportAddress: Any) -> None:  # noqa: N803
        peer = _peer(transportAddress)
        if self.binding.accept(datagram, peer):
            self.loop.call_soon(self._deliver, transportAddress, datagram, peer)

    def _deliver(self, address: Any, datagram: bytes, peer: Peer) -> None:
        callback = receive_callback(self)
        if callback is None:
            return
        try:
            callback(self, address, datagram)
        except BaseException as exc:
            if is_fatal(exc):
                raise
            self.binding.fault(peer, exc)


class BoundUdpTransport(BoundTransport, udp.UdpAsyncioTransport):  # type: ignore[misc]
    """IPv4 transport with bound replies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.binding = _Binding()


class BoundUdp6Transport(BoundTransport, udp6.Udp6AsyncioTransport):  # type: ignore[misc]
    """IPv6 transport with bound replies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.binding = _Binding()
