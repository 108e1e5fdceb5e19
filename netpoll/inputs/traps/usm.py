"""SNMPv3 notifications (USM): authentication, decryption, engine-ID discovery and the inform's Response.

One pysnmp ``SnmpEngine`` does the RFC 3412/3414 work; netpoll owns the sockets and hands it one datagram at a
time (``accept``), after the flood checks and only from an inventory device polled with SNMPv3. The engine's
replies (a discovery Report, an inform's Response) go back through the ``reply`` the caller gives.

Keys: a USM user's keys are localized to the authoritative engine's ID, which is the *sender's* for a trap
(``snmptrap -v3 -e ENGINEID``) and the *receiver's* for an inform (the sender discovers it first). The
inventory holds passphrases, so the user is (re)installed for the engine ID the message names, with the keys
of the device the datagram came from, just before the engine processes it: no engine IDs to configure, and
two devices may use the same user name with different keys. At most ``MAX_USERS`` (engine ID, user) rows are
kept; the oldest is dropped first.

A wrong user, digest or key is an authentication failure of that device (``UsmFailure``), never an event.
Keys never leave this module: not in logs, not in errors.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyasn1.codec.ber import decoder  # type: ignore[import-untyped]
from pysnmp.entity import config
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto import errind, rfc3411
from pysnmp.proto.api import v2c
from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

from netpoll.inputs.snmp.backend_pysnmp import AUTH_PROTOCOLS, PRIV_PROTOCOLS
from netpoll.inputs.traps.decode import Notification, NotNotification, notification_from_pairs
from netpoll.inventory.models import UsmCredentials

MAX_USERS = 4096
_UDP = (1, 3, 6, 1, 6, 1, 1)  # snmpUDPDomain
# pysnmp's enterprise number with format 5 (octets), as pysnmp itself makes engine IDs (RFC 3411).
_ENGINE_ID_PREFIX = bytes.fromhex("80004fb805")

# What the security model said, as the trap_auth record's reason.
_REASONS: tuple[tuple[Any, str], ...] = (
    (errind.unknownSecurityName, "unknown_user"),
    (errind.authenticationFailure, "wrong_digest"),
    (errind.wrongDigest, "wrong_digest"),
    (errind.decryptionError, "decryption"),
    (errind.notInTimeWindow, "not_in_time_window"),
    (errind.unsupportedSecurityLevel, "unsupported_security_level"),
)


def engine_id_for(name: str) -> bytes:
    """A stable SNMP engine ID for this receiver, from its instance name (RFC 3411 format 5)."""
    digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return _ENGINE_ID_PREFIX + digest


@dataclass(frozen=True, slots=True)
class Header:
    """The cleartext part of an SNMPv3 message that says whose keys apply."""

    engine_id: bytes
    user: bytes


def header(datagram: bytes) -> Header:
    """The authoritative engine ID and user name of an SNMPv3 message.

    Raises:
        NotNotification: not a well-formed SNMPv3 USM message.
    """
    try:
        message, _ = decoder.decode(datagram, asn1Spec=SNMPv3Message())
        params, _ = decoder.decode(bytes(message["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
        return Header(bytes(params["msgAuthoritativeEngineId"]), bytes(params["msgUserName"]))
    except (
        Exception
    ) as exc:  # pyasn1 raises more than PyAsn1Error on hostile bytes (OverflowError): none escapes
        raise NotNotification(f"undecodable SNMPv3: {type(exc).__name__}") from None


@dataclass(frozen=True, slots=True)
class UsmFailure:
    """A message the security model refused: ``reason`` as in the ``trap_auth`` record."""

    reason: str


class _Replies:
    """The engine's transport dispatcher: sends what it answers through the current datagram's ``reply``."""

    def __init__(self) -> None:
        self.reply: Callable[[bytes], object] | None = None

    def send_message(self, message: bytes, domain: Any, address: Any) -> None:
        if self.reply is not None:
            self.reply(bytes(message))

    # The engine asks its dispatcher for timer figures (expiry of cached peer engine times); netpoll runs no
    # pysnmp timers, so those caches simply never expire on their own.
    def get_timer_resolution(self) -> float:
        return 0.5

    def get_timer_ticks(self) -> int:
        return 0


class UsmReceiver:
    """Decodes SNMPv3 traps and informs for the devices' USM users (see the module docstring).

    Args:
        engine_id: this receiver's own engine ID (the authoritative one for informs).
    """

    def __init__(self, engine_id: bytes) -> None:
        self.engine_id = engine_id
        self._engine = SnmpEngine()
        # Set after creation: given to the constructor, pysnmp keeps the engine's boots in a file under /tmp
        # (shared, and opened without being closed). Boots stay 1 here: after a restart an inform sender's
        # first inform fails the time window and it discovers the engine again.
        (engine_id_object,) = self._engine.get_mib_builder().import_symbols(
            "__SNMP-FRAMEWORK-MIB", "snmpEngineID"
        )
        engine_id_object.syntax = engine_id_object.syntax.clone(engine_id)
        self._engine.snmpEngineID = engine_id_object.syntax
        self._replies = _Replies()
        self._engine.transport_dispatcher = self._replies
        ntfrcv.NotificationReceiver(self._engine, self._on_notification)
        self._engine.observer.register_observer(
            self._on_event, "rfc3412.prepareDataElements:sm-failure", "rfc3412.receiveMessage:request"
        )
        self._users: OrderedDict[tuple[bytes, bytes], UsmCredentials] = OrderedDict()
        self._pdu: Any = None
        self._varbinds: list[tuple[Any, Any]] | None = None
        self._failure: str | None = None

    def accept(
        self,
        datagram: bytes,
        address: tuple[str, int],
        credentials: UsmCredentials,
        reply: Callable[[bytes], object] | None,
    ) -> Notification | UsmFailure | None:
        """Process one SNMPv3 datagram from a device polled with ``credentials``.

        Returns the notification; a ``UsmFailure`` (wrong user, digest, key, time window); or None for
        what is neither (an engine-ID discovery probe, answered with a Report through ``reply``).

        Raises:
            NotNotification: not a well-formed SNMPv3 message, or not a trap or inform.
        """
        head = header(datagram)
        if head.user and head.user != credentials.username.encode("utf-8", "surrogateescape"):
            return UsmFailure("unknown_user")  # another device's user, or a guess: never tried on its keys
        if head.user and head.engine_id:
            self._install(head.engine_id, credentials)
        self._pdu = self._varbinds = self._failure = None
        self._replies.reply = reply
        try:
            self._engine.message_dispatcher.receive_message(self._engine, _UDP, address, datagram)
        except Exception as exc:  # pysnmp raises its own on malformed scoped PDUs: never a traceback
            raise NotNotification(f"undecodable SNMPv3: {type(exc).__name__}") from None
        finally:
            self._replies.reply = None
        if self._failure is not None:
            return UsmFailure(self._failure)
        if self._varbinds is None or self._pdu is None:
            return None
        kind = "inform" if self._pdu.tagSet in rfc3411.CONFIRMED_CLASS_PDUS else "trap"
        pairs = [(tuple(oid), value) for oid, value in self._varbinds]
        return notification_from_pairs("3", b"", kind, pairs, "", None)

    def _install(self, engine_id: bytes, credentials: UsmCredentials) -> None:
        """Make (engine_id, user) hold these credentials' keys, localized to ``engine_id``."""
        key = (engine_id, credentials.username.encode("utf-8", "surrogateescape"))
        if self._users.get(key) == credentials:
            self._users.move_to_end(key)
            return
        if key in self._users:
            self._delete(key)
        elif len(self._users) >= MAX_USERS:
            oldest, _ = self._users.popitem(last=False)
            self._delete(oldest)
        auth, priv = credentials.auth_protocol, credentials.priv_protocol
        config.add_v3_user(
            self._engine,
            credentials.username,
            authProtocol=AUTH_PROTOCOLS[auth] if auth else config.USM_AUTH_NONE,
            authKey=credentials.auth_key.get_secret_value() if auth and credentials.auth_key else None,
            privProtocol=PRIV_PROTOCOLS[priv] if priv else config.USM_PRIV_NONE,
            privKey=credentials.priv_key.get_secret_value() if priv and credentials.priv_key else None,
            securityEngineId=v2c.OctetString(engine_id),
        )
        self._users[key] = credentials

    def _delete(self, key: tuple[bytes, bytes]) -> None:
        engine_id, user = key
        config.delete_v3_user(self._engine, user, securityEngineId=v2c.OctetString(engine_id))

    def _on_event(self, engine: Any, execpoint: str, variables: dict[str, Any], ctx: Any) -> None:
        if execpoint == "rfc3412.receiveMessage:request":
            self._pdu = variables.get("pdu")
            return
        indication = variables.get("statusInformation", {}).get("errorIndication")
        for known, reason in _REASONS:
            if indication == known:
                self._failure = reason
                return

    def _on_notification(
        self, engine: Any, state: Any, context_engine_id: Any, context_name: Any, varbinds: Any, ctx: Any
    ) -> None:
        self._varbinds = list(varbinds)
