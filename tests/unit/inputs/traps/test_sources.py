from __future__ import annotations

import pytest
from pydantic import SecretStr

from netpoll.inputs.traps.sources import Sources
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings, UsmCredentials


def device(name: str, address: str, community: str | None = "public") -> Device:
    credentials = (
        CommunityCredentials(profile="c", version="2c", community=SecretStr(community))
        if community is not None
        else UsmCredentials(profile="u", username="ops")
    )
    return Device(name=name, address=address, snmp=SnmpSettings(credentials=credentials))


SOURCES = Sources(
    [
        device("r1", "127.0.0.5"),
        device("r6", "::1"),
        device("v3", "127.0.0.6", community=None),
        device("dns", "router.example.invalid"),  # never matched: no lookups
        Device(name="noprobe", address="127.0.0.8"),
    ]
)


@pytest.mark.parametrize(
    ("source", "agent_addr", "community", "expected"),
    [
        ("127.0.0.5", "", b"public", ("r1", True)),
        ("127.0.0.5", "", b"guess", ("r1", False)),
        ("::ffff:127.0.0.5", "", b"public", ("r1", True)),  # dual-stack socket
        ("::1", "", b"public", ("r6", True)),
        ("0:0::1", "", b"public", ("r6", True)),  # not written as the key is: parsed
        ("127.0.0.99", "127.0.0.5", b"public", ("r1", True)),  # relayed: agent-addr / snmpTrapAddress.0
        ("127.0.0.6", "", b"public", ("v3", False)),  # polled with v3: no community to match
        ("127.0.0.8", "", b"public", ("noprobe", False)),  # not polled over SNMP
        ("127.0.0.99", "", b"public", None),
        ("127.0.0.99", "not-an-address", b"public", None),
    ],
)
def test_match(source: str, agent_addr: str, community: bytes, expected: tuple[str, bool] | None) -> None:
    match = SOURCES.match(source, agent_addr, community)
    assert (None if match is None else (match.device.name, match.authentic)) == expected


def test_dns_named_devices_are_not_indexed() -> None:
    assert len(SOURCES) == 4
