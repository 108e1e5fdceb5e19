"""SNMP client backend on gufo-snmp 0.13 (compiled BER/USM core, asyncio): the fast path.

gufo-snmp supports v1, v2c and v3 with MD5/SHA/SHA-2 auth and DES/AES-128/192/256 priv, but has no SNMPv3
context name; ``supports`` says which credentials it can serve, and the pool's ``auto`` sends the rest to
pysnmp. One UDP socket per session (per device), so replies for different devices never share a buffer.

gufo returns Python values already: int for every integer type, bytes for OCTET STRING, and str for both
OBJECT IDENTIFIER and IpAddress values. ``decode_value`` tells the two apart by shape: an IpAddress has
exactly four arcs; an OID value with exactly four arcs is taken for an address (real OID values such as
sysObjectID are longer; ``0.0``, zeroDotZero, has two).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Sequence

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
from gufo.snmp import SnmpError as GufoError
from gufo.snmp.aio.client import SnmpSession

from netpoll.errors import SnmpAuthError, SnmpError, SnmpTimeout
from netpoll.inputs.snmp.backend_common import (
    Target,
    WalkGuard,
    community_of,
    record_warning,
    timeout_message,
)
from netpoll.inputs.snmp.types import Oid, SnmpValue, format_oid
from netpoll.inventory.models import SnmpSettings, UsmCredentials

log = logging.getLogger("netpoll.snmp.gufo")

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
        return tuple(map(int, value.split(".")))
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


class GufoClient:
    """SnmpClient on gufo-snmp. Created by ``SnmpClientPool``; the session opens on the first request."""

    backend = "gufo"

    def __init__(self, target: Target, limiter: asyncio.Semaphore, recv_buffer: int = 0) -> None:
        self.target = target
        self.warnings: list[str] = []
        self._limiter = limiter
        self._recv_buffer = recv_buffer
        self._session: SnmpSession | None = None
        self._last_used = 0.0
        self._lock = asyncio.Lock()
        # A gufo session matches a reply to the request in flight on its socket: two concurrent requests
        # (say, two walks of the same device gathered together) would take each other's replies, drop
        # them and time out. One exchange at a time per session.
        self._busy = asyncio.Lock()

    async def _resolve(self) -> str:
        address = self.target.address
        try:
            ipaddress.ip_address(address)
        except ValueError:
            pass
        else:
            return address
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(address, self.target.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise SnmpError(self.target.label, f"cannot resolve {address}: {exc}") from exc
        return str(infos[0][4][0])

    async def _open(self) -> SnmpSession:
        settings = self.target.settings
        credentials = settings.credentials
        address = await self._resolve()
        common = {
            "addr": address,
            "port": settings.port,
            "timeout": settings.timeout_s,
            "max_repetitions": self.target.max_repetitions,
            "recv_buffer": self._recv_buffer,
        }
        try:
            if isinstance(credentials, UsmCredentials):
                session = SnmpSession(user=_user(credentials), version=SnmpVersion.v3, **common)  # type: ignore[arg-type]
                await self._retrying(session.refresh)  # engine ID discovery and time sync
            else:
                version = SnmpVersion.v1 if credentials.version == "1" else SnmpVersion.v2c
                session = SnmpSession(community=community_of(self.target), version=version, **common)  # type: ignore[arg-type]
        except (SnmpError, GufoError, OSError, ValueError) as exc:
            raise self._translate(exc) from exc
        return session

    async def _session_ready(self) -> SnmpSession:
        session = self._session
        if session is None:
            async with self._lock:
                if self._session is None:
                    self._session = await self._open()
                session = self._session
        elif (
            self.target.version == "3"
            and time.monotonic() - self._last_used > _V3_REFRESH_AFTER_S
            and self._last_used
        ):
            await self._retrying(session.refresh)
        return session

    async def _retrying(self, call: object, *args: object) -> object:
        """Run one request coroutine function with the target's retries on timeout."""
        tries = self.target.settings.retries + 1
        for attempt in range(tries):
            try:
                return await call(*args)  # type: ignore[operator]
            except TimeoutError:
                if attempt + 1 == tries:
                    raise SnmpTimeout(self.target.label, timeout_message(self.target)) from None
        raise AssertionError("unreachable")

    def _translate(self, exc: BaseException) -> SnmpError:
        label = self.target.label
        if isinstance(exc, SnmpError):
            return exc
        if isinstance(exc, TimeoutError):
            return SnmpTimeout(label, timeout_message(self.target))
        if isinstance(exc, GufoAuthError):
            return SnmpAuthError(label, "SNMPv3 authentication failed (wrong user, key or protocol)")
        return SnmpError(label, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        """GET scalars; noSuchObject/noSuchInstance (v1: noSuchName) are left out of the result."""
        if not oids:
            return {}
        names = [format_oid(oid) for oid in oids]
        async with self._busy, self._limiter:
            session = await self._session_ready()
            try:
                raw = await self._retrying(session.get_many, names)
                assert isinstance(raw, dict)
                if self.target.version == "1" and len(raw) < len(names) and len(names) > 1:
                    # v1 fails the whole request with noSuchName when one OID is missing; gufo then returns
                    # nothing. Ask one by one for what is missing.
                    for name in names:
                        if name not in raw:
                            try:
                                raw[name] = await self._retrying(session.get, name)
                            except GufoNoSuchInstance:
                                continue
            except (SnmpError, GufoError, OSError) as exc:
                raise self._translate(exc) from exc
            finally:
                self._last_used = time.monotonic()
        result: dict[Oid, SnmpValue] = {}
        for name, value in raw.items():
            decoded = decode_value(value)
            if decoded is not None:
                result[parse_oid_str(name)] = decoded
        return result

    async def walk(self, root: Oid) -> list[tuple[Oid, SnmpValue]]:
        """Everything under ``root`` in agent order: GETBULK (v2c/v3) or GETNEXT (v1)."""
        async with self._busy, self._limiter:
            session = await self._session_ready()
            try:
                return await self._walk(session, root, self.target.max_repetitions)
            except (SnmpError, GufoError, OSError) as exc:
                raise self._translate(exc) from exc
            finally:
                self._last_used = time.monotonic()

    async def _walk(self, session: SnmpSession, root: Oid, repetitions: int) -> list[tuple[Oid, SnmpValue]]:
        rows, guard, stopped = await self._walk_once(session, root, repetitions)
        if self.target.version != "1":
            # gufo ends a GETBULK walk the same way (StopAsyncIteration("stop")) when a response starts past
            # the subtree and when the agent answers an error status such as tooBig. The two can only be
            # confused when the rows end on a response boundary (an absent table included): ask again with
            # fewer repetitions; a real end gives the same rows, a tooBig agent now gives more.
            while stopped and repetitions > 1 and len(rows) % repetitions == 0:
                repetitions = 1 if not rows else repetitions // 2
                again, again_guard, stopped = await self._walk_once(session, root, repetitions)
                if len(again) <= len(rows):
                    break
                rows, guard = again, again_guard
        if guard.warning:
            record_warning(self.warnings, self.target, guard.warning)
        return rows

    async def _walk_once(
        self, session: SnmpSession, root: Oid, repetitions: int
    ) -> tuple[list[tuple[Oid, SnmpValue]], WalkGuard, bool]:
        """One walk: the rows, its guard, and whether gufo's ambiguous "stop" ended it."""
        guard = WalkGuard(root)
        out: list[tuple[Oid, SnmpValue]] = []
        append = out.append
        start = format_oid(root)
        iterator = (
            session.getnext(start)
            if self.target.version == "1"
            else session.getbulk(start, max_repetitions=repetitions)
        )
        tries = self.target.settings.retries + 1
        failures = 0
        stopped = False
        while True:
            try:
                name, value = await iterator.__anext__()
            except StopAsyncIteration as exc:
                stopped = exc.args == ("stop",)
                break
            except TimeoutError:
                # The iterator keeps its position: asking again re-sends the same request.
                failures += 1
                log.debug("%s: walk of %s: timeout, try %d of %d", self.target.label, start, failures, tries)
                if failures >= tries:
                    raise SnmpTimeout(self.target.label, timeout_message(self.target)) from None
                continue
            except GufoError as exc:
                if self.target.version == "1" and "nosuchname" in str(exc).lower().replace(" ", ""):
                    break  # v1 end of MIB view
                raise
            failures = 0
            oid = parse_oid_str(name)
            if not guard.accept(oid):
                break
            decoded = decode_value(value)
            if decoded is not None:
                append((oid, decoded))
        return out, guard, stopped

    async def aclose(self) -> None:
        """Drop the session; its socket closes with it."""
        self._session = None
