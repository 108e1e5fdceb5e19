"""Addresses and ranges: parsing, v4/v6 expansion, excludes, the cap, name patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpoll.errors import ConfigError
from netpoll.inventory.addresses import (
    AddressError,
    check_name_pattern,
    expand_range,
    parse_address,
    render_name,
)
from netpoll.inventory.loader import load_inventory

EXPANSIONS = [
    # spec, excludes, cap, expected count, first, last
    ("198.51.100.0/28", [], 4096, 14, "198.51.100.1", "198.51.100.14"),
    ("198.51.100.0/30", [], 4096, 2, "198.51.100.1", "198.51.100.2"),
    ("198.51.100.0/31", [], 4096, 2, "198.51.100.0", "198.51.100.1"),
    ("198.51.100.7/32", [], 4096, 1, "198.51.100.7", "198.51.100.7"),
    ("198.51.100.10-198.51.100.20", [], 4096, 11, "198.51.100.10", "198.51.100.20"),
    ("198.51.100.10-20", [], 4096, 11, "198.51.100.10", "198.51.100.20"),
    ("198.51.100.5", [], 4096, 1, "198.51.100.5", "198.51.100.5"),
    ("198.51.100.0/28", ["198.51.100.1", "198.51.100.14"], 4096, 12, "198.51.100.2", "198.51.100.13"),
    ("198.51.100.0/28", ["198.51.100.4/30"], 4096, 10, "198.51.100.1", "198.51.100.14"),
    ("198.51.100.0/28", ["198.51.100.2-198.51.100.13"], 4096, 2, "198.51.100.1", "198.51.100.14"),
    ("198.51.100.0/24", [], 254, 254, "198.51.100.1", "198.51.100.254"),
    ("2001:db8::/124", [], 4096, 15, "2001:db8::1", "2001:db8::f"),
    ("2001:db8::/127", [], 4096, 2, "2001:db8::", "2001:db8::1"),
    ("2001:db8::10-2001:db8::1f", ["2001:db8::18/125"], 4096, 8, "2001:db8::10", "2001:db8::17"),
    ("2001:db8::/116", [], 4096, 4095, "2001:db8::1", "2001:db8::fff"),
]


@pytest.mark.parametrize(("spec", "exclude", "cap", "count", "first", "last"), EXPANSIONS)
def test_expand_range(spec: str, exclude: list[str], cap: int, count: int, first: str, last: str) -> None:
    expansion = expand_range(spec, exclude, cap)
    addresses = [str(ip) for ip in expansion]
    assert expansion.size == count == len(addresses)
    assert (addresses[0], addresses[-1]) == (first, last)
    for item in exclude:
        assert item not in addresses


RANGE_ERRORS = [
    ("198.51.100.5/28", [], 4096, "host bits set: did you mean 198.51.100.0/28?"),
    ("198.51.100.0/33", [], 4096, "not a valid prefix"),
    ("198.51.100.20-198.51.100.10", [], 4096, "ends before it starts"),
    ("198.51.100.1-2001:db8::1", [], 4096, "mixes IPv4 and IPv6"),
    ("198.51.100.1-198.51.100.x", [], 4096, "range end '198.51.100.x' is not a valid"),
    ("nonsense", [], 4096, "is not a valid IPv4 or IPv6 address"),
    ("198.51.100.0/24", [], 100, "expands to 254 addresses, more than the cap of 100"),
    ("198.51.0.0/16", [], 4096, "more than the cap of 4096"),
    ("2001:db8::/32", [], 4096, "more than the cap"),
    ("198.51.100.0/28", ["198.51.100.99"], 4096, "exclude '198.51.100.99' is not inside"),
    ("198.51.100.0/28", ["2001:db8::1"], 4096, "is not inside"),
    ("198.51.100.0/28", ["198.51.100.0/28"], 4096, "no addresses left"),
    ("198.51.100.0/28", ["bogus"], 4096, "exclude 'bogus' is not a valid"),
]


@pytest.mark.parametrize(("spec", "exclude", "cap", "message"), RANGE_ERRORS)
def test_range_errors(spec: str, exclude: list[str], cap: int, message: str) -> None:
    with pytest.raises(AddressError, match=None) as info:
        expand_range(spec, exclude, cap)
    assert message in str(info.value)


def test_cap_is_checked_before_expanding() -> None:
    # A /64 would never finish expanding: the size must be refused up front.
    with pytest.raises(AddressError, match="18446744073709551615 addresses"):
        expand_range("2001:db8::/64", [], 4096)


ADDRESSES = [
    ("198.51.100.1", "198.51.100.1", None, "ipv4"),
    ("198.51.100.1:1161", "198.51.100.1", 1161, "ipv4"),
    (" 198.51.100.1 ", "198.51.100.1", None, "ipv4"),
    ("2001:db8::1", "2001:db8::1", None, "ipv6"),
    ("2001:DB8:0:0::1", "2001:db8::1", None, "ipv6"),
    ("[2001:db8::1]", "2001:db8::1", None, "ipv6"),
    ("[2001:db8::1]:1161", "2001:db8::1", 1161, "ipv6"),
    ("::1", "::1", None, "ipv6"),
    ("r1.example.net", "r1.example.net", None, "dns"),
    ("R1.Example.NET.", "r1.example.net", None, "dns"),
    ("r1.example.net:16100", "r1.example.net", 16100, "dns"),
    ("localhost", "localhost", None, "dns"),
]


@pytest.mark.parametrize(("text", "host", "port", "kind"), ADDRESSES)
def test_parse_address(text: str, host: str, port: int | None, kind: str) -> None:
    address = parse_address(text)
    assert (address.host, address.port, address.kind) == (host, port, kind)


BAD_ADDRESSES = [
    ("", "empty"),
    ("198.51.100.300", "not a valid IPv4"),
    ("198.51.100", "not a valid IPv4"),
    ("010.1.1.1", "not a valid IPv4"),
    ("198.51.100.1:0", "port must be a number from 1 to 65535"),
    ("198.51.100.1:99999", "port must be"),
    ("198.51.100.1:snmp", "port must be"),
    ("2001:db8::zz", "not a valid IPv6"),
    ("[2001:db8::1]:x", "port must be"),
    ("198.51.100.0/24", "is a prefix"),
    ("bad_name.example.net", "nor a valid DNS name"),
    ("-bad.example.net", "nor a valid DNS name"),
    ("a..b", "nor a valid DNS name"),
    ("1.2.3.4.5", "not a valid IPv4"),
]


@pytest.mark.parametrize(("text", "message"), BAD_ADDRESSES)
def test_bad_address(text: str, message: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(text)
    assert message in str(info.value)


NAMES = [
    ("edge-{ip_dashed}", "198.51.100.7", 3, "edge-198-51-100-7"),
    ("edge-{ip}", "198.51.100.7", 3, "edge-198.51.100.7"),
    ("sw{index:03d}", "198.51.100.7", 3, "sw003"),
    ("v6-{ip_dashed}", "2001:db8::a", 1, "v6-2001-db8--a"),
    ("ap{index}.{ip_dashed}", "2001:db8::a", 12, "ap12.2001-db8--a"),
]


@pytest.mark.parametrize(("pattern", "ip", "index", "name"), NAMES)
def test_render_name(pattern: str, ip: str, index: int, name: str) -> None:
    import netaddr

    check_name_pattern(pattern)
    assert render_name(pattern, netaddr.IPAddress(ip), index) == name


BAD_PATTERNS = [
    ("edge", "same name"),
    ("edge-{ipdashed}", "did you mean 'ip_dashed'?"),
    ("edge-{}", "unknown placeholder"),
    ("edge-{0}", "unknown placeholder"),
    ("edge-{ip.version}", "unknown placeholder"),
    ("edge-{index:zz}", "malformed"),
    ("edge-{ip", "malformed"),
    ("d{index:>1000000000}", "format '>1000000000' is too wide"),  # would render 1 GB
    ("d{index:.999999999}", "too wide"),
    ("d{index:{index}}", "too wide"),  # nested fields: refused before rendering
]


@pytest.mark.parametrize(("pattern", "message"), BAD_PATTERNS)
def test_bad_name_pattern(pattern: str, message: str) -> None:
    with pytest.raises(AddressError) as info:
        check_name_pattern(pattern)
    assert message in str(info.value)


INVENTORY = """
credentials:
  lab: {{version: 2c, community: "${{NETPOLL_C}}"}}
