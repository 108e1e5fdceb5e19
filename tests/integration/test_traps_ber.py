"""The BER fast path on what net-snmp ``snmptrap``/``snmpinform`` (Debian ``snmp``) send: every value type.

Each datagram is caught from a loopback UDP socket and decoded both ways (the fast path, and pysnmp alone),
field by field; the informs are answered with ``inform_response`` (the fast path's Response, or pysnmp's for
the inform it leaves to pysnmp), and ``snmpinform`` exits 0 only if it took the answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from netpoll.inputs.traps import ber
from netpoll.inputs.traps.decode import decode, decode_pysnmp, inform_response
from tests.harness.process import require_binary
from tests.integration.test_traps import send
from tests.unit.inputs.traps.test_ber import outcome

pytestmark = pytest.mark.network

X = "1.3.6.1.4.1.8072.9"
# (type letter, value) for snmptrap: every type it sends, at the edges of its range where it has one.
V2C_VALUES = [
    ("i", "-2147483647"), ("i", "2147483647"), ("u", "4294967295"), ("c", "4294967295"),
    ("C", "18446744073709551615"), ("t", "0"), ("a", "192.0.2.1"), ("o", "1.3.6.1.4.1.8072.99.4294967295"),
    ("s", "eth\x1b0"), ("x", "00ff80"), ("d", "1.2.3"), ("n", "x"), ("b", "1,3"),
    ("U", "18446744073709551615"), ("I", "-5"), ("F", "1.5"), ("D", "2.5"),
]  # fmt: skip
V1_VALUES = [("i", "-5"), ("u", "4294967295"), ("c", "42"), ("t", "4294967295"), ("a", "192.0.2.1"),
             ("o", "1.3.6.1.4.1.8072.99"), ("s", "x" * 300), ("x", "00ff"), ("n", "x")]  # fmt: skip
# pysnmp would answer -2^31 (written in 4 bytes) in 5: the fast path leaves such an inform to pysnmp.
PYSNMP_INFORM = [("i", "-2147483648")]


def _varbinds(values: list[tuple[str, str]]) -> list[str]:
    return [arg for n, (kind, value) in enumerate(values, 1) for arg in (f"{X}.{n}", kind, value)]


class _Catcher(asyncio.DatagramProtocol):
    """Keeps every datagram; answers an inform with the fast path's Response."""

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.append(data)
        note = decode(data)
        if note.kind == "inform":
            self.transport.sendto(inform_response(note), addr)


def test_net_snmp_notifications_decode_alike_and_informs_are_answered() -> None:
    snmptrap = require_binary("snmptrap", "Debian package snmp")
    snmpinform = require_binary("snmpinform", "Debian package snmp")

    async def scenario() -> list[bytes]:
        loop = asyncio.get_running_loop()
        transport, catcher = await loop.create_datagram_endpoint(_Catcher, local_addr=("127.0.0.1", 0))
        try:
            target = f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"
            v1 = ["-v1", "-c", "public", target, "1.3.6.1.4.1.8072.2.3", "127.0.0.9"]
            assert await send(snmptrap, *v1, "6", "17", "12345", *_varbinds(V1_VALUES)) == 0
            assert await send(snmptrap, *v1, "3", "0", "", *_varbinds(V1_VALUES[:2])) == 0
            v2c = ["-v2c", "-c", "public", target]
            assert await send(snmptrap, *v2c, "12345", f"{X}.0.1", *_varbinds(V2C_VALUES)) == 0
            inform = ["-v2c", "-c", "s3cret", "-t", "10", "-r", "0", target]
            assert await send(snmpinform, *inform, "4294967295", f"{X}.0.2", *_varbinds(V2C_VALUES)) == 0
            assert await send(snmpinform, *inform, "", "1.3.6.1.6.3.1.1.5.1") == 0
            assert await send(snmpinform, *inform, "", f"{X}.0.3", *_varbinds(PYSNMP_INFORM)) == 0
            return catcher.datagrams
        finally:
            transport.close()

    datagrams = asyncio.run(scenario())
    assert len(datagrams) == 6
    for datagram in datagrams[:5]:
        ber.decode_message(datagram)  # the fast path reads it all
    with pytest.raises(ber.Unsupported):
        ber.decode_message(datagrams[5])
    for datagram in datagrams:
        assert outcome(decode, datagram) == outcome(decode_pysnmp, datagram)
    kinds = [decode(datagram).kind for datagram in datagrams]
    assert kinds == ["trap", "trap", "trap", "inform", "inform", "inform"]
