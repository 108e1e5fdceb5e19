"""Bounded command-line numbers (in range accepted, NaN and non-numbers refused in one line); inventories."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from netpoll.cli.argtypes import int_between, inventory_devices, seconds_between
from netpoll.errors import ConfigError
from netpoll.inputs.snmp.profiles import DEFAULT_DIR


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("10", 10), ("5", 5)])
def test_int_between_accepts(text: str, value: int) -> None:
    assert int_between(1, 10)(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "0 is not between 1 and 10"),
        ("11", "11 is not between 1 and 10"),
        ("x", "'x' is not a whole number"),
        ("1.5", "'1.5' is not a whole number"),
    ],
)
def test_int_between_refuses(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        int_between(1, 10)(text)


@pytest.mark.parametrize(
    ("text", "low_inclusive", "ok"),
    [
        ("0", False, False),
        ("0", True, True),
        ("0.5", False, True),
        ("60", False, True),
        ("60.1", False, False),
        ("nan", True, False),
        ("inf", False, False),
        ("-1", True, False),
    ],
)
def test_seconds_between(text: str, low_inclusive: bool, ok: bool) -> None:
    parse = seconds_between(0, 60, low_inclusive=low_inclusive)
    if ok:
        assert parse(text) == float(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="is not a number of seconds in"):
            parse(text)


def test_seconds_between_refuses_non_numbers() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="'soon' is not a number of seconds"):
        seconds_between(0, 60)("soon")


def test_inventory_devices_checks_profiles_against_the_profiles_dir(tmp_path: Path) -> None:
    mibs = tmp_path / "mibs"
    mibs.mkdir()
    shutil.copy(DEFAULT_DIR / "generic.yaml", mibs / "generic.yaml")
    shutil.copy(DEFAULT_DIR / "generic.yaml", mibs / "mine.yaml")
    (tmp_path / "c").write_text("c0mmunity\n")
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        "credentials: {lab: {version: 2c, community_file: c}}\n"
        "devices: [{name: r1, address: 127.0.0.1, snmp: {credentials: lab, profile: mine}}]\n"
    )
    assert inventory_devices([inventory], profiles_dir=str(mibs))["r1"].snmp.profile == "mine"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="unknown SNMP profile 'mine'"):
        inventory_devices([inventory])  # the shipped profiles have no 'mine'