defaults:
  snmp: {{credentials: lab}}
groups:
  edge: {{role: switch, tags: {{tier: edge}}}}
ranges:
{ranges}
"""


def _load(tmp_path: Path, ranges: str, range_cap: int = 4096) -> list[str]:
    path = tmp_path / "inv.yaml"
    path.write_text(INVENTORY.format(ranges=ranges))
    inventory = load_inventory([path], environ={"NETPOLL_C": "x"}, range_cap=range_cap)
    return [device.name for device in inventory]


def test_range_devices_get_layers(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        INVENTORY.format(
            ranges='  - {range: 198.51.100.0/30, name: "e{index}", groups: [edge], snmp: {port: 1161}}'
        )
    )
    devices = list(load_inventory([path], environ={"NETPOLL_C": "x"}))
    assert [(d.name, d.address, d.role, dict(d.tags)) for d in devices] == [
        ("e1", "198.51.100.1", "switch", {"tier": "edge"}),
        ("e2", "198.51.100.2", "switch", {"tier": "edge"}),
    ]
    assert all(d.snmp is not None and d.snmp.port == 1161 for d in devices)
    assert all(d.source is not None and d.source.line == 9 for d in devices)


def test_range_cap_configurable(tmp_path: Path) -> None:
    spec = '  - {range: 198.51.100.0/26, name: "e{index}"}'
    assert len(_load(tmp_path, spec)) == 62
    with pytest.raises(ConfigError, match="more than the cap of 10"):
        _load(tmp_path, spec, range_cap=10)
    assert len(_load(tmp_path, spec[:-1] + ", max_devices: 62}", range_cap=10)) == 62
    with pytest.raises(ConfigError, match="more than the cap of 61"):
        _load(tmp_path, spec[:-1] + ", max_devices: 61}")
    with pytest.raises(ConfigError, match="max_devices: must be <= 65536"):
        _load(tmp_path, spec[:-1] + ", max_devices: 70000}")


def test_two_ranges_with_the_same_names_report_once(tmp_path: Path) -> None:
    ranges = '  - {range: 198.51.100.0/28, name: "e{index}"}\n  - {range: 198.51.100.16/28, name: "e{index}"}'
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, ranges)
    assert len(info.value.problems) == 1
    assert "device 'e1' (range '198.51.100.16/28'): duplicate device name" in info.value.problems[0]


def test_range_overlapping_a_device_is_a_duplicate_address(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        INVENTORY.format(ranges='  - {range: 198.51.100.0/30, name: "e{index}"}')
        + "devices:\n  - {name: r1, address: 198.51.100.2}\n"
    )
    with pytest.raises(ConfigError, match=r"address 198\.51\.100\.2 port 161 is also used by device 'r1'"):
        load_inventory([path], environ={"NETPOLL_C": "x"})
