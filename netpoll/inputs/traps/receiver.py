"""The trap and inform receiver: UDP sockets, flood safety, decoding, matching, acknowledging informs.

Flood safety: datagrams wait in one bounded queue (a full queue drops the newest, counted); each source
address has a token bucket (``rate_per_source`` per second, a burst of twice that) checked before anything
is decoded, so one chatty or hostile sender cannot starve the others. An inform is acknowledged only once it
is accepted (decoded, from a known device with its community), so a sender whose inform was dropped
retransmits it.

Not events: notifications from unknown senders (counted, logged at most once a minute per sender) and a
wrong community (counted per device as an authentication-failure signal, logged likewise). Communities never
appear in logs.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from netpoll.defaults import TRAP_QUEUE_SIZE, TRAP_RATE_PER_SOURCE
from netpoll.errors import NetpollError
from netpoll.inputs.traps.decode import Notification, NotNotification, SnmpV3Message, decode, inform_response
from netpoll.inputs.traps.kerneldrops import socket_inode, udp_drops
from netpoll.inputs.traps.listen import Address
from netpoll.inputs.traps.names import STANDARD_NAMES, TrapNames
from netpoll.inputs.traps.record import Trap
from netpoll.inputs.traps.sources import Sources
from netpoll.inputs.traps.usm import UsmFailure, UsmReceiver, engine_id_for
from netpoll.inventory.models import Device, UsmCredentials
from netpoll.text import for_terminal

logger = logging.getLogger("netpoll.traps")
logger.addHandler(logging.NullHandler())

QUEUE_SIZE = TRAP_QUEUE_SIZE
RATE_PER_SOURCE = TRAP_RATE_PER_SOURCE
LOG_EVERY_S = 60.0
# Senders remembered by the rate limits and the log limiter; beyond this the oldest are forgotten.
_MAX_SOURCES = 65_536

# Called with the device, the sender's address and what was wrong, for every authentication failure.
AuthFailureHook = Callable[[Device, str, str], None]


@dataclass
class TrapStats:
    """Counts since the receiver started.

    Attributes:
        received: datagrams read from the sockets.
        queue_dropped: dropped because the queue was full.
        kernel_dropped: dropped by the kernel before netpoll read them (socket buffer full: a flood faster
            than the receiver reads); as of the last ``TrapReceiver.refresh_kernel_drops``.
        rate_dropped: dropped by a sender's rate limit.
        undecodable: not an SNMP trap or inform (garbage, another PDU).
        v3_unsupported: SNMPv3 messages received without an inventory (no USM user to decode them with).
        unknown_source: from a sender that is no inventory device.
        auth_failures: per device name: notifications with a wrong community or SNMPv3 user or key.
        events: accepted notifications.
        informs_acknowledged: Responses sent.
    """

    received: int = 0
    queue_dropped: int = 0
    kernel_dropped: int = 0
    rate_dropped: int = 0
    undecodable: int = 0
    v3_unsupported: int = 0
    unknown_source: int = 0
    auth_failures: Counter[str] = field(default_factory=Counter)
    events: int = 0
    informs_acknowledged: int = 0


class _Buckets:
    """A token bucket per sender: ``rate`` per second, a burst of ``2 x rate``."""

    def __init__(self, rate: float) -> None:
        self.rate, self.burst = rate, 2 * rate
        self._state: dict[str, tuple[float, float]] = {}

    def allow(self, source: str, now: float) -> bool:
        tokens, last = self._state.get(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self._state) >= _MAX_SOURCES and source not in self._state:
            self._state.pop(next(iter(self._state)))
        if tokens < 1.0:
            self._state[source] = (tokens, now)
            return False
        self._state[source] = (tokens - 1.0, now)
        return True


class _Throttle:
    """Whether to log about ``key`` now: at most once per ``every`` seconds."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last: dict[str, float] = {}

    def due(self, key: str, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        if len(self._last) >= _MAX_SOURCES and key not in self._last:
            self._last.pop(next(iter(self._last)))
        self._last[key] = now
        return True


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: TrapReceiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        assert self.transport is not None
        self.receiver.offer(data, addr, self.transport)


class TrapReceiver:
    """Receives SNMP v1/v2c/v3 traps and informs on UDP; iterate it for the accepted ``Trap`` records.

    Args:
        listen: (address, port) pairs, IPv4 or IPv6 literals; port 0 picks a free port (see ``addresses``).
        sources: the inventory's devices by address; None accepts any sender and any community (for
            ``netpoll traps`` without an inventory).
        queue_size: datagrams waiting at most.
        rate_per_source: datagrams per second accepted from one address (a burst of twice that).
        log: the logger to use.
        on_auth_failure: told of each authentication failure (device, sender address, reason), e.g. to
            write the daemon's ``trap_auth`` record; never of an event.
        engine_id: this receiver's SNMP engine ID, which an SNMPv3 inform's sender discovers and localizes
            its keys to; None: one derived from the host name (stable across restarts).
        names: notification and variable-binding names (``netpoll.inputs.traps.catalog.load_trap_names``).
    """

    def __init__(
        self,
        listen: Sequence[Address],
        sources: Sources | None = None,
        *,
        queue_size: int = QUEUE_SIZE,
        rate_per_source: float = RATE_PER_SOURCE,
        log: logging.Logger | None = None,
        on_auth_failure: AuthFailureHook | None = None,
        engine_id: bytes | None = None,
        names: TrapNames = STANDARD_NAMES,
    ) -> None:
        self.listen = list(listen)
        self.on_auth_failure = on_auth_failure
        self.names = names
        self.engine_id = engine_id or engine_id_for(socket.gethostname())
        self._usm: UsmReceiver | None = None  # made at the first SNMPv3 datagram
        self.sources = sources
        self.stats = TrapStats()
        self.log = log or logger
        self._queue: asyncio.Queue[tuple[bytes, Any, asyncio.DatagramTransport]] = asyncio.Queue(queue_size)
        self._buckets = _Buckets(rate_per_source)
        self._throttle = _Throttle(LOG_EVERY_S)
        self._transports: list[asyncio.DatagramTransport] = []

    @property
    def addresses(self) -> list[Address]:
        """The bound (address, port) of each socket."""
        return [
            (str(name[0]), int(name[1])) for name in (t.get_extra_info("sockname") for t in self._transports)
        ]

    async def __aenter__(self) -> TrapReceiver:
        if self._transports:
            raise RuntimeError("TrapReceiver is already open")
        loop = asyncio.get_running_loop()
        try:
            for host, port in self.listen:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(self), local_addr=(host, port)
                )
                self._transports.append(transport)
        except OSError as exc:
            self.close()
            where = ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.listen)
            hint = (
                ": ports below 1024 need root or CAP_NET_BIND_SERVICE (docs/traps.md), or listen on a port"
                " above 1023"
                if exc.errno == errno.EACCES
                else ""
            )
            raise NetpollError(f"traps: cannot listen on {where}: {exc.strerror or exc}{hint}") from None
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def refresh_kernel_drops(self) -> None:
        """Read the kernel's drop counts of the open sockets into ``stats.kernel_dropped``."""
        sockets = (transport.get_extra_info("socket") for transport in self._transports)
        inodes = {socket_inode(sock) for sock in sockets if sock is not None}
        if inodes:  # closed sockets keep the last count
            self.stats.kernel_dropped = udp_drops(inodes)

    def close(self) -> None:
        """Close the sockets (datagrams still queued are read by nobody)."""
        self.refresh_kernel_drops()  # the sockets' last count, before it is gone with them
        for transport in self._transports:
            transport.close()
        self._transports.clear()

    def offer(self, data: bytes, addr: Any, transport: asyncio.DatagramTransport) -> None:
        """Queue one datagram unless its sender is over its rate or the queue is full (both counted).

        ``addr`` is the socket address it came from (an inform is answered there, through ``transport``).
        """
        self.stats.received += 1
        if not self._buckets.allow(str(addr[0]), time.monotonic()):
            self.stats.rate_dropped += 1
            return
        try:
            self._queue.put_nowait((data, addr, transport))
        except asyncio.QueueFull:
            self.stats.queue_dropped += 1

    def __aiter__(self) -> AsyncIterator[Trap]:
        return self._traps()

    async def _traps(self) -> AsyncIterator[Trap]:
        while True:
            data, addr, transport = await self._queue.get()
            reply = functools.partial(transport.sendto, addr=addr)
            trap = self.accept(data, str(addr[0]), reply, int(addr[1]))
            if trap is not None:
                yield trap

    def accept(
        self, data: bytes, source: str, reply: Callable[[bytes], object] | None = None, port: int = 0
    ) -> Trap | None:
        """Decode, match and (for an inform) acknowledge one datagram; the ``Trap``, or None (counted).

        ``reply`` sends the inform's Response (SNMPv3: also the engine-ID discovery Report) back to its
        sender, ``source``:``port``.
        """
        now = time.monotonic()
        try:
            notification = decode(data)
        except SnmpV3Message:
            return self._accept_v3(data, source, port, reply, now)
        except NotNotification as exc:
            self._undecodable(source, exc, now)
            return None
        device = None
        if self.sources is not None:
            match = self.sources.match(source, notification.agent_addr, notification.community)
            if match is None:
                self._unknown(source, now)
                return None
            if not match.authentic:
                self._auth_failure(match.device, source, "community", now)
                return None
            device = match.device
        if notification.kind == "inform" and reply is not None:
            reply(inform_response(notification))
            self.stats.informs_acknowledged += 1
        return self._event(device, source, notification)

    def _accept_v3(
        self, data: bytes, source: str, port: int, reply: Callable[[bytes], object] | None, now: float
    ) -> Trap | None:
        if self.sources is None:
            # Without an inventory there is no USM user to check or decrypt it with.
            self.stats.v3_unsupported += 1
            if self._throttle.due(f"v3 {source}", now):
                self.log.warning("traps: %s sent SNMPv3: decoding it needs the inventory's USM user", source)
            return None
        # The agent-addr and snmpTrapAddress.0 are inside the (encrypted) PDU: the source address only.
        device = self.sources.device(source)
        if device is None:
            self._unknown(source, now)
            return None
        credentials = device.snmp.credentials if device.snmp is not None else None
        if not isinstance(credentials, UsmCredentials):
            self._auth_failure(device, source, "unknown_user", now)
            return None
        if self._usm is None:
            self._usm = UsmReceiver(self.engine_id)
        try:
            result = self._usm.accept(data, (source, port), credentials, reply)
        except NotNotification as exc:
            self._undecodable(source, exc, now)
            return None
        if result is None:
            return None  # an engine-ID discovery probe, answered with a Report
        if isinstance(result, UsmFailure):
            self._auth_failure(device, source, result.reason, now)
            return None
        if result.kind == "inform":
            self.stats.informs_acknowledged += 1  # the engine sent the Response
        return self._event(device, source, result)

    def prepare_v3(self) -> None:
        """Make the SNMPv3 engine now if a device uses SNMPv3.

        Building pysnmp's engine takes a while: done at start, the first v3 notification does not wait for it.
        """
        devices = self.sources.devices() if self.sources is not None else ()
        v3 = any(isinstance(d.snmp.credentials, UsmCredentials) for d in devices if d.snmp is not None)
        if self._usm is None and v3:
            self._usm = UsmReceiver(self.engine_id)

    def _event(self, device: Device | None, source: str, notification: Notification) -> Trap:
        self.stats.events += 1
        return Trap(device, source, notification, time.time_ns(), names=self.names)

    def _undecodable(self, source: str, exc: Exception, now: float) -> None:
        self.stats.undecodable += 1
        if self._throttle.due(f"undecodable {source}", now):
            self.log.info("traps: %s sent a datagram that is no trap or inform (%s)", source, exc)

    def _unknown(self, source: str, now: float) -> None:
        self.stats.unknown_source += 1
        if self._throttle.due(f"unknown {source}", now):
            self.log.warning("traps: %s is no inventory device; its notifications are ignored", source)

    def _auth_failure(self, device: Device, source: str, reason: str, now: float) -> None:
        name = device.name
        self.stats.auth_failures[name] += 1
        if self.on_auth_failure is not None:
            self.on_auth_failure(device, source, reason)
        if self._throttle.due(f"auth {name}", now):
            what = "a wrong community" if reason == "community" else f"SNMPv3 that failed USM ({reason})"
            shown = for_terminal(name)
            self.log.warning("traps: %s (%s) sent %s: an authentication failure", shown, source, what)
