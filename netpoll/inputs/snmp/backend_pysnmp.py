"""SNMP client backend on pysnmp 7 (``pysnmp.hlapi.v3arch.asyncio``): the reference, every v3 protocol.

Measured pitfalls this module designs around:

- creating an ``SnmpEngine`` costs ~145 ms (MIB builder), more than a whole poll: engines are created once per
  pool, lazily, and shared by many devices (``PysnmpEngines``);
- an engine sends and receives everything through ONE UDP socket: with 200 devices in flight the default
  receive buffer (208 KiB) overflowed and 140 of 200 polls timed out. Each engine's transport is opened by us
  with a large ``SO_RCVBUF`` (``SO_RCVBUFFORCE`` as root, beyond ``net.core.rmem_max``), and devices are
  spread over a few engines;
- about three quarters of pysnmp's time is pyasn1 decoding: responses are taken with ``lookupMib=False`` and
  values are converted by reading the pyasn1 object's payload directly (``decode_value``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import socket
from collections.abc import Callable, Sequence
from typing import Any

from pyasn1.type import univ  # type: ignore[import-untyped]
from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config as pysnmp_config
from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC96_MD5,
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC128_SHA224,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_HMAC256_SHA384,
    USM_AUTH_HMAC384_SHA512,
    USM_PRIV_CBC56_DES,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB192_AES_BLUMENTHAL,
    USM_PRIV_CFB256_AES_BLUMENTHAL,
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
)
from pysnmp.proto import errind, rfc1155, rfc1902, rfc1905

from netpoll.compat.pysnmp import forget_engine_id, payload, wait_open
from netpoll.errors import SnmpAuthError, SnmpError
from netpoll.inputs.snmp.backend_common import BackendClient, Tally, Target, WalkGuard
from netpoll.inputs.snmp.pysnmp_wire import (
    BoundTransport,
    BoundUdp6Transport,
    BoundUdpTransport,
    Peer,
    randomise_ids,
)
from netpoll.inputs.snmp.types import Oid, SnmpValue, format_oid
from netpoll.inventory.models import UsmCredentials
from netpoll.probe import holding

log = logging.getLogger("netpoll.snmp.pysnmp")

DEFAULT_RECV_BUFFER = 8 * 1024 * 1024
MAX_IN_FLIGHT = 64

_AUTH = {
    "MD5": USM_AUTH_HMAC96_MD5,
    "SHA": USM_AUTH_HMAC96_SHA,
    "SHA224": USM_AUTH_HMAC128_SHA224,
    "SHA256": USM_AUTH_HMAC192_SHA256,
    "SHA384": USM_AUTH_HMAC256_SHA384,
    "SHA512": USM_AUTH_HMAC384_SHA512,
}
# AES192/AES256 as net-snmp's "AES192"/"AES256" (Blumenthal key extension, RFC draft-blumenthal-aes-usm);
# pysnmp's plain USM_PRIV_CFB192_AES is the Reeder/Cisco variant ("AES192C" in net-snmp).
_PRIV = {
    "DES": USM_PRIV_CBC56_DES,
    "AES128": USM_PRIV_CFB128_AES,
    "AES192": USM_PRIV_CFB192_AES_BLUMENTHAL,
    "AES256": USM_PRIV_CFB256_AES_BLUMENTHAL,
}

# The inventory's protocol names as pysnmp's protocol ids (the trap receiver's USM users too).
AUTH_PROTOCOLS = _AUTH
PRIV_PROTOCOLS = _PRIV

# Error indications that mean "your SNMPv3 credentials are wrong", reported by the agent (usmStats* reports)
# or found locally; distinct from a timeout so an operator fixes the key instead of the network.
_AUTH_INDICATIONS: tuple[type[errind.ErrorIndication], ...] = (
    errind.WrongDigest,
    errind.UnknownUserName,
    errind.DecryptionError,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.UnsupportedSecurityLevel,
    errind.UnknownSecurityName,
    errind.UnsupportedAuthProtocol,
    errind.UnsupportedPrivProtocol,
    errind.NoEncryption,
    errind.EncryptionError,
)

# SNMP error-status codes (RFC 3416) the walk/get loops act on.
_TOO_BIG = 1
_NO_SUCH_NAME = 2

# ---------------------------------------------------------------------------------------------------------
# Value decoding: pyasn1 object → SnmpValue primitive, by concrete type, memoised.

_SKIP = 0  # NULL, noSuchObject, noSuchInstance, endOfMibView: no value
_RAW = 1  # Integer-like → int, OCTET STRING-like → bytes, OBJECT IDENTIFIER → tuple: the pyasn1 payload as is
_IPADDR = 2  # IpAddress → dotted quad str
_kinds: dict[type, int] = {}


def _kind_of(cls: type) -> int:
    # Order matters: pyasn1's Null (and so noSuchObject & co) and IpAddress are OCTET STRING subclasses.
    if issubclass(cls, univ.Null):
        kind = _SKIP
    elif issubclass(cls, (rfc1902.IpAddress, rfc1155.IpAddress)):
        kind = _IPADDR
    elif issubclass(cls, (univ.Integer, univ.OctetString, univ.ObjectIdentifier)):
        kind = _RAW
    else:
        raise TypeError(f"unsupported SNMP value type {cls.__name__}")
    _kinds[cls] = kind
    return kind


def decode_value(value: Any) -> SnmpValue | None:
    """A pyasn1/pysnmp value → int, bytes, Oid tuple or dotted-quad str; None for NULL and the exceptions.

    Reads the payload pyasn1 already decoded (``netpoll.compat.pysnmp.payload``: int for INTEGER-likes,
    bytes for OCTET STRINGs, int tuple for OIDs): no ``int()``/``asOctets()``/``asTuple()`` per varbind.
    """
    cls = type(value)
    kind = _kinds.get(cls)
    if kind is None:
        kind = _kind_of(cls)
    if kind == _RAW:
        raw: SnmpValue = payload(value)
        return raw
    if kind == _IPADDR:
        return socket.inet_ntoa(payload(value))
    return None


def _is_end(value: Any) -> bool:
    return isinstance(value, rfc1905.EndOfMibView)


# ---------------------------------------------------------------------------------------------------------
# Engines


class PysnmpEngines:
    """A few SnmpEngines shared by all pysnmp clients of a pool, each with a tuned UDP transport.

    Devices are assigned round-robin, so the load (and the replies queued on each socket) is spread.
    Engines are created on first use: an engine costs ~145 ms and a pool that only uses gufo pays nothing.

    ``in_flight`` bounds the requests outstanding on all of them (held for one ``get`` or one ``walk``, which
    has one request outstanding at a time): pysnmp spends ~100 µs of CPU per varbind, so beyond a few dozen
    requests in flight replies only wait longer in the socket buffers while the event loop decodes others, and
    that wait counts against their timeouts. Waiting for ``in_flight`` does not (and counts as the poller's
    queue time, not the device's: ``netpoll.probe.holding``).
    """

    def __init__(
        self, count: int = 2, recv_buffer: int = DEFAULT_RECV_BUFFER, max_in_flight: int = MAX_IN_FLIGHT
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.in_flight = asyncio.Semaphore(max_in_flight)
        self._count = max(1, count)
        self._recv_buffer = recv_buffer
        self._engines: list[SnmpEngine] = []
        self._transports: dict[tuple[int, bool], BoundTransport] = {}
        self._next = 0
        self._lock = asyncio.Lock()

    async def assign(self, ipv6: bool, ttl: float) -> tuple[SnmpEngine, BoundTransport]:
        """The engine the next client uses, with its open, tuned transport for the address family.

        ``ttl``: how long the client waits for a reply at most (timeout x tries); the transport keeps a
        request's id that long.
        """
        async with self._lock:
            index = self._next % self._count
            self._next += 1
            while len(self._engines) <= index:
                randomise_ids()
                self._engines.append(SnmpEngine())
            engine = self._engines[index]
            transport = self._transports.get((index, ipv6))
            if transport is None:
                transport = self._transports[index, ipv6] = await self._open_transport(engine, ipv6)
            transport.binding.ttl = max(transport.binding.ttl, ttl)
            return engine, transport

    async def _open_transport(self, engine: SnmpEngine, ipv6: bool) -> BoundTransport:
        # Registering the transport ourselves (instead of letting hlapi's LCD open one) is what lets us size
        # its socket buffer and bind replies to requests: hlapi reuses a transport already registered for the
        # domain.
        module = udp6 if ipv6 else udp
        transport_cls = BoundUdp6Transport if ipv6 else BoundUdpTransport
        transport: BoundUdpTransport | BoundUdp6Transport = transport_cls()
        transport.open_client_mode()
        pysnmp_config.add_transport(engine, module.DOMAIN_NAME, transport)
        await wait_open(transport)  # the datagram endpoint is created in a task; wait for the socket
        sock = transport.transport.get_extra_info("socket")
        if sock is not None:
            set_recv_buffer(sock, self._recv_buffer)
        return transport

    def close(self) -> None:
        """Close every engine's transports."""
        for engine in self._engines:
            engine.close_dispatcher()
        self._engines.clear()
        self._transports.clear()


def set_recv_buffer(sock: socket.socket, size: int) -> int:
    """Raise a socket's receive buffer to ``size`` bytes; returns what the kernel granted.

    SO_RCVBUFFORCE (root / CAP_NET_ADMIN) ignores ``net.core.rmem_max``; otherwise SO_RCVBUF is capped by it.
    """
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    try:
        if force is None:
            raise PermissionError
        sock.setsockopt(socket.SOL_SOCKET, force, size)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    granted: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    log.debug("UDP receive buffer: asked %d, got %d bytes", size, granted)
    return granted


# ---------------------------------------------------------------------------------------------------------
# Client


# Keys the community index digest (see ``_auth_data``); new each process, never stored.
_INDEX_KEY = secrets.token_bytes(32)


def _auth_data(target: Target) -> CommunityData | UsmUserData:
    credentials = target.settings.credentials
    if isinstance(credentials, UsmCredentials):
        auth_key = credentials.auth_key.get_secret_value() if credentials.auth_key else None
        priv_key = credentials.priv_key.get_secret_value() if credentials.priv_key else None
        return UsmUserData(
            credentials.username,
            authKey=auth_key if credentials.auth_protocol else None,
            privKey=priv_key if credentials.priv_protocol else None,
            authProtocol=_AUTH[credentials.auth_protocol] if credentials.auth_protocol else None,
            privProtocol=_PRIV[credentials.priv_protocol] if credentials.priv_protocol else None,
        )
    community = target.community
    # The community index names the LCD entry and is shown where pysnmp prints a CommunityData (its repr
    # masks only the community). A digest gives every (version, community) its own entry; keyed with a
    # per-process secret, because a plain hash of a guessable community ("public") gives it away.
    digest = hashlib.blake2b(f"{credentials.version}/{community}".encode(), key=_INDEX_KEY, digest_size=8)
    index = "np" + digest.hexdigest()
    return CommunityData(index, community, mpModel=0 if credentials.version == "1" else 1)


class PysnmpClient(BackendClient):
    """SnmpClient on pysnmp 7. Created by ``SnmpClientPool``; set up lazily on the first request."""

    backend = "pysnmp"

    def __init__(self, target: Target, engines: PysnmpEngines, tally: Tally) -> None:
        super().__init__(target, tally)
        self._engines = engines
        self._engine: SnmpEngine | None = None
        self._wire: BoundTransport | None = None
        self._peer: Peer = (target.address, target.port)
        self._auth = _auth_data(target)
        self._transport_target: UdpTransportTarget | Udp6TransportTarget | None = None
        credentials = target.settings.credentials
        context_name = credentials.context_name if isinstance(credentials, UsmCredentials) else ""
        self._context = ContextData(contextName=context_name)
        self._setup_lock = asyncio.Lock()

    async def _ready(self) -> tuple[SnmpEngine, UdpTransportTarget | Udp6TransportTarget]:
        if self._engine is not None and self._transport_target is not None:
            return self._engine, self._transport_target
        async with self._setup_lock:
            if self._engine is None or self._transport_target is None:
                self._check_open()
                settings = self.target.settings
                ipv6 = ":" in self.target.address
                target_cls = Udp6TransportTarget if ipv6 else UdpTransportTarget
                try:
                    self._transport_target = await target_cls.create(
                        (self.target.address, settings.port),
                        timeout=settings.timeout_s,
                        retries=settings.retries,
                    )
                except Exception as exc:  # pysnmp raises PySnmpError for unresolvable names
                    reason = str(exc).split(" caused by ")[0]
                    raise SnmpError(
                        self.target.label, f"cannot resolve {self.target.address}: {reason}"
                    ) from exc
                tries = settings.retries + 1
                self._engine, self._wire = await self._engines.assign(ipv6, settings.timeout_s * tries + 5.0)
                address = self._transport_target.transport_address
                self._peer = (str(address[0]), int(address[1]))
            return self._engine, self._transport_target

    def _check(self, indication: Any) -> None:
        if indication is None:
            return
        label = self.target.label
        if isinstance(indication, errind.RequestTimedOut):
            raise self.target.timed_out()
        if isinstance(indication, _AUTH_INDICATIONS):
            raise SnmpAuthError(label, f"SNMPv3 authentication failed: {indication}")
        raise SnmpError(label, str(indication))

    def _status_error(self, status: Any, index: Any, request: Sequence[Oid]) -> SnmpError:
        position = int(index) - 1
        where = f" at {format_oid(request[position])}" if 0 <= position < len(request) else ""
        name = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
        return SnmpError(self.target.label, f"agent error {name}{where}")

    async def _exchange(self, command: Callable[..., Any], *args: Any) -> tuple[Any, Any, Any, Any]:
        engine, transport_target = await self._ready()
        self._tally.requests += 1
        assert self._wire is not None
        waiters = self._wire.binding.waiters.setdefault(self._peer, set())
        fault: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
        waiters.add(fault)
        request = asyncio.ensure_future(
            command(engine, self._auth, transport_target, self._context, *args, lookupMib=False)
        )
        try:
            await asyncio.wait((request, fault), return_when=asyncio.FIRST_COMPLETED)
            if not request.done():
                # The peer answered something pysnmp could not decode: fail now, not at the timeout.
                request.cancel()
                raise self.decode_error(fault.result())
            result: tuple[Any, Any, Any, Any] = request.result()
        except SnmpError:
            raise
        except Exception as exc:  # pysnmp raises its own errors for local failures (encoding, ciphers)
            raise SnmpError(self.target.label, f"{type(exc).__name__}: {exc}") from exc
        finally:
            if not request.done():
                request.cancel()
            waiters.discard(fault)
            if not waiters:
                self._wire.binding.waiters.pop(self._peer, None)
        self._check(result[0])
        return result

    def _rediscover(self) -> None:
        # pysnmp caches the peer's engine ID per transport address for 300 s: drop this agent's entry so the
        # next request starts with discovery.
        if self._engine is not None:
            forget_engine_id(self._engine, self.target.address, self.target.port)

    async def _get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        pending = list(oids)
        result: dict[Oid, SnmpValue] = {}
        async with holding(self._engines.in_flight):
            # v1 answers a whole request with noSuchName when one OID is missing: drop it and ask again.
            while pending:
                request = [ObjectType(ObjectIdentity(oid)) for oid in pending]
                _, status, index, varbinds = await self._exchange(get_cmd, *request)
                if status:
                    code = int(status)
                    if code == _NO_SUCH_NAME and 0 < int(index) <= len(pending):
                        del pending[int(index) - 1]
                        continue
                    if code == _TOO_BIG and len(pending) > 1:
                        return await self._get_each(pending)  # the answer does not fit: one OID a request
                    raise self._status_error(status, index, pending)
                for name, value in varbinds:
                    decoded = decode_value(value)
                    if decoded is not None:
                        result[payload(name)] = decoded
                break
        return result

    async def _get_each(self, oids: list[Oid]) -> dict[Oid, SnmpValue]:
        """One GET per OID (inside ``_get``'s in-flight slot); noSuchName leaves an OID out."""
        result: dict[Oid, SnmpValue] = {}
        for oid in oids:
            _, status, index, varbinds = await self._exchange(get_cmd, ObjectType(ObjectIdentity(oid)))
            if status:
                if int(status) == _NO_SUCH_NAME:
                    continue
                raise self._status_error(status, index, [oid])
            for name, value in varbinds:
                decoded = decode_value(value)
                if decoded is not None:
                    result[payload(name)] = decoded
        return result

    async def _walk(self, root: Oid) -> list[tuple[Oid, SnmpValue]]:
        guard = WalkGuard(root)
        async with holding(self._engines.in_flight):
            if self.target.version == "1":
                rows = await self._walk_next(guard)
            else:
                rows = await self._walk_bulk(guard)
        self._warn(guard)
        return rows

    async def _walk_bulk(self, guard: WalkGuard) -> list[tuple[Oid, SnmpValue]]:
        out: list[tuple[Oid, SnmpValue]] = []
        append = out.append
        repetitions = self.target.max_repetitions
        while True:
            _, status, index, varbinds = await self._exchange(
                bulk_cmd, 0, repetitions, ObjectType(ObjectIdentity(guard.last))
            )
            if status:
                if int(status) == _TOO_BIG and repetitions > 1:
                    repetitions = max(1, repetitions // 2)  # the agent cannot fit that many: ask for fewer
                    continue
                raise self._status_error(status, index, [guard.last])
            if not varbinds:
                break
            for name, value in varbinds:
                oid = payload(name)
                if _is_end(value) or not guard.accept(oid):
                    return out
                decoded = decode_value(value)
                if decoded is not None:
                    append((oid, decoded))
        return out

    async def _walk_next(self, guard: WalkGuard) -> list[tuple[Oid, SnmpValue]]:
        out: list[tuple[Oid, SnmpValue]] = []
        while True:
            _, status, index, varbinds = await self._exchange(
                next_cmd, ObjectType(ObjectIdentity(guard.last))
            )
            if status:
                if int(status) == _NO_SUCH_NAME:  # v1: end of the MIB view
                    break
                raise self._status_error(status, index, [guard.last])
            if not varbinds:
                break
            name, value = varbinds[0]
            oid = payload(name)
            if _is_end(value) or not guard.accept(oid):
                break
            decoded = decode_value(value)
            if decoded is not None:
                out.append((oid, decoded))
        return out

    def close(self) -> None:
        """Nothing to release per client: the engines belong to the pool."""
        self._engine = None
        self._wire = None
        self._transport_target = None
