from __future__ import annotations

import pytest

from netpoll.inputs.traps.names import named_varbinds, trap_name, varbind_name, varbind_value


@pytest.mark.parametrize(
    ("oid", "name"),
    [
        ((1, 3, 6, 1, 6, 3, 1, 1, 5, 1), "coldStart"),
        ((1, 3, 6, 1, 6, 3, 1, 1, 5, 2), "warmStart"),
        ((1, 3, 6, 1, 6, 3, 1, 1, 5, 3), "linkDown"),
        ((1, 3, 6, 1, 6, 3, 1, 1, 5, 4), "linkUp"),
        ((1, 3, 6, 1, 6, 3, 1, 1, 5, 5), "authenticationFailure"),
        ((1, 3, 6, 1, 4, 1, 9, 0, 1), "1.3.6.1.4.1.9.0.1"),
    ],
)
def test_trap_names(oid: tuple[int, ...], name: str) -> None:
    assert trap_name(oid) == name


@pytest.mark.parametrize(
    ("oid", "name"),
    [
        ((1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 3), "ifOperStatus.3"),
        ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, 12), "ifName.12"),
        ((1, 3, 6, 1, 6, 3, 18, 1, 3, 0), "snmpTrapAddress"),
        ((1, 3, 6, 1, 2, 1, 2, 2, 1, 8), "1.3.6.1.2.1.2.2.1.8"),  # a column without an instance
        ((1, 3, 6, 1, 4, 1, 2636, 3, 1), "1.3.6.1.4.1.2636.3.1"),
    ],
)
def test_varbind_names(oid: tuple[int, ...], name: str) -> None:
    assert varbind_name(oid) == name


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (3, 3),
        (b"eth0", "eth0"),
        (b"eth\x1b[31m0", "0x6574681b5b33316d30"),  # a terminal escape is not text
        (b"\xff\xfe", "0xfffe"),
        ("10.0.0.1", "10.0.0.1"),
        ((1, 3, 6), "1.3.6"),
        (None, None),
    ],
)
def test_varbind_values(value: object, shown: object) -> None:
    assert varbind_value(value) == shown  # type: ignore[arg-type]


def test_named_varbinds_keep_order_and_first_value() -> None:
    oper = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 3)
    assert list(named_varbinds(((oper, 2), ((1, 9), 1), (oper, 1))).items()) == [
        ("ifOperStatus.3", 2),
        ("1.9", 1),
    ]
