from __future__ import annotations

import pytest
from pyasn1.codec.ber import decoder
from pysnmp.proto.api import v2c

from netpoll.inputs.traps.decode import NotNotification, decode, inform_response
from tests.unit.inputs.traps.datagrams import V1_LINK_DOWN, V2C_INFORM_COLD_START, V2C_LINK_UP

IF_INDEX_3 = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 3)


def test_v1_trap_becomes_its_v2_form() -> None:
    note = decode(V1_LINK_DOWN)
    assert (note.version, note.kind, note.community) == ("1", "trap", b"public")
    assert note.trap_oid_text == "1.3.6.1.6.3.1.1.5.3"  # generic-trap 2 (RFC 3584)
    assert note.agent_addr == "127.0.0.9"
    assert note.uptime == 12345
    assert (IF_INDEX_3, 3) in note.varbinds


def test_v2c_trap_agent_address_from_snmp_trap_address() -> None:
    note = decode(V2C_LINK_UP)
    assert (note.version, note.kind, note.trap_oid_text) == ("2c", "trap", "1.3.6.1.6.3.1.1.5.4")
    assert note.agent_addr == "127.0.0.7"
    assert note.varbinds[1] == ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, 3), b"eth\x1b0")


def test_inform_response_echoes_request_id_and_varbinds() -> None:
    note = decode(V2C_INFORM_COLD_START)
    assert note.kind == "inform"
    response, _ = decoder.decode(inform_response(note), asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(response)
    inform, _ = decoder.decode(V2C_INFORM_COLD_START, asn1Spec=v2c.Message())
    request = v2c.apiMessage.get_pdu(inform)
    assert pdu.tagSet == v2c.ResponsePDU.tagSet
    assert v2c.apiPDU.get_request_id(pdu) == v2c.apiPDU.get_request_id(request)
    assert len(v2c.apiPDU.get_varbinds(pdu)) == 2
    assert bytes(v2c.apiMessage.get_community(response)) == b"public"


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\x00garbage",
        V2C_LINK_UP[:40],  # truncated
        bytes.fromhex(
            "302602010104067075626c6963a019020101020100020100300e300c06082b060102010101000500"
        ),  # GET
    ],
    ids=["empty", "garbage", "truncated", "get-request"],
)
def test_not_a_notification(datagram: bytes) -> None:
    with pytest.raises(NotNotification):
        decode(datagram)
