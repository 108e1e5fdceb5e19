"""Value decoding of both SNMP backends, walk bookkeeping and the pool's backend choice: table-driven."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pysnmp.proto import rfc1155, rfc1902, rfc1905

from netpoll.inputs.snmp import backend_gufo, backend_pysnmp
from netpoll.inputs.snmp.backend_common import Target, WalkGuard, timeout_message
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.types import Oid, SnmpValue
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings, UsmCredentials

PYSNMP_CASES: list[tuple[str, Any, SnmpValue | None]] = [
    ("Integer32 negative", rfc1902.Integer32(-5), -5),
    ("Integer", rfc1902.Integer(7), 7),
    ("Counter32 max", rfc1902.Counter32(2**32 - 1), 2**32 - 1),
    ("Gauge32", rfc1902.Gauge32(1_000_000_000), 1_000_000_000),
    ("Unsigned32", rfc1902.Unsigned32(42), 42),
    ("TimeTicks", rfc1902.TimeTicks(123456), 123456),
    ("Counter64 max", rfc1902.Counter64(2**64 - 1), 2**64 - 1),
    ("OctetString text", rfc1902.OctetString("Gi0/1"), b"Gi0/1"),
    ("OctetString binary", rfc1902.OctetString(b"\x00\x1b\xff"), b"\x00\x1b\xff"),
    ("OctetString empty", rfc1902.OctetString(b""), b""),
    ("Opaque", rfc1902.Opaque(b"\x9f\x78\x04"), b"\x9f\x78\x04"),
    ("Bits", rfc1902.Bits(b"\x80"), b"\x80"),
    ("IpAddress", rfc1902.IpAddress("192.0.2.1"), "192.0.2.1"),
    ("ObjectIdentifier", rfc1902.ObjectIdentifier("1.3.6.1.4.1.9.1.1208"), (1, 3, 6, 1, 4, 1, 9, 1, 1208)),
    ("ObjectName", rfc1902.ObjectName("1.3.6.1.2.1.1.1.0"), (1, 3, 6, 1, 2, 1, 1, 1, 0)),
    ("v1 Counter", rfc1155.Counter(99), 99),
    ("v1 Gauge", rfc1155.Gauge(98), 98),
    ("v1 TimeTicks", rfc1155.TimeTicks(97), 97),
    ("v1 IpAddress", rfc1155.IpAddress("10.1.2.3"), "10.1.2.3"),
    ("Null", rfc1902.Null(""), None),
    ("noSuchObject", rfc1905.noSuchObject, None),
    ("noSuchInstance", rfc1905.noSuchInstance, None),
    ("endOfMibView", rfc1905.endOfMibView, None),
]


@pytest.mark.parametrize(
    ("value", "expected"), [c[1:] for c in PYSNMP_CASES], ids=[c[0] for c in PYSNMP_CASES]
)
def test_pysnmp_decode(value: Any, expected: SnmpValue | None) -> None:
    decoded = backend_pysnmp.decode_value(value)
    assert decoded == expected
    assert type(decoded) is type(expected)


def test_pysnmp_decode_rejects_unknown_types() -> None:
    with pytest.raises(TypeError):
        backend_pysnmp.decode_value(object())


GUFO_CASES: list[tuple[str, object, SnmpValue | None]] = [
    ("int", 5, 5),
    ("negative int", -1, -1),
    ("counter64", 2**64 - 1, 2**64 - 1),
    ("bytes", b"Gi0/1", b"Gi0/1"),
    ("binary bytes", b"\x00\xff", b"\x00\xff"),
    ("oid value", "1.3.6.1.4.1.9.1.1208", (1, 3, 6, 1, 4, 1, 9, 1, 1208)),
    ("zeroDotZero", "0.0", (0, 0)),
    ("ip address", "192.0.2.1", "192.0.2.1"),
    ("null", None, None),
    ("opaque float", 1.75, 1),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in GUFO_CASES], ids=[c[0] for c in GUFO_CASES])
def test_gufo_decode(value: object, expected: SnmpValue | None) -> None:
    decoded = backend_gufo.decode_value(value)
    assert decoded == expected
    assert type(decoded) is type(expected)


ROOT: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)

WALK_CASES: list[tuple[str, list[Oid], int, bool]] = [
    # (case, OIDs the agent returns, how many are accepted, warning recorded)
    ("in order", [(*ROOT, 1), (*ROOT, 2), (*ROOT, 10)], 3, False),
    ("subtree ends", [(*ROOT, 1), (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 2, 1)], 1, False),
    ("sibling prefix is not inside", [(1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10, 1)], 0, False),
    ("repeats an OID", [(*ROOT, 1), (*ROOT, 2), (*ROOT, 2)], 2, True),
    ("goes backwards", [(*ROOT, 5), (*ROOT, 3)], 1, True),
    ("returns the root itself", [ROOT], 0, True),
    ("deep index", [(*ROOT, 1, 2, 3), (*ROOT, 1, 2, 4)], 2, False),
]


@pytest.mark.parametrize(
    ("oids", "accepted", "warned"), [c[1:] for c in WALK_CASES], ids=[c[0] for c in WALK_CASES]
)
def test_walk_guard(oids: list[Oid], accepted: int, warned: bool) -> None:
    guard = WalkGuard(ROOT)
    count = 0
    for oid in oids:
        if not guard.accept(oid):
            break
        count += 1
    assert count == accepted
    assert (guard.warning is not None) == warned
    if guard.warning:
        assert "non-increasing" in guard.warning


def _v2(backend: str = "auto") -> SnmpSettings:
    credentials = CommunityCredentials(profile="p", version="2c", community="s3cret-community")
    return SnmpSettings(credentials=credentials, backend=backend)


def _v3(backend: str = "auto", context: str = "", priv: bool = True) -> SnmpSettings:
    credentials = UsmCredentials(
        profile="p",
        username="u",
        auth_protocol="SHA256",
        auth_key="auth-s3cret",
        priv_protocol="AES128" if priv else None,
        priv_key="priv-s3cret" if priv else None,
        context_name=context,
    )
    return SnmpSettings(credentials=credentials, backend=backend)


BACKEND_CASES: list[tuple[str, SnmpSettings, str, str]] = [
    # (case, device settings, pool default, backend used)
    ("auto v2c", _v2(), "auto", "gufo"),
    ("auto v3", _v3(), "auto", "gufo"),
    ("auto v3 with context", _v3(context="vlan-10"), "auto", "pysnmp"),
    ("device asks pysnmp", _v2("pysnmp"), "auto", "pysnmp"),
    ("device asks gufo", _v2("gufo"), "pysnmp", "gufo"),
    ("pool default pysnmp", _v2(), "pysnmp", "pysnmp"),
    ("pool default gufo", _v3(), "gufo", "gufo"),
    ("gufo asked, context needs pysnmp", _v3("gufo", context="c"), "auto", "pysnmp"),
]


@pytest.mark.parametrize(
    ("settings", "default", "expected"), [c[1:] for c in BACKEND_CASES], ids=[c[0] for c in BACKEND_CASES]
)
def test_backend_choice(settings: SnmpSettings, default: str, expected: str) -> None:
    pool = SnmpClientPool(backend=default)  # type: ignore[arg-type]
    assert pool.backend_for(settings) == expected
    client = pool.client(Device(name="r1", address="192.0.2.1", snmp=settings))
    assert getattr(client, "backend", None) == expected


async def test_pool_reuses_and_rebuilds_clients() -> None:
    async with SnmpClientPool() as pool:
        device = Device(name="r1", address="192.0.2.1", snmp=_v2())
        first = pool.client(device)
        assert pool.client(device) is first
        moved = device.model_copy(update={"address": "192.0.2.2"})
        assert pool.client(moved) is not first
        adhoc = pool.client_for("192.0.2.9", 1161, _v2())
        assert adhoc is pool.client_for("192.0.2.9", 1161, _v2())
        assert getattr(adhoc, "target").port == 1161  # noqa: B009
        with pytest.raises(ValueError, match="SNMP is not enabled"):
            pool.client(Device(name="icmp-only", address="192.0.2.3"))
    with pytest.raises(RuntimeError):
        pool.client(device)


def test_timeout_message_names_priv_keys_but_no_secrets() -> None:
    v3 = timeout_message(Target("r1", "192.0.2.1", _v3()))
    assert "privacy key" in v3
    v3_auth_only = timeout_message(Target("r1", "192.0.2.1", _v3(priv=False)))
    assert "privacy" not in v3_auth_only
    for text in (v3, v3_auth_only, timeout_message(Target("r1", "192.0.2.1", _v2()))):
        assert "s3cret" not in text
        assert "2s x 2 tries" in text


def test_recv_buffer_is_raised() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        default = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        granted = backend_pysnmp.set_recv_buffer(sock, 4 * 1024 * 1024)
    assert granted >= default
