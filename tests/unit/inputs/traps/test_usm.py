"""SNMPv3 notifications: what net-snmp's snmptrap sent with SHA-2 and AES, decoded with the device's user."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from netpoll.inputs.traps.decode import NotNotification
from netpoll.inputs.traps.usm import UsmFailure, UsmReceiver, engine_id_for, header
from netpoll.inventory.models import AuthProtocol, PrivProtocol, UsmCredentials
from tests.unit.inputs.traps import datagrams

ENGINE = engine_id_for("netpoll-test")


def user(
    auth: AuthProtocol, priv: PrivProtocol, name: str = "ops", auth_key: str = "auth-pass-1"
) -> UsmCredentials:
    return UsmCredentials(
        profile="v3",
        username=name,
        auth_protocol=auth,
        auth_key=SecretStr(auth_key),
        priv_protocol=priv,
        priv_key=SecretStr("priv-pass-1"),
    )


@pytest.mark.parametrize(
    ("datagram", "auth", "priv"),
    [
        (datagrams.V3_SHA256_AES128_LINK_DOWN, "SHA256", "AES128"),
        (datagrams.V3_SHA224_AES192_LINK_DOWN, "SHA224", "AES192"),
        (datagrams.V3_SHA384_AES256_LINK_DOWN, "SHA384", "AES256"),
        (datagrams.V3_SHA512_AES256_LINK_DOWN, "SHA512", "AES256"),
    ],
)
def test_auth_priv_trap_is_decoded_with_the_devices_user(
    datagram: bytes, auth: AuthProtocol, priv: PrivProtocol
) -> None:
    sent: list[bytes] = []
    note = UsmReceiver(ENGINE).accept(datagram, ("127.0.0.1", 40000), user(auth, priv), sent.append)
    assert not isinstance(note, UsmFailure)
    assert note is not None
    assert (note.version, note.kind, note.community, note.uptime) == ("3", "trap", b"", 12345)
    assert note.trap_oid_text == "1.3.6.1.6.3.1.1.5.3"
    assert note.varbinds == (((1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 3), 3),)
    assert sent == []  # a trap is not answered


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        (user("SHA256", "AES128", auth_key="guessed-pass"), "wrong_digest"),
        (user("SHA256", "AES128", name="other"), "unknown_user"),
        (user("SHA512", "AES256"), "wrong_digest"),  # the device's keys are for another protocol
    ],
)
def test_wrong_user_or_key_is_a_failure_never_a_notification(
    credentials: UsmCredentials, reason: str
) -> None:
    result = UsmReceiver(ENGINE).accept(
        datagrams.V3_SHA256_AES128_LINK_DOWN, ("127.0.0.1", 1), credentials, None
    )
    assert result == UsmFailure(reason)


def test_keys_follow_the_device_for_the_same_engine_and_user() -> None:
    usm = UsmReceiver(ENGINE)
    datagram = datagrams.V3_SHA256_AES128_LINK_DOWN
    assert usm.accept(
        datagram, ("127.0.0.1", 1), user("SHA256", "AES128", auth_key="wrong-one"), None
    ) == UsmFailure("wrong_digest")
    assert not isinstance(usm.accept(datagram, ("127.0.0.1", 1), user("SHA256", "AES128"), None), UsmFailure)


def test_header_and_garbage() -> None:
    head = header(datagrams.V3_SHA256_AES128_LINK_DOWN)
    assert (head.engine_id.hex(), head.user) == ("8000000001020304", b"ops")
    with pytest.raises(NotNotification):
        header(b"\x30\x03\x02\x01\x03")
    # Found by fuzzing: msgSecurityParameters' 8-octet length made pyasn1 raise OverflowError, which escaped.
    huge_length = datagrams.V3_AUTH_PRIV_COLD_START.replace(
        bytes.fromhex("303b0408"), bytes.fromhex("303b0488")
    )
    with pytest.raises(NotNotification):
        header(huge_length)
    assert engine_id_for("a") == engine_id_for("a") != engine_id_for("b")
    assert len(engine_id_for("a")) == 13
