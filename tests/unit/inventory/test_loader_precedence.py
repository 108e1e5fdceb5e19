"""defaults → groups → device precedence, flattened once at load into frozen records."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from netpoll.errors import ConfigError
from netpoll.inventory.loader import load_inventory
from netpoll.inventory.models import CommunityCredentials, Device, UsmCredentials

ENV = {
    "NETPOLL_C1": "community-one",
    "NETPOLL_C2": "community-two",
    "NETPOLL_AUTH": "auth-key-123",
    "NETPOLL_PRIV": "priv-key-123",
}

BASE = """
credentials:
  one: {version: 2c, community: "${NETPOLL_C1}"}
  two: {version: 1, community: "${NETPOLL_C2}"}
  v3:
    version: 3
    username: u
    auth_protocol: sha-256
    auth_key: ${NETPOLL_AUTH}
    priv_protocol: aes
    priv_key: ${NETPOLL_PRIV}
defaults:
  role: default-role
  site: default-site
  tags: {owner: noc, tier: default}
  snmp: {credentials: one, interval_s: 300, timeout_s: 3, retries: 2}
  ping: {interval_s: 120, count: 5}
groups:
  first:
    role: first-role
    tags: {tier: first, g1: "yes"}
    snmp: {interval_s: 30, credentials: two}
  second:
    role: second-role
    site: second-site
    tags: {tier: second, g2: 7}
    snmp: {interval_s: 90, max_repetitions: 50, backend: gufo}
    ping: {enabled: false}
