"""snmp.interfaces in inventories: IANA ifType names, precedence over layers, and problems at their lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from netpoll.errors import ConfigError
from netpoll.inventory.iftypes import IF_TYPE_NAMES, IF_TYPES, if_type_label, if_type_number
from netpoll.inventory.loader import load_inventory
from netpoll.inventory.models import InterfaceRules, InterfaceSelection

ENV = {"NETPOLL_T": "c"}


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("softwareLoopback", 24),
        ("SOFTWARELOOPBACK", 24),
        ("propVirtual", 53),
        ("l2vlan", 135),
        (6, 6),
        ("161", 161),
        ("ieee8023adLag", 161),
        ("p2pOverLan", 303),
        (9999, 9999),
    ],
)
def test_if_type_numbers(value: object, number: int) -> None:
    assert if_type_number(value) == number


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("softwareLoopbak", "did you mean 'softwareLoopback'?"),
        ("l2valn", "did you mean 'l2vlan'?"),
        (0, "numbers run from 1"),
        (True, "give an IANA name"),
        ("zzzz", "IANAifType-MIB names"),
    ],
)
def test_if_type_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        if_type_number(value)


def test_iana_table_is_facts() -> None:
    assert len(IF_TYPES) == len(IF_TYPE_NAMES) == 299  # 1-272 and 277-303; 273-276 are unassigned
    assert IF_TYPE_NAMES[6] == "ethernetCsmacd"
    assert IF_TYPE_NAMES[117] == "gigabitEthernet"
    assert if_type_label(53) == "propVirtual(53)"
    assert if_type_label(274) == "274"


def _load(tmp_path: Path, data: dict[str, object]) -> dict[str, InterfaceSelection]:
    path = tmp_path / "inv.yaml"
    path.write_text(
        yaml.safe_dump({"credentials": {"ro": {"version": "2c", "community": "${NETPOLL_T}"}}, **data})
    )
    inventory = load_inventory([path], environ=ENV)
    return {d.name: d.snmp.interfaces for d in inventory if d.snmp is not None}


def test_layers_merge_key_by_key(tmp_path: Path) -> None:
    got = _load(
        tmp_path,
        {
            "defaults": {
                "snmp": {
                    "credentials": "ro",
                    "interfaces": {"exclude": {"ifType": ["softwareLoopback", 53]}, "admin_down": "drop"},
                }
            },
            "groups": {"core": {"snmp": {"interfaces": {"include": {"ifAlias": "uplink"}}}}},
            "devices": [
                {"name": "r1", "address": "127.0.0.1", "groups": ["core"]},
                {"name": "r2", "address": "127.0.0.2", "snmp": {"interfaces": {"admin_down": "keep"}}},
                {"name": "r3", "address": "127.0.0.3", "snmp": {"interfaces": {"exclude": {}}}},
            ],
        },
    )
    loopbacks = InterfaceRules(ifType=(24, 53))
    assert got["r1"] == InterfaceSelection(
        include=InterfaceRules(ifAlias=("uplink",)), exclude=loopbacks, admin_down="drop"
    )
    assert got["r2"] == InterfaceSelection(exclude=loopbacks, admin_down="keep")
    assert got["r3"] == InterfaceSelection(
        exclude=InterfaceRules(), admin_down="drop"
    )  # exclude: {} clears it


def test_unset_is_the_default(tmp_path: Path) -> None:
    got = _load(
        tmp_path,
        {"defaults": {"snmp": {"credentials": "ro"}}, "devices": [{"name": "r1", "address": "127.0.0.1"}]},
    )
    assert got["r1"] == InterfaceSelection()


def test_problems_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "credentials:\n"
        "  ro: {version: 2c, community: '${NETPOLL_T}'}\n"
        "devices:\n"
        "  - name: r1\n"
        "    address: 127.0.0.1\n"
        "    snmp:\n"
        "      credentials: ro\n"
        "      interfaces:\n"
        "        exclude:\n"
        "          ifName:\n"
        "            - '^ok'\n"
        "            - '(x+)*'\n"
        "          ifType: [ethernet, 6]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_inventory([path], environ=ENV)
    lines = [str(p) for p in info.value.problems]
    assert lines == [
        f"{path}:12: device 'r1': snmp.interfaces.exclude.ifName: regular expression '(x+)*' repeats a group"
        " that itself repeats without bound (like (a+)+), which can take exponential time on a hostile device"
        r" string: make the inner repeat possessive ((\d++/)+) or repeat only the inner part",
        f"{path}:13: device 'r1': snmp.interfaces.exclude.ifType: unknown ifType 'ethernet'; did you mean"
        " 'ethernet3Mbit'?",
    ]
