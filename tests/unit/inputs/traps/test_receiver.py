"""The receiver's accounting without sockets: matching, wrong communities, unknown senders, flood limits."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import SecretStr

from netpoll.inputs.traps.receiver import TrapReceiver, _Buckets, _Throttle
from netpoll.inputs.traps.sources import Sources
from netpoll.inventory.models import Device, SnmpSettings, UsmCredentials
from tests.unit.inputs.traps.datagrams import (
    V1_LINK_DOWN,
    V2C_INFORM_COLD_START,
    V2C_LINK_UP,
    V3_AUTH_PRIV_COLD_START,
    V3_SHA256_AES128_LINK_DOWN,
)
from tests.unit.inputs.traps.test_sources import device


class _Transport:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append((data, addr))


def receiver(**kwargs: Any) -> TrapReceiver:
    return TrapReceiver([("127.0.0.1", 0)], Sources([device("r1", "127.0.0.5")]), **kwargs)


def test_known_device_with_its_community_is_an_event() -> None:
    traps = receiver()
    trap = traps.accept(V2C_LINK_UP, "127.0.0.5")
    assert trap is not None
    assert (trap.device_name, trap.name) == ("r1", "linkUp")
    sample = trap.to_sample()
    assert sample.tags["device"] == "r1"
    assert sample.tags["trap"] == "linkUp"
    assert traps.stats.events == 1


def test_wrong_community_is_an_auth_failure_not_an_event(caplog: pytest.LogCaptureFixture) -> None:
    traps = TrapReceiver([], Sources([device("r1", "127.0.0.5", community="secret")]))
    with caplog.at_level(logging.INFO, logger="netpoll.traps"):
        for _ in range(3):
            assert traps.accept(V2C_LINK_UP, "127.0.0.5") is None
    assert traps.stats.auth_failures == {"r1": 3}
    assert traps.stats.events == 0
    assert len(caplog.records) == 1  # rate-limited
    assert "secret" not in caplog.text
    assert "public" not in caplog.text


def test_unknown_sender_is_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    traps = receiver()
    with caplog.at_level(logging.INFO, logger="netpoll.traps"):
        for _ in range(5):
            assert traps.accept(V1_LINK_DOWN, "127.0.0.77") is None  # agent-addr 127.0.0.9: unknown too
    assert traps.stats.unknown_source == 5
    assert len(caplog.records) == 1


def test_inform_acknowledged_only_when_accepted() -> None:
    sent: list[bytes] = []
    traps = receiver()
    assert traps.accept(V2C_INFORM_COLD_START, "127.0.0.99", sent.append) is None
    assert sent == []  # an unknown sender's inform is not acknowledged
    assert traps.accept(V2C_INFORM_COLD_START, "127.0.0.5", sent.append) is not None
    assert len(sent) == 1
    assert traps.stats.informs_acknowledged == 1


def test_without_inventory_every_sender_is_shown() -> None:
    trap = TrapReceiver([]).accept(V1_LINK_DOWN, "127.0.0.77")
    assert trap is not None
    assert trap.device_name == "127.0.0.77"
    assert trap.to_sample().tags["device"] == "127.0.0.77"


def test_snmpv3_without_an_inventory_is_counted_apart(caplog: pytest.LogCaptureFixture) -> None:
    traps = TrapReceiver([])
    with caplog.at_level(logging.INFO, logger="netpoll.traps"):
        for _ in range(2):
            assert traps.accept(V3_AUTH_PRIV_COLD_START, "127.0.0.5") is None
    assert (traps.stats.v3_unsupported, traps.stats.undecodable) == (2, 0)
    assert len(caplog.records) == 1
    assert "SNMPv3" in caplog.text


def test_snmpv3_from_a_device_with_a_community_is_an_auth_failure() -> None:
    failures: list[tuple[str, str, str]] = []
    traps = receiver(on_auth_failure=lambda dev, source, reason: failures.append((dev.name, source, reason)))
    assert traps.accept(V3_AUTH_PRIV_COLD_START, "127.0.0.5") is None
    assert failures == [("r1", "127.0.0.5", "unknown_user")]
    assert traps.stats.auth_failures == {"r1": 1}


def test_snmpv3_from_a_v3_device_is_an_event_and_a_wrong_key_a_failure() -> None:
    creds = UsmCredentials(
        profile="v3",
        username="ops",
        auth_protocol="SHA256",
        auth_key=SecretStr("auth-pass-1"),
        priv_protocol="AES128",
        priv_key=SecretStr("priv-pass-1"),
    )
    good = Device(name="r3", address="127.0.0.5", snmp=SnmpSettings(credentials=creds))
    bad_creds = creds.model_copy(update={"auth_key": SecretStr("nope-nope")})
    bad = Device(name="r4", address="127.0.0.6", snmp=SnmpSettings(credentials=bad_creds))
    failures: list[str] = []
    traps = TrapReceiver(
        [], Sources([good, bad]), on_auth_failure=lambda dev, source, reason: failures.append(reason)
    )
    trap = traps.accept(V3_SHA256_AES128_LINK_DOWN, "127.0.0.5")
    assert trap is not None
    assert (trap.device_name, trap.name, trap.to_sample().tags["version"]) == ("r3", "linkDown", "3")
    assert traps.accept(V3_SHA256_AES128_LINK_DOWN, "127.0.0.6") is None
    assert failures == ["wrong_digest"]
    assert traps.stats.auth_failures == {"r4": 1}


def test_garbage_is_counted() -> None:
    traps = receiver()
    assert traps.accept(b"\x30\x03\x02\x01", "127.0.0.5") is None
    assert traps.stats.undecodable == 1


def test_queue_bound_and_per_source_rate() -> None:
    traps = receiver(queue_size=3, rate_per_source=1.0)  # burst of 2 per sender
    transport: Any = _Transport()
    for _ in range(5):
        traps.offer(V2C_LINK_UP, ("127.0.0.5", 1000), transport)
    for last in range(5):
        traps.offer(V2C_LINK_UP, (f"127.0.1.{last}", 1000), transport)
    stats = traps.stats
    assert (stats.received, stats.rate_dropped, stats.queue_dropped) == (10, 3, 4)


def test_bucket_refills_at_its_rate() -> None:
    bucket = _Buckets(rate=2.0)
    assert [bucket.allow("a", 0.0) for _ in range(5)] == [True] * 4 + [False]
    assert bucket.allow("a", 0.5)
    assert not bucket.allow("a", 0.5)
    assert bucket.allow("b", 0.5)


def test_throttle() -> None:
    throttle = _Throttle(60.0)
    assert [throttle.due("k", t) for t in (0.0, 30.0, 60.0, 61.0)] == [True, False, True, False]
