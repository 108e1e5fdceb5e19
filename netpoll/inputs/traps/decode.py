"""SNMP v1/v2c notification messages: bytes → ``Notification``, and the Response that acknowledges an inform.

SNMPv3 messages are recognised here and decoded by ``netpoll.inputs.traps.usm`` (they need the USM user).

Two decoders, one result. ``netpoll.inputs.traps.ber`` first: a strict BER decoder for the canonical encoding
agents send, about fifty times faster. What it does not read (SNMPv3, other PDUs, unusual but valid
encodings) goes to pysnmp (its protocol API and pyasn1's BER decoder; gufo-snmp has no notification decoder,
its sockets are command generators only), so what is accepted never depends on which decoder read it. A v1
Trap-PDU is turned into the SNMPv2 form as RFC 3584 3.1 says (pysnmp: its RFC 2576 proxy), so both versions
give ``snmpTrapOID.0`` and the v1 agent-addr as ``snmpTrapAddress.0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyasn1.codec.ber import decoder, encoder  # type: ignore[import-untyped]
from pysnmp.proto import api
from pysnmp.proto.proxy import rfc2576

from netpoll.inputs.snmp.backend_pysnmp import decode_value
from netpoll.inputs.snmp.types import Oid, SnmpValue, format_oid
from netpoll.inputs.traps import ber

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
SNMP_TRAP_ADDRESS = (1, 3, 6, 1, 6, 3, 18, 1, 3, 0)
# A proxy's snmpTrapCommunity.0 holds a community (a secret): never kept.
SNMP_TRAP_COMMUNITY = (1, 3, 6, 1, 6, 3, 18, 1, 4, 0)
SNMP_TRAP_ENTERPRISE = (1, 3, 6, 1, 6, 3, 1, 1, 4, 3, 0)
_SNMP_TRAPS = (1, 3, 6, 1, 6, 3, 1, 1, 5)  # snmpTraps: coldStart is .1 (RFC 3418)
_ENTERPRISE_SPECIFIC = 6  # v1 generic-trap enterpriseSpecific (RFC 1157)

_V1, _V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_1], api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
_SNMP_V3 = 3  # msgVersion of SNMPv3 (RFC 3412)
_VERSIONS = {api.SNMP_VERSION_1: "1", api.SNMP_VERSION_2C: "2c"}
_NOTIFICATIONS = {
    _V1.TrapPDU.tagSet: "trap",
    _V2C.SNMPv2TrapPDU.tagSet: "trap",
    _V2C.InformRequestPDU.tagSet: "inform",
}


class NotNotification(ValueError):
    """The datagram is not an SNMP v1/v2c trap or inform (garbage, another PDU, or SNMPv3)."""


class SnmpV3Message(NotNotification):
    """An SNMPv3 message: decoded by ``netpoll.inputs.traps.usm`` with the sender's USM user."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One decoded trap or inform.

    Attributes:
        version: ``"1"``, ``"2c"`` or ``"3"``.
        community: the community as sent (a secret: never shown); empty for SNMPv3.
        kind: ``"trap"`` or ``"inform"``.
        trap_oid: ``snmpTrapOID.0`` (for v1: from generic/specific trap and enterprise, RFC 3584).
        varbinds: the other variable bindings in order (``sysUpTime.0``, ``snmpTrapOID.0`` and the secret
            ``snmpTrapCommunity.0`` left out).
        agent_addr: the v1 agent-addr or a v2c ``snmpTrapAddress.0``; "" when absent.
        uptime: the sender's ``sysUpTime.0`` (v1 time-stamp) in hundredths of a second, or None.
    """

    version: str
    community: bytes
    kind: str
    trap_oid: Oid
    varbinds: tuple[tuple[Oid, SnmpValue | None], ...]
    agent_addr: str
    uptime: int | None
    request: Any = None  # what the inform's Response is made from (``inform_response``)

    @property
    def trap_oid_text(self) -> str:
        """``trap_oid`` as dotted decimal."""
        return format_oid(self.trap_oid)


def decode(datagram: bytes) -> Notification:
    """Decode one datagram: the fast BER decoder, else pysnmp (``decode_pysnmp``).

    Raises:
        NotNotification: not a v1/v2c trap or inform, or not valid BER.
    """
    try:
        message = ber.decode_message(datagram)
    except ber.Unsupported:
        return decode_pysnmp(datagram)
    except ber.Malformed as exc:
        raise NotNotification(f"undecodable: {exc}") from None
    trap = message.trap
    if trap is None:
        kind = "inform" if message.pdu == ber.INFORM else "trap"
        return notification_from_values("2c", message.community, kind, message.varbinds, "", message.inform)
    # RFC 3584 3.1 in pysnmp's order (its RFC 2576 proxy): sysUpTime.0, snmpTrapOID.0, snmpTrapAddress.0,
    # (snmpTrapCommunity.0, empty, left out anyway), snmpTrapEnterprise.0, then the PDU's variable bindings.
    if trap.generic == _ENTERPRISE_SPECIFIC:
        trap_oid = (*trap.enterprise, 0, trap.specific)
    else:
        trap_oid = (*_SNMP_TRAPS, trap.generic + 1)
    pairs: list[tuple[Oid, SnmpValue | None]] = [
        (SYS_UPTIME, trap.timestamp),
        (SNMP_TRAP_OID, trap_oid),
        (SNMP_TRAP_ADDRESS, trap.agent_addr),
        (SNMP_TRAP_ENTERPRISE, trap.enterprise),
        *message.varbinds,
    ]
    return notification_from_values("1", message.community, "trap", pairs, trap.agent_addr, None)


def decode_pysnmp(datagram: bytes) -> Notification:
    """Decode one datagram with pysnmp alone (what ``decode`` falls back to).

    Raises:
        NotNotification: not a v1/v2c trap or inform, or not valid BER.
    """
    try:
        version = int(api.decodeMessageVersion(datagram))
        if version == _SNMP_V3:
            raise SnmpV3Message("SNMPv3: needs the sender's USM user")
        module = api.PROTOCOL_MODULES[version]
        message, _rest = decoder.decode(datagram, asn1Spec=module.Message())
        pdu = module.apiMessage.get_pdu(message)
        kind = _NOTIFICATIONS.get(pdu.tagSet)
        if kind is None:
            raise NotNotification("not a trap or inform PDU")
        community = bytes(module.apiMessage.get_community(message))
        agent_addr = ""
        if version == api.SNMP_VERSION_1:
            agent_addr = str(_V1.apiTrapPDU.get_agent_address(pdu).prettyPrint())
            pdu = rfc2576.v1_to_v2(pdu)
        pairs = [(tuple(oid), value) for oid, value in _V2C.apiPDU.get_varbinds(pdu)]
    except NotNotification:
        raise
    except Exception as exc:
        # Hostile bytes make pyasn1 raise more than PyAsn1Error: a length of 9 octets and more raised
        # OverflowError (found by fuzzing), which escaped and ended the receiver's loop. None may escape.
        raise NotNotification(f"undecodable: {type(exc).__name__}") from None
    return notification_from_pairs(_VERSIONS[version], community, kind, pairs, agent_addr, message)


def notification_from_pairs(
    version: str, community: bytes, kind: str, pairs: list[tuple[Oid, Any]], agent_addr: str, message: Any
) -> Notification:
    """A ``Notification`` from SNMPv2 variable bindings decoded by pysnmp (pyasn1 values).

    Raises:
        NotNotification: no ``snmpTrapOID.0`` among them.
    """
    values = [(oid, decode_value(raw)) for oid, raw in pairs]
    return notification_from_values(version, community, kind, values, agent_addr, message)


def notification_from_values(
    version: str,
    community: bytes,
    kind: str,
    pairs: list[tuple[Oid, SnmpValue | None]],
    agent_addr: str,
    request: Any,
) -> Notification:
    """A ``Notification`` from SNMPv2 variable bindings (``sysUpTime.0``, ``snmpTrapOID.0``, ...).

    ``request`` is what ``inform_response`` answers from (the pysnmp message, or ``ber.InformRequest``).

    Raises:
        NotNotification: no ``snmpTrapOID.0`` among them.
    """
    trap_oid: Oid = ()
    uptime = None
    varbinds = []
    for oid, value in pairs:
        if oid == SNMP_TRAP_OID and isinstance(value, tuple):
            trap_oid = value
        elif oid == SYS_UPTIME and isinstance(value, int):
            uptime = value
        elif oid == SNMP_TRAP_COMMUNITY:
            continue
        else:
            if oid == SNMP_TRAP_ADDRESS and isinstance(value, str) and not agent_addr:
                agent_addr = value
            varbinds.append((oid, value))
    if not trap_oid:
        raise NotNotification("no snmpTrapOID.0")
    return Notification(version, community, kind, trap_oid, tuple(varbinds), agent_addr, uptime, request)


def inform_response(notification: Notification) -> bytes:
    """The Response-PDU that acknowledges an inform (same request-id and varbinds, RFC 3416 4.2.7)."""
    request = notification.request
    if isinstance(request, ber.InformRequest):
        return request.response()
    response = _V2C.apiMessage.get_response(request)
    varbinds = _V2C.apiPDU.get_varbinds(_V2C.apiMessage.get_pdu(request))
    _V2C.apiPDU.set_varbinds(_V2C.apiMessage.get_pdu(response), varbinds)
    return bytes(encoder.encode(response))