"""


def _load(tmp_path: Path, devices: str) -> dict[str, Device]:
    path = tmp_path / "inv.yaml"
    path.write_text(BASE + textwrap.dedent(devices))
    return dict(load_inventory([path], environ=ENV).by_name())


CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "defaults only",
        "{name: d, address: 198.51.100.1}",
        {
            "role": "default-role",
            "site": "default-site",
            "tags": {"owner": "noc", "tier": "default"},
            "snmp.interval_s": 300.0,
            "snmp.timeout_s": 3.0,
            "snmp.retries": 2,
            "snmp.credentials.profile": "one",
            "snmp.max_repetitions": 25,
            "snmp.backend": "auto",
            "ping.interval_s": 120.0,
            "ping.count": 5,
        },
    ),
    (
        "one group overrides defaults, keeps the rest",
        "{name: d, address: 198.51.100.1, groups: [first]}",
        {
            "role": "first-role",
            "site": "default-site",
            "tags": {"owner": "noc", "tier": "first", "g1": "yes"},
            "snmp.interval_s": 30.0,
            "snmp.timeout_s": 3.0,
            "snmp.credentials.profile": "two",
            "snmp.credentials.version": "1",
        },
    ),
    (
        "first listed group wins",
        "{name: d, address: 198.51.100.1, groups: [first, second]}",
        {
            "role": "first-role",
            "site": "second-site",
            "tags": {"owner": "noc", "tier": "first", "g1": "yes", "g2": "7"},
            "snmp.interval_s": 30.0,
            "snmp.max_repetitions": 50,
            "snmp.backend": "gufo",
            "ping": None,
        },
    ),
    (
        "order reversed",
        "{name: d, address: 198.51.100.1, groups: [second, first]}",
        {"role": "second-role", "tags": {"owner": "noc", "tier": "second", "g1": "yes", "g2": "7"}},
    ),
    (
        "device beats groups and defaults",
        """{name: d, address: 198.51.100.1, groups: [first, second], role: own, site: own-site,
            tags: {tier: own}, snmp: {interval_s: 10, credentials: v3}, ping: {enabled: true}}""",
        {
            "role": "own",
            "site": "own-site",
            "tags": {"owner": "noc", "tier": "own", "g1": "yes", "g2": "7"},
            "snmp.interval_s": 10.0,
            "snmp.max_repetitions": 50,
            "snmp.credentials.profile": "v3",
            "snmp.credentials.auth_protocol": "SHA256",
            "snmp.credentials.priv_protocol": "AES128",
            "snmp.credentials.security_level": "authPriv",
            "ping.interval_s": 120.0,
        },
    ),
    (
        "port in the address beats snmp.port",
        "{name: d, address: '198.51.100.1:1161', snmp: {port: 2000}}",
        {"address": "198.51.100.1", "snmp.port": 1161},
    ),
    (
        "snmp disabled: ping only, credentials not needed",
        "{name: d, address: 198.51.100.1, snmp: {enabled: false}}",
        {"snmp": None, "ping.interval_s": 120.0},
    ),
    ("disabled device is kept", "{name: d, address: 198.51.100.1, enabled: false}", {"enabled": False}),
    (
        "IPv6 and DNS addresses are normalised",
        "{name: d, address: '[2001:DB8:0::1]:1161'}",
        {"address": "2001:db8::1", "snmp.port": 1161},
    ),
    ("DNS name lower-cased", "{name: d, address: R1.Example.NET.}", {"address": "r1.example.net"}),
]


def _get(device: Device, dotted: str) -> Any:
    value: Any = device
    for part in dotted.split("."):
        value = None if value is None else getattr(value, part)
    return value


@pytest.mark.parametrize(("title", "device", "expected"), CASES, ids=[case[0] for case in CASES])
def test_precedence(tmp_path: Path, title: str, device: str, expected: dict[str, Any]) -> None:
    result = _load(tmp_path, f"devices:\n  - {device}\n")["d"]
    for key, value in expected.items():
        got = _get(result, key)
        if key == "tags":
            got = dict(got)
        assert got == value, key


def test_records_are_frozen_and_secrets_hidden(tmp_path: Path) -> None:
    device = _load(tmp_path, "devices:\n  - {name: d, address: 198.51.100.1}\n")["d"]
    with pytest.raises(ValidationError):
        device.name = "other"  # type: ignore[misc]
    assert device.snmp is not None
    credentials = device.snmp.credentials
    assert isinstance(credentials, CommunityCredentials)
    assert credentials.community.get_secret_value() == "community-one"
    assert "community-one" not in repr(device)
    assert "community-one" not in device.model_dump_json()


def test_v3_credentials_resolved(tmp_path: Path) -> None:
    device = _load(tmp_path, "devices:\n  - {name: d, address: 198.51.100.1, snmp: {credentials: v3}}\n")["d"]
    assert device.snmp is not None
    credentials = device.snmp.credentials
    assert isinstance(credentials, UsmCredentials)
    assert credentials.username == "u"
    assert credentials.auth_key is not None
    assert credentials.auth_key.get_secret_value() == "auth-key-123"


def test_source_location_and_output_tags(tmp_path: Path) -> None:
    device = _load(tmp_path, "devices:\n  - name: d\n    address: 198.51.100.1\n    groups: [first]\n")["d"]
    assert device.source is not None
    assert device.source.line == BASE.count("\n") + 2
    assert device.output_tags()["role"] == "first-role"
    assert device.output_tags()["device"] == "d"


def test_several_files_and_directories_merge(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "00-common.yaml").write_text(BASE)
    (tmp_path / "a" / "10-site.yml").write_text("devices:\n  - {name: a1, address: 198.51.100.1}\n")
    (tmp_path / "a" / "notes.txt").write_text("not an inventory")
    (tmp_path / "b.yaml").write_text("devices:\n  - {name: b1, address: 198.51.100.2, groups: [second]}\n")
    inventory = load_inventory([tmp_path / "a", tmp_path / "b.yaml"], environ=ENV)
    assert [device.name for device in inventory] == ["a1", "b1"]
    assert len(inventory.files) == 3
    assert inventory.by_name()["b1"].role == "second-role"
    assert [device.name for device in inventory.filter(role="second-role")] == ["b1"]


def test_same_file_twice_is_loaded_once(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(BASE + "devices:\n  - {name: d, address: 198.51.100.1}\n")
    assert len(load_inventory([path, tmp_path], environ=ENV)) == 1


def test_all_problems_collected(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        BASE
        + "devices:\n"
        + "  - {name: d1, address: 198.51.100.999}\n"
        + "  - {name: d2, address: 198.51.100.2, groups: [frist]}\n"
        + "  - {name: d3, address: 198.51.100.3, snmp: {credentials: tow}}\n"
        + "  - {name: d4, address: 198.51.100.4, pnig: {}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_inventory([path], environ=ENV)
    problems = info.value.problems
    assert len(problems) == 4
    first = BASE.count("\n") + 2
    assert [int(problem.split(":")[1]) for problem in problems] == [first, first + 1, first + 2, first + 3]
    assert "did you mean 'first'?" in problems[1]
    assert "did you mean 'two'?" in problems[2]
    assert "did you mean 'ping'?" in problems[3]


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    devices = _load(
        tmp_path,
        "devices:\n"
        "  - &base {name: d, address: 198.51.100.1, ping: {count: 2}}\n"
        "  - <<: *base\n"
        "    name: e\n"
        "    address: 198.51.100.2\n",
    )
    assert devices["e"].ping is not None
    assert devices["e"].ping.count == 2
    assert devices["e"].address == "198.51.100.2"
    assert devices["e"].source is not None
    assert devices["e"].source.line == BASE.count("\n") + 3


def test_equal_settings_are_one_record_and_explicit_ones_stay_apart(tmp_path: Path) -> None:
    devices = _load(
        tmp_path,
        """
        devices:
          - {name: a, address: 127.0.0.1}
          - {name: b, address: 127.0.0.2}
          - {name: c, address: 127.0.0.3, snmp: {max_repetitions: 25}}
        """,
    )
    a, b, c = devices["a"], devices["b"], devices["c"]
    assert a.snmp is b.snmp
    assert a.ping is b.ping
    assert c.snmp == a.snmp  # the same values, but c sets max_repetitions itself (the poller asks)
    assert c.snmp is not a.snmp
    assert c.snmp is not None
    assert "max_repetitions" in c.snmp.model_fields_set
