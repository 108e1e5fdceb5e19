"""Contract of the pysnmp and pyasn1 internals netpoll uses (``netpoll.compat.pysnmp``): pinned 7.1 / 0.6.

No agent: value payloads are read from pyasn1 objects, a transport is opened on loopback (nothing sent), and
the engine-ID cache of a fresh engine is filled and emptied the way pysnmp keys it.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine
from pysnmp.proto import rfc1902
from pysnmp.proto.mpmod.rfc3412 import SnmpV3MessageProcessingModel

from netpoll.compat.pysnmp import forget_engine_id, payload, receive_callback, use_request_ids, wait_open

CACHE = "_SnmpV3MessageProcessingModel__engineIdCache"
EXPIRY = "_SnmpV3MessageProcessingModel__engineIdCacheExpQueue"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (rfc1902.Integer32(-5), -5),
        (rfc1902.Counter32(4294967295), 4294967295),
        (rfc1902.Counter64(2**64 - 1), 2**64 - 1),
        (rfc1902.Gauge32(7), 7),
        (rfc1902.TimeTicks(123456), 123456),
        (rfc1902.OctetString(b"eth0\xff"), b"eth0\xff"),
        (rfc1902.ObjectIdentifier((1, 3, 6, 1, 4, 1, 8072)), (1, 3, 6, 1, 4, 1, 8072)),
        (rfc1902.IpAddress("192.0.2.7"), b"\xc0\x00\x02\x07"),
    ],
)
def test_payload_is_the_decoded_python_value(value: Any, expected: object) -> None:
    assert payload(value) == expected
    assert type(payload(value)) is type(expected)


async def test_wait_open_gives_a_transport_with_its_socket() -> None:
    transport = udp.UdpAsyncioTransport().open_client_mode()
    try:
        await wait_open(transport)
        sock = transport.transport.get_extra_info("socket")
        assert sock is not None
        assert sock.type == socket.SOCK_DGRAM
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) > 0  # what set_recv_buffer tunes
    finally:
        transport.close_transport()


def _v3_model(engine: SnmpEngine) -> SnmpV3MessageProcessingModel:
    models = [
        m
        for m in engine.message_processing_subsystems.values()
        if isinstance(m, SnmpV3MessageProcessingModel)
    ]
    assert len(models) == 1
    return models[0]


def test_forget_engine_id_drops_the_agent_and_its_expiry() -> None:
    engine = SnmpEngine()
    try:
        model = _v3_model(engine)
        cache, expiry = getattr(model, CACHE), getattr(model, EXPIRY)
        assert cache == {}
        assert expiry == {}
        agent = udp.UdpTransportAddress(("127.0.0.1", 16161))
        other = udp.UdpTransportAddress(("127.0.0.2", 16161))
        entry = {"securityEngineId": b"\x80\x00", "contextEngineId": b"\x80\x00", "contextName": b""}
        # As prepare_data_elements caches a peer: (domain, transport address) → entry, queued to expire.
        for address in (agent, other):
            cache[udp.DOMAIN_NAME, address] = dict(entry)
            expiry.setdefault(1, []).append((udp.DOMAIN_NAME, address))
        assert model.get_peer_engine_info(udp.DOMAIN_NAME, agent)[0] == b"\x80\x00"

        assert forget_engine_id(engine, "127.0.0.1", 16161) == 1
        assert model.get_peer_engine_info(udp.DOMAIN_NAME, agent) == (None, None, None)
        assert model.get_peer_engine_info(udp.DOMAIN_NAME, other)[0] == b"\x80\x00"
        # pysnmp's expiry tick deletes what its queue names: the forgotten agent must be gone from it too.
        model.receive_timer_tick(engine, 0)
        model.receive_timer_tick(engine, 0)
        assert model.get_peer_engine_info(udp.DOMAIN_NAME, other) == (None, None, None)
    finally:
        engine.close_dispatcher()


def test_use_request_ids_feeds_msg_ids_and_pdu_request_ids() -> None:
    from pysnmp.proto.api import v2c
    from pysnmp.proto.mpmod.cache import Cache

    from netpoll.inputs.snmp.pysnmp_wire import randomise_ids

    issued = iter(range(1000, 2000))
    use_request_ids(lambda: next(issued))
    try:
        assert Cache().new_message_id() == 1000
        pdu = v2c.GetRequestPDU()
        v2c.apiPDU.set_defaults(pdu)
        assert int(v2c.apiPDU.get_request_id(pdu)) == 1001
    finally:
        randomise_ids()
    ids = {Cache().new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert max(ids) - min(ids) > 1000  # not a run of consecutive numbers


async def test_receive_callback_is_what_register_callback_set() -> None:
    transport = udp.UdpAsyncioTransport()
    assert receive_callback(transport) is None

    def callback(*args: Any) -> None:
        pass

    transport.register_callback(callback)
    assert receive_callback(transport) is callback
