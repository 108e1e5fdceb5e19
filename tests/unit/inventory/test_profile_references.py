"""``snmp.profile`` references are checked at load, where they are written, by every caller of the loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpoll.errors import ConfigError
from netpoll.inventory.loader import load_inventory

ENV = {"NETPOLL_C": "c0mmunity"}
HEAD = (
    "credentials:\n  lab: {version: 2c, community: '${NETPOLL_C}'}\ndefaults:\n  snmp: {credentials: lab}\n"
)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(HEAD + body)
    return path


def test_group_profile_is_reported_at_the_group(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "groups:\n  core:\n    snmp: {profile: junipr}\n"
        "devices:\n  - {name: r1, address: 127.0.0.1, groups: [core]}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_inventory([path], environ=ENV, profiles={"juniper", "cisco"})
    assert info.value.problems == [
        f"{path}:7: group 'core': unknown SNMP profile 'junipr'; did you mean 'juniper'?"
    ]


def test_given_profiles_are_the_ones_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, "devices:\n  - {name: r1, address: 127.0.0.1, snmp: {profile: mine}}\n")
    assert load_inventory([path], environ=ENV, profiles={"mine"}).devices[0].snmp.profile == "mine"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="unknown SNMP profile 'mine'; known profiles: generic"):
        load_inventory([path], environ=ENV, profiles={"generic"})


def test_shipped_profiles_by_default(tmp_path: Path) -> None:
    path = _write(tmp_path, "devices:\n  - {name: r1, address: 127.0.0.1, snmp: {profile: cisco}}\n")
    assert load_inventory([path], environ=ENV).devices[0].snmp.profile == "cisco"  # type: ignore[union-attr]
    path.write_text(path.read_text().replace("profile: cisco", "profile: ciscoo"))
    with pytest.raises(ConfigError, match="did you mean 'cisco'"):
        load_inventory([path], environ=ENV)
