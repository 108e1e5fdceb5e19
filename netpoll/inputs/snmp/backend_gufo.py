"""SNMP client backend on gufo-snmp 0.13 (compiled BER/USM core, asyncio): the fast path.

gufo-snmp supports v1, v2c and v3 with MD5/SHA/SHA-2 auth and DES/AES-128/192/256 priv, but has no SNMPv3
context name; ``supports`` says which credentials it can serve, and the pool's ``auto`` sends the rest to
pysnmp. One UDP socket per session, so replies for different devices never share a buffer; a gufo socket is
connected to its agent and decodes what it reads itself, so it cannot be shared between agents. A session is
held only while a device is being polled: ``IdleSessions`` closes it once it has been idle for a second, so
a daemon holds about as many sockets as it has v1/v2c polls in flight, not one per device. SNMPv3 sessions
stay open (engine ID, time and localised keys are costly to rebuild).

gufo returns Python values already: int for every integer type, bytes for OCTET STRING, and str for both
OBJECT IDENTIFIER and IpAddress values. ``decode_value`` tells the two apart by shape: an IpAddress has
exactly four arcs; an OID value with exactly four arcs is taken for an address (real OID values such as
sysObjectID are longer; ``0.0``, zeroDotZero, has two).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from gufo.snmp import (
    Aes128Key,
    Aes192Key,
    Aes256Key,
    DesKey,
    Md5Key,
    Sha1Key,
    Sha224Key,
    Sha256Key,
    Sha384Key,
    Sha512Key,
    SnmpVersion,
    User,
)
from gufo.snmp import NoSuchInstance as GufoNoSuchInstance
from gufo.snmp import SnmpAuthError as GufoAuthError
from gufo.snmp import SnmpDecodeError as GufoDecodeError
from gufo.snmp import SnmpError as GufoError
from gufo.snmp.aio.client import SnmpSession
from gufo.snmp.typing import ValueType

from netpoll.compat.gufo_snmp import GetIter, session_socket
from netpoll.devicelog import device_log
from netpoll.errors import SnmpAuthError, SnmpError
from netpoll.inputs.snmp.backend_common import BackendClient, Tally, Target, WalkGuard, refused_message
from netpoll.inputs.snmp.replies import is_fatal, well_formed
from netpoll.inputs.snmp.types import Oid, SnmpClient, SnmpValue, format_oid
from netpoll.inventory.models import SnmpSettings, UsmCredentials

log = logging.getLogger("netpoll.snmp.gufo")

T = TypeVar("T")

_AUTH_KEYS = {
    "MD5": Md5Key,
    "SHA": Sha1Key,
    "SHA224": Sha224Key,
    "SHA256": Sha256Key,
    "SHA384": Sha384Key,
    "SHA512": Sha512Key,
}
# KeyExpansion.Blumenthal (gufo's default) for AES-192/256, as net-snmp's "AES192"/"AES256".
_PRIV_KEYS = {"DES": DesKey, "AES128": Aes128Key, "AES192": Aes192Key, "AES256": Aes256Key}

# gufo's SNMPv3 session must re-synchronise engine boots/time with the agent when it has been idle longer
# than the 150 s USM time window; refresh a little earlier.
_V3_REFRESH_AFTER_S = 120.0
# OID lists whose text form is remembered, for all clients together (a poll GETs a handful of fixed lists,
# the same ones on devices of one model); past this the table starts afresh.
_NAME_CACHE_SIZE = 65_536
_NAME_CACHE: dict[tuple[Oid, ...], tuple[list[str], dict[str, Oid]]] = {}
# The same, by the id of the OID tuple a caller passed (the tuple held, so the id stays its own).
_NAMES_BY_ID: dict[int, tuple[tuple[Oid, ...], tuple[list[str], dict[str, Oid]]]] = {}


def supports(settings: SnmpSettings) -> str | None:
    """None if gufo-snmp can poll with these settings, else the reason it cannot."""
    credentials = settings.credentials
    if isinstance(credentials, UsmCredentials) and credentials.context_name:
        return "gufo-snmp has no SNMPv3 context name"
    return None


def decode_value(value: object) -> SnmpValue | None:
    """A gufo value → SnmpValue: int and bytes as they are, OID str → tuple, IpAddress str as is."""
    if isinstance(value, (int, bytes)):
        return value
    if isinstance(value, str):
        if value.count(".") == 3:
            return value
        return parse_oid_str(value)
    if isinstance(value, float):  # Opaque-wrapped float (net-snmp extension): keep the integer part
        return int(value)
    return None


def parse_oid_str(text: str) -> Oid:
    """``"1.3.6.1"`` → ``(1, 3, 6, 1)`` (gufo's OID strings have no leading dot)."""
    return tuple(map(int, text.split(".")))


def _user(credentials: UsmCredentials) -> User:
    auth_key = None
    priv_key = None
    if credentials.auth_protocol and credentials.auth_key is not None:
        auth_key = _AUTH_KEYS[credentials.auth_protocol](credentials.auth_key.get_secret_value().encode())
        if credentials.priv_protocol and credentials.priv_key is not None:
            priv_key = _PRIV_KEYS[credentials.priv_protocol](credentials.priv_key.get_secret_value().encode())
    return User(credentials.username, auth_key=auth_key, priv_key=priv_key)


class _Wire:
    """Requests and replies on one gufo socket, with a reader registered for the session's whole life.

    gufo's own asyncio wrapper adds and removes an event-loop reader (two epoll_ctl calls) and runs a
    ``wait_for`` for every request; with many small column walks per poll that per-request cost dominates the
    client's CPU. This drives gufo's compiled socket (``netpoll.compat.gufo_snmp``: encode/send,
    receive/decode) with one persistent reader and one timer per session instead.

    The reply is decoded in the reader callback, and the waiting request is woken only with its answer: a
    reader handle already queued by the loop when the reply was read (epoll is level-triggered) or a stray
    datagram never resumes the poll for nothing (half the requests did, measured). The timeout timer is not
    one per request: requests on a session follow each other, each ending long before its timeout, so one
    timer serves them all and, when it fires early for the request in flight, re-arms at that request's own
    deadline.

    gufo's socket is connected to the agent, so the kernel already drops datagrams from any other address or
    port, and gufo's request-ids are random. What the agent itself sends may still be malformed: once a reply
    failed to decode (``suspect``), every later datagram is peeked at and checked with ``well_formed`` before
    gufo's decoder sees it, because gufo 0.13 panics on some malformed replies (and its panic hook writes to
    stderr each time). Healthy devices never pay for the check.
    """

    def __init__(self, session: SnmpSession) -> None:
        self.sock = session_socket(session)
        self._fd: int = self.sock.get_fd()
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[Any] | None = None
        self._receive: Callable[[], Any] = _nothing  # decodes the reply of the request in flight
        self._deadline = 0.0  # of the request in flight
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._attached = False
        self._peek: socket.socket | None = None  # a view of gufo's socket for MSG_PEEK, once suspect
        self.attach()

    @property
    def suspect(self) -> bool:
        """True once the agent sent an undecodable reply: later replies are checked before decoding."""
        return self._peek is not None

    def distrust(self) -> None:
        """Check every later reply with ``well_formed`` before gufo decodes it."""
        if self._peek is None:
            self._peek = socket.socket(fileno=self._fd)  # not owned: detached in ``detach``

    def attach(self) -> None:
        if not self._attached:
            self._loop.add_reader(self._fd, self._readable)
            self._attached = True

    def detach(self) -> None:
        if self._attached:
            self._loop.remove_reader(self._fd)
            self._attached = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._peek is not None:
            self._peek.detach()  # the descriptor belongs to gufo's socket
            self._peek = None

    def _malformed(self) -> bool:
        """Suspect agent only: True (and the datagram read away) if the next datagram is malformed BER."""
        peek = self._peek
        if peek is None:
            return False
        try:
            data = peek.recv(65535, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except ConnectionRefusedError:
            raise  # the peek took the socket's pending ICMP port unreachable: the caller passes it on
        except OSError:
            return False
        if well_formed(data):
            return False
        with contextlib.suppress(OSError):
            peek.recv(1, socket.MSG_DONTWAIT)  # a datagram socket discards the rest of the datagram
        return True

    def _readable(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._answer(waiter)
            return
        # A late reply to a request already given up on: read it away, or the (level-triggered) reader fires
        # on every loop iteration. A malformed one must not reach the decoder (or the loop's error log).
        with contextlib.suppress(ConnectionRefusedError):  # a refusal nobody waits for any more
            if self._malformed():
                return
        try:
            self.sock.recv_get_many()
        except BaseException as exc:
            if is_fatal(exc):
                raise
            if _undecodable(exc):
                self.distrust()

    def _answer(self, waiter: asyncio.Future[Any]) -> None:
        """Decode the readable datagram into the waiting request's result (or error); a stray one: wait on."""
        try:
            if self._malformed():
                waiter.set_exception(GufoDecodeError("malformed BER"))
                return
            result = self._receive()
        except BlockingIOError:
            return  # nothing read, or not the reply to this request (a late one to an earlier try)
        except BaseException as exc:
            if is_fatal(exc):
                raise
            # Without this frame in its traceback: the waiter it is set on would otherwise form a cycle with
            # it, and the session's socket would stay open until a garbage collection.
            waiter.set_exception(self._failure(exc.with_traceback(None)))
            return
        waiter.set_result(result)

    def _failure(self, exc: BaseException) -> BaseException:
        """What the request in flight raises for gufo's ``exc`` (the peek's ConnectionRefusedError as is)."""
        if isinstance(exc, TimeoutError) and "refused" in str(exc):
            # gufo raises TimeoutError("connection refused") when the kernel reports an ICMP port
            # unreachable for the connected socket: the agent answered "nobody here" at once. Retrying
            # would not help and waiting out a timeout would hide what happened.
            refused = ConnectionRefusedError(str(exc))
            refused.__cause__ = exc
            return refused
        if _undecodable(exc):
            self.distrust()  # check this agent's replies before gufo decodes them, from now on
        return exc

    def _expire(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._deadline > self._timer_at:  # set for an earlier request: wait for this one's deadline
            self._arm(self._deadline)
            return
        waiter.set_exception(TimeoutError())

    def _arm(self, when: float) -> None:
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._expire)

    async def exchange(self, send: Callable[[], None], receive: Callable[[], T], timeout: float) -> T:
        """Send one request and return its decoded reply; TimeoutError after ``timeout`` seconds."""
        try:
            send()
        except BlockingIOError:  # socket send buffer full (thousands of requests at once): retry shortly
            await asyncio.sleep(0.001)
            send()
        loop = self._loop
        self._receive = receive
        self._deadline = deadline = loop.time() + timeout
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._arm(deadline)
        # The waiter is no local of this frame: the error it may hold has this frame in its traceback, and the
        # pair would be a cycle that keeps the session's socket open until a garbage collection.
        self._waiter = loop.create_future()
        try:
            result: T = await self._waiter
            return result
        finally:
            self._waiter = None
            self._receive = _nothing


class _TooLarge(SnmpError):
    """gufo could not hold the reply (``incomplete``): ask again through the large-reply client."""


def _undecodable(exc: BaseException) -> bool:
    """True for gufo's decode errors and its decoder panics (a ``BaseException`` that is no ``Exception``)."""
    return isinstance(exc, GufoDecodeError) or not (isinstance(exc, Exception) or is_fatal(exc))


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _nothing() -> None:
    """The wire's receive while no request is in flight (never called: the reader checks the waiter)."""


class IdleSessions:
    """Closes the sessions of gufo clients that have been idle for ``idle_s`` seconds; one timer for all.

    A poll sends its requests one after the other, so a second without one means the poll is over; the
    next poll (an interval later) opens a new session. That keeps one file descriptor (and gufo's buffers)
    per poll in flight instead of one per device for the daemon's life (figures in ``docs/scaling.md``). The
    cost: a socket(), connect(), close() and two epoll_ctl per poll. v1/v2c sessions only (``GufoClient``).
    """

    def __init__(self, idle_s: float = 1.0) -> None:
        self.idle_s = idle_s
        self._open: set[GufoClient] = set()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._open)

    def opened(self, client: GufoClient) -> None:
        """``client`` opened a session: close it when idle (the sweep starts with the first one)."""
        self._open.add(client)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.idle_s, self._sweep)

    def closed(self, client: GufoClient) -> None:
        """``client`` closed its session."""
        self._open.discard(client)

    def _sweep(self) -> None:
        self._timer = None
        idle_since = time.monotonic() - self.idle_s
        for client in [c for c in self._open if c.idle_since(idle_since)]:
            client.close()
        if self._open:
            self._timer = asyncio.get_running_loop().call_later(self.idle_s, self._sweep)

    def stop(self) -> None:
        """Stop sweeping (the pool is closing and closes every client itself)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class GufoClient(BackendClient):
    """SnmpClient on gufo-snmp. Created by ``SnmpClientPool``; the session opens on the first request.

    With ``idle`` (the pool's), the session closes when the client has been idle a while and reopens on the
    next request; without, it stays open until ``close``.
    """

    backend = "gufo"

    def __init__(
        self,
        target: Target,
        tally: Tally,
        recv_buffer: int = 0,
        check_replies: bool = False,
        large_replies: Callable[[], SnmpClient] | None = None,
        idle: IdleSessions | None = None,
    ) -> None:
        super().__init__(target, tally)
        self._check_replies = check_replies
        # An agent that once sent an undecodable reply stays suspect across sessions (see ``_Wire``).
        self._suspect = False
        self._idle = idle
        # gufo 0.13 decodes into a fixed buffer of a few KB and reports a larger (legal, up to 64 KB) reply
        # as "incomplete": such a request is asked again through this client (pysnmp), which reads any size.
        self._large_replies = large_replies
        self._large: SnmpClient | None = None
        self._recv_buffer = recv_buffer
        self._session: SnmpSession | None = None
        self._wire: _Wire | None = None
        self._last_used = 0.0
        self._lock = asyncio.Lock()
        # Replies are matched to the one request in flight on the session's socket: two concurrent requests
        # (say, two walks of the same device gathered together) would take each other's replies, drop them
        # and time out. One exchange at a time per session.
        self._busy = asyncio.Lock()
        # Read on every request: the settings of a client never change (new settings, new client).
        self._version = target.version
        self._timeout_s = target.settings.timeout_s
        self._tries = target.settings.retries + 1
        self._literal = _is_ip(target.address)  # no name to resolve when a poll opens its session

    async def _resolve(self) -> str:
        address = self.target.address
        if self._literal:
            return address
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(address, self.target.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise SnmpError(self.target.label, f"cannot resolve {address}: {exc}") from exc
        return str(infos[0][4][0])

    async def _open(self) -> _Wire:
        settings = self.target.settings
        credentials = settings.credentials
        address = await self._resolve()
        common: dict[str, Any] = {
            "addr": address,
            "port": settings.port,
            "timeout": settings.timeout_s,
            "max_repetitions": self.target.max_repetitions,
            "recv_buffer": self._recv_buffer,
        }
        try:
            if isinstance(credentials, UsmCredentials):
                session = SnmpSession(user=_user(credentials), version=SnmpVersion.v3, **common)
                await self._retrying(session.refresh)  # engine ID discovery and time sync
            else:
                version = SnmpVersion.v1 if credentials.version == "1" else SnmpVersion.v2c
                session = SnmpSession(community=self.target.community, version=version, **common)
        except (SnmpError, GufoError, OSError, ValueError) as exc:
            raise self._translate(exc) from exc
        self._session = session
        wire = _Wire(session)
        if self._check_replies or self._suspect:
            wire.distrust()
        if self._idle is not None and self.target.version != "3":
            # v3 sessions stay open: re-opening one localises its keys again (1.5 ms of CPU, measured) and
            # costs a round trip for engine time synchronisation, every poll.
            self._idle.opened(self)
        return wire

    def idle_since(self, when: float) -> bool:
        """True if the session is open, no request is in progress, and the last one ended before ``when``."""
        return self._wire is not None and not self._busy.locked() and self._last_used < when

    async def _ready(self) -> _Wire:
        wire = self._wire
        if wire is None:
            async with self._lock:
                if self._wire is None:
                    self._check_open()
                    self._wire = await self._open()
                wire = self._wire
        elif (
            self.target.version == "3"
            and self._last_used
            and time.monotonic() - self._last_used > _V3_REFRESH_AFTER_S
            and self._session is not None
        ):
            wire.detach()  # gufo's refresh registers its own reader on the socket
            try:
                await self._retrying(self._session.refresh)
            except (GufoError, OSError) as exc:
                raise self._translate(exc) from exc
            finally:
                wire.attach()
        return wire

    async def _retrying(self, call: Callable[..., Awaitable[T]], *args: object) -> T:
        """Await ``call(*args)`` with the target's retries on timeout; SnmpTimeout when all fail."""
        tries = self.target.settings.retries + 1
        for attempt in range(tries):
            try:
                return await call(*args)
            except TimeoutError:
                if attempt + 1 == tries:
                    break
        raise self.target.timed_out()

    async def _request(self, wire: _Wire, send: Callable[[], None], receive: Callable[[], T]) -> T:
        """One request with the target's retries on timeout (``_retrying`` inlined: every request's path)."""
        tally = self._tally
        timeout = self._timeout_s
        for _ in range(self._tries):
            tally.requests += 1
            try:
                return await wire.exchange(send, receive, timeout)
            except TimeoutError:
                continue
        raise self.target.timed_out()

    def _translate(self, exc: BaseException) -> SnmpError:
        label = self.target.label
        if isinstance(exc, SnmpError):
            return exc
        if isinstance(exc, GufoDecodeError):
            if str(exc) == "incomplete" and self._large_replies is not None:
                return _TooLarge(label, "reply larger than gufo's receive buffer")
            return self.decode_error(exc)
        if isinstance(exc, TimeoutError):
            return self.target.timed_out()
        if isinstance(exc, GufoAuthError):
            return SnmpAuthError(label, "SNMPv3 authentication failed (wrong user, key or protocol)")
        if isinstance(exc, ConnectionRefusedError):
            return SnmpError(label, refused_message(self.target))
        return SnmpError(label, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    def _rediscover(self) -> None:
        self.close()  # the next request opens a new session, which starts with engine discovery

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        """GET scalars (see ``BackendClient.get``); a reply too large for gufo is read through pysnmp."""
        try:
            return await self._guarded(self._get, oids)
        except _TooLarge:
            return await self._large_client().get(oids)

    async def walk(self, root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        """Walk (see ``BackendClient.walk``); a reply too large for gufo is read through pysnmp."""
        try:
            return await super().walk(root, max_rows)
        except _TooLarge:
            return await self._large_client().walk(root, max_rows)

    def _large_client(self) -> SnmpClient:
        if self._large is None:
            assert self._large_replies is not None
            self._large = self._large_replies()
            device_log(log, self.target.label).info(
                "a reply is larger than gufo-snmp's receive buffer: such requests go through pysnmp"
            )
        return self._large

    async def _get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        if not oids:
            return {}
        names, back = self._names(oids)
        async with self._busy:
            wire = self._wire
            if wire is None or self._version == "3":
                wire = await self._ready()
            sock = wire.sock
            try:
                raw: dict[str, ValueType] = await self._request(
                    wire, functools.partial(sock.send_get_many, names), sock.recv_get_many
                )
                if self._version == "1" and len(raw) < len(names) and len(names) > 1:
                    # v1 fails the whole request with noSuchName when one OID is missing; gufo then returns
                    # nothing. Ask one by one for what is missing.
                    for name in names:
                        if name not in raw:
                            try:
                                raw[name] = await self._request(
                                    wire, functools.partial(sock.send_get, name), sock.recv_get
                                )
                            except GufoNoSuchInstance:
                                continue
            except (GufoError, OSError) as exc:
                raise self._translate(exc) from exc
            finally:
                self._last_used = time.monotonic()
        result: dict[Oid, SnmpValue] = {}
        for name, value in raw.items():
            decoded = value if type(value) is int or type(value) is bytes else decode_value(value)
            if decoded is not None:
                oid = back.get(name)
                result[oid if oid is not None else parse_oid_str(name)] = decoded
        return result

    def _names(self, oids: Sequence[Oid]) -> tuple[list[str], dict[str, Oid]]:
        """The text form gufo takes of ``oids``, and the way back, remembered per OID list.

        A poller asks for the same lists every poll (the profile's scalars, the known counter cells); turning
        each OID into text and each answer back into a tuple cost more than the exchange itself. Shared by
        every client: devices of one model ask for the same lists, held once (never mutated by a caller).

        A tuple the poller keeps (its cell plans are shared) is found by identity first: a tuple does not
        keep its hash, and hashing 30 OIDs to look the list up cost about as much as decoding its reply.
        """
        if type(oids) is tuple:
            seen = _NAMES_BY_ID.get(id(oids))
            if seen is not None and seen[0] is oids:  # held here, so its id is no other object's
                return seen[1]
        key = oids if isinstance(oids, tuple) else tuple(oids)
        hit = _NAME_CACHE.get(key)
        if hit is None:
            if len(_NAME_CACHE) >= _NAME_CACHE_SIZE:
                _NAME_CACHE.clear()
            names = [format_oid(oid) for oid in key]
            hit = _NAME_CACHE[key] = (names, dict(zip(names, key, strict=True)))
        if type(oids) is tuple:
            if len(_NAMES_BY_ID) >= _NAME_CACHE_SIZE:
                _NAMES_BY_ID.clear()
            _NAMES_BY_ID[id(oids)] = (oids, hit)
        return hit

    async def _walk(self, root: Oid) -> list[tuple[Oid, SnmpValue]]:
        async with self._busy:
            wire = self._wire
            if wire is None or self._version == "3":
                wire = await self._ready()
            try:
                if self._version == "1":
                    rows, guard = await self._walk_next(wire, root)
                else:
                    rows, guard = await self._walk_bulk(wire, root, self.target.max_repetitions)
            except (GufoError, OSError) as exc:
                raise self._translate(exc) from exc
            finally:
                self._last_used = time.monotonic()
        self._warn(guard)
        return rows

    async def _walk_bulk(
        self, wire: _Wire, root: Oid, repetitions: int
    ) -> tuple[list[tuple[Oid, SnmpValue]], WalkGuard]:
        rows, guard, stopped = await self._bulk_once(wire, root, repetitions)
        # gufo ends a GETBULK walk the same way (StopAsyncIteration("stop")) when a response starts past the
        # subtree and when the agent answers an error status such as tooBig. The two can only be confused
        # when the rows end on a response boundary (an absent table included): ask again with fewer
        # repetitions; a real end gives the same rows, a tooBig agent now gives more.
        while stopped and repetitions > 1 and len(rows) % repetitions == 0:
            repetitions = 1 if not rows else repetitions // 2
            again, again_guard, stopped = await self._bulk_once(wire, root, repetitions)
            if len(again) <= len(rows):
                break
            rows, guard = again, again_guard
        return rows, guard

    async def _bulk_once(
        self, wire: _Wire, root: Oid, repetitions: int
    ) -> tuple[list[tuple[Oid, SnmpValue]], WalkGuard, bool]:
        """One GETBULK walk: the rows, its guard, and whether gufo's ambiguous "stop" ended it."""
        guard = WalkGuard(root)
        accept = guard.accept
        out: list[tuple[Oid, SnmpValue]] = []
        append = out.append
        sock = wire.sock
        ctx = GetIter(format_oid(root), repetitions)
        send = functools.partial(sock.send_get_bulk, ctx)
        receive = functools.partial(sock.recv_get_bulk, ctx)
        while True:
            try:
                batch: list[tuple[str, ValueType] | None] = await self._request(wire, send, receive)
            except StopAsyncIteration as exc:
                return out, guard, exc.args == ("stop",)
            if not batch:
                return out, guard, False  # endOfMibView
            for item in batch:
                if item is None:
                    return out, guard, False  # past the subtree
                oid = tuple(map(int, item[0].split(".")))
                if not accept(oid):
                    return out, guard, False
                value = item[1]
                # int and bytes (nearly every varbind) are already ours; the rest goes through decode_value
                if type(value) is int or type(value) is bytes:
                    append((oid, value))
                else:
                    decoded = decode_value(value)
                    if decoded is not None:
                        append((oid, decoded))

    async def _walk_next(self, wire: _Wire, root: Oid) -> tuple[list[tuple[Oid, SnmpValue]], WalkGuard]:
        """v1: GETNEXT, one varbind per request."""
        guard = WalkGuard(root)
        out: list[tuple[Oid, SnmpValue]] = []
        sock = wire.sock
        ctx = GetIter(format_oid(root))
        send = functools.partial(sock.send_get_next, ctx)
        receive = functools.partial(sock.recv_get_next, ctx)
        while True:
            try:
                name, value = await self._request(wire, send, receive)
            except StopAsyncIteration:
                break
            except GufoError as exc:
                if "nosuchname" in str(exc).lower().replace(" ", ""):
                    break  # v1 end of MIB view
                raise
            oid = parse_oid_str(name)
            if not guard.accept(oid):
                break
            decoded = decode_value(value)
            if decoded is not None:
                out.append((oid, decoded))
        return out, guard

    def close(self) -> None:
        """Unregister the reader and drop the session; its socket closes with it."""
        if self._wire is not None:
            self._suspect = self._suspect or self._wire.suspect
            self._wire.detach()
        self._wire = None
        self._session = None
        if self._idle is not None:
            self._idle.closed(self)
