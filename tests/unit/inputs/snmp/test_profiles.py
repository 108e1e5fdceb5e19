"""Profile loading: compile, extends, sysObjectID pick, and file:line errors for bad names."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpoll.errors import ConfigError
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inputs.snmp.types import Oid, SnmpValue, parse_oid

GENERIC = """\
description: test generic
scalars:
  sysObjectID: 1.3.6.1.2.1.1.2
  sysUpTime: 1.3.6.1.2.1.1.3
system:
  sys_object_id: sysObjectID
  sys_uptime: sysUpTime
columns:
  ifDescr: 1.3.6.1.2.1.2.2.1.2
  ifHCInOctets: 1.3.6.1.2.1.31.1.1.1.6
  hrProcessorLoad: 1.3.6.1.2.1.25.3.3.1.2
  hrStorageType: 1.3.6.1.2.1.25.2.3.1.2
  hrStorageSize: 1.3.6.1.2.1.25.2.3.1.5
  hrStorageUsed: 1.3.6.1.2.1.25.2.3.1.6
interfaces:
  labels: [ifDescr]
  counters: [ifHCInOctets]
fields:
  cpu_pct:
    - avg: hrProcessorLoad
  mem_used_pct:
    - percent: {used: hrStorageUsed, total: hrStorageSize}
      where: {hrStorageType: 1.3.6.1.2.1.25.2.1.2}
"""

VENDOR = """\
extends: generic
match:
  - 1.3.6.1.4.1.9
scalars:
  vendorCpu: 1.3.6.1.4.1.9.99.1
fields:
  cpu_pct:
    - value: vendorCpu
      scale: -1
      offset: 100
    - avg: hrProcessorLoad
"""

SUBVENDOR = """\
extends: vendor
match:
  - 1.3.6.1.4.1.9.12
  - sys_object_id: 1.3.6.1.4.1.9
    sys_descr: Firewall
columns:
  sess: 1.3.6.1.4.1.9.9.147.1.2.2.2.1.5
fields:
  sessions:
    - value: sess
      where: {index: '40.6'}
      type: int
"""


def write(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def test_shipped_profiles_compile() -> None:
    profiles = load_profiles()
    for name in (
        "generic",
        "cisco",
        "cisco-nxos",
        "cisco-asa",
        "juniper",
        "arista",
        "fortinet",
        "paloalto",
        "mikrotik",
        "hpe-aruba",
        "linux-netsnmp",
        "ubiquiti",
    ):
        assert name in profiles
        profile = profiles[name]
        assert {"cpu_pct", "mem_used_pct"} <= set(profile.fields), name
        assert profile.system["sys_uptime"] == "sysUpTime"
        assert "ifHCInOctets" in profile.if_counters


@pytest.mark.parametrize(
    ("sys_object_id", "sys_descr", "expected"),
    [
        ("1.3.6.1.4.1.9.1.2404", "Cisco Adaptive Security Appliance Version 9.12(2)", "cisco-asa"),
        ("1.3.6.1.4.1.9.1.1208", "Cisco IOS Software, C2960X Software", "cisco"),
        ("1.3.6.1.4.1.9.1.3155", '"Cisco IOS Software [IOSXE]', "cisco"),
        ("1.3.6.1.4.1.9.12.3.1.3.1163", "Cisco NX-OS(tm) nxos.7.0.3.I7.8.bin", "cisco-nxos"),
        ("1.3.6.1.4.1.12356.101.1.15000", "our firewall", "fortinet"),
        ("1.3.6.1.4.1.47196.4.1.1.1.50", "Aruba JL635A", "hpe-aruba"),
        ("1.3.6.1.4.1.2636.1.1.1.2.108", "Juniper Networks", "juniper"),
        ("1.3.6.1.4.1.14988.1", "RouterOS CRS317", "mikrotik"),
        ("1.3.6.1.4.1.8072.3.2.10", "Linux", "linux-netsnmp"),
        ("1.3.6.1.4.1.41112.1.5", "EdgeOS", "ubiquiti"),
        ("1.3.6.1.4.1.30065.1.3011", "Arista", "arista"),
        ("1.3.6.1.4.1.25461.2.3.18", "Palo Alto", "paloalto"),
        ("1.3.6.1.4.1.99999.1", "", "generic"),
        ("1.3.6.1.4.1.90", "", "generic"),  # 90 is not a prefix match of 9
    ],
)
def test_pick_by_sys_object_id(sys_object_id: str, sys_descr: str, expected: str) -> None:
    assert load_profiles().pick(parse_oid(sys_object_id), sys_descr).name == expected


def test_pick_without_sys_object_id_is_generic() -> None:
    assert load_profiles().pick(None).name == "generic"


def test_extends_merges_and_overrides(tmp_path: Path) -> None:
    profiles = load_profiles(write(tmp_path, generic=GENERIC, vendor=VENDOR, subvendor=SUBVENDOR))
    sub = profiles["subvendor"]
    assert sub.scalars["vendorCpu"] == (1, 3, 6, 1, 4, 1, 9, 99, 1, 0)  # instance .0 added
    assert sub.scalars["sysUpTime"] == (1, 3, 6, 1, 2, 1, 1, 3, 0)
    assert [s.op for s in sub.fields["cpu_pct"]] == ["value", "avg"]  # vendor's, not generic's
    assert [s.op for s in sub.fields["mem_used_pct"]] == ["percent"]  # inherited
    assert sub.if_counters == ("ifHCInOctets",)
    assert profiles.pick(parse_oid("1.3.6.1.4.1.9.1.5"), "Firewall 9").name == "subvendor"
    assert profiles.pick(parse_oid("1.3.6.1.4.1.9.1.5"), "Router").name == "vendor"
    assert profiles.pick(parse_oid("1.3.6.1.4.1.9.12.1"), "").name == "subvendor"


def test_walk_plan_dedups_and_minimizes(tmp_path: Path) -> None:
    text = GENERIC.replace("columns:\n", "columns:\n  hrStorageEntry: 1.3.6.1.2.1.25.2.3.1\n")
    profile = load_profiles(write(tmp_path, generic=text))["generic"]
    plan = profile.walk_plan(["hrStorageUsed", "hrStorageEntry", "hrStorageSize", "hrStorageUsed", "ifDescr"])
    assert [r.root for r in plan] == [parse_oid("1.3.6.1.2.1.2.2.1.2"), parse_oid("1.3.6.1.2.1.25.2.3.1")]
    assert {name for name, _ in plan[1].columns} == {"hrStorageEntry", "hrStorageSize", "hrStorageUsed"}


def cols(**columns: dict[Oid, SnmpValue]) -> dict[str, dict[Oid, SnmpValue]]:
    return columns


@pytest.mark.parametrize(
    ("field", "scalars", "columns", "expected"),
    [
        ("cpu_pct", {"vendorCpu": 93}, {}, 7.0),
        ("cpu_pct", {}, cols(hrProcessorLoad={(1,): 10, (2,): 30}), 20.0),
        ("cpu_pct", {}, {}, None),
        (
            "mem_used_pct",
            {},
            cols(
                hrStorageType={
                    (1,): parse_oid("1.3.6.1.2.1.25.2.1.2"),
                    (3,): parse_oid("1.3.6.1.2.1.25.2.1.4"),
                },
                hrStorageSize={(1,): 1000, (3,): 5000},
                hrStorageUsed={(1,): 250, (3,): 5000},
            ),
            25.0,
        ),
        ("sessions", {}, cols(sess={(40, 6): 7756, (40, 7): 72363}), 7756),
    ],
)
def test_field_evaluation(
    tmp_path: Path,
    field: str,
    scalars: dict[str, SnmpValue],
    columns: dict[str, dict[Oid, SnmpValue]],
    expected: float | None,
) -> None:
    profile = load_profiles(write(tmp_path, generic=GENERIC, vendor=VENDOR, subvendor=SUBVENDOR))["subvendor"]
    values = [s.evaluate(scalars, columns) for s in profile.fields[field]]
    got = next((v for v in values if v is not None), None)
    assert got == expected
    if expected is not None:
        assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"vendor": VENDOR.replace("- avg: hrProcessorLoad", "- avg: hrProcesorLoad")},
            "vendor.yaml:11: bad name 'hrProcesorLoad'",
            id="misspelt object name",
        ),
        pytest.param(
            {"vendor": VENDOR.replace("extends: generic", "extends: genric")},
            "vendor.yaml:1: bad name 'genric'",
            id="unknown parent",
        ),
        pytest.param(
            {"vendor": VENDOR.replace("1.3.6.1.4.1.9.99.1", "1.3.6.1.4.1.9.x")},
            "vendor.yaml:5: bad OID",
            id="bad OID",
        ),
        pytest.param(
            {"vendor": VENDOR + "colums: {}\n"},
            "vendor.yaml:12: unknown key 'colums'",
            id="unknown key",
        ),
        pytest.param(
            {"vendor": VENDOR.replace("      scale: -1\n", "      scale: -1\n      where: {nope: 1}\n")},
            "vendor.yaml:10: bad name 'nope'",
            id="where on unknown column",
        ),
        pytest.param(
            {"vendor": VENDOR.replace("  cpu_pct:\n", "  cpu_pct:\n    - {avg: hrProcessorLoad, max: x}\n")},
            "vendor.yaml:8: give exactly one of",
            id="two operations",
        ),
        pytest.param({"vendor": "a: [1\n"}, "vendor.yaml:2: YAML syntax error", id="YAML syntax"),
        pytest.param(
            {"vendor": "fields: [cpu]\n"}, "vendor.yaml:1: fields must be a mapping", id="fields list"
        ),
        pytest.param(
            {"generic": GENERIC.replace("  sys_uptime:", "  sys_uptme:")},
            "generic.yaml:7: system: unknown key 'sys_uptme'; did you mean 'sys_uptime'?",
            id="system role typo",
        ),
        pytest.param(
            {"generic": GENERIC.replace("labels: [ifDescr]", "labels: ifDescr")},
            "generic.yaml:16: interfaces.labels must be a list",
            id="interfaces not a list",
        ),
        pytest.param(
            {"vendor": VENDOR.replace("extends: generic", "extends: generic\nextends: generic")},
            "vendor.yaml:2: key 'extends' appears twice in this mapping (first at line 1)",
            id="duplicate key",
        ),
        pytest.param(
            {"generic": GENERIC.replace("  cpu_pct:\n", '  "cpu_pct\\n":\n')},
            r"generic.yaml:19: bad field name 'cpu_pct\n'",
            id="field name with a trailing newline",
        ),
        pytest.param(
            {"generic": GENERIC.replace("labels: [ifDescr]", "labels: [ifDescription]")},
            "generic.yaml:16: bad name 'ifDescription'",
            id="bad interface column",
        ),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    write(tmp_path, generic=GENERIC, vendor=VENDOR)
    write(tmp_path, **files)
    with pytest.raises(ConfigError) as info:
        load_profiles(tmp_path)
    assert any(expected in p and p.startswith(str(tmp_path)) for p in info.value.problems), (
        info.value.problems
    )


def test_error_is_reported_once_even_when_extended(tmp_path: Path) -> None:
    bad = VENDOR.replace("- avg: hrProcessorLoad", "- avg: nope")
    with pytest.raises(ConfigError) as info:
        load_profiles(write(tmp_path, generic=GENERIC, vendor=bad, subvendor=SUBVENDOR))
    assert len([p for p in info.value.problems if "'nope'" in p]) == 1


def test_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no profiles"):
        load_profiles(tmp_path)


def test_profile_fields_extend_the_model_rules_accept(tmp_path: Path) -> None:
    from netpoll.alerts.rules import parse_rules
    from netpoll.measurements import MODEL

    user = VENDOR.replace(
        "  cpu_pct:",
        "  fan_rpm:\n    - max: hrProcessorLoad\n  sys_label:\n    - text: vendorCpu\n  cpu_pct:",
    )
    model = load_profiles(write(tmp_path, generic=GENERIC, vendor=user)).model()
    fan, label = model["snmp"].field("fan_rpm"), model["snmp"].field("sys_label")
    assert fan is not None
    assert (fan.type, fan.profile) == ("float", True)
    assert label is not None
    assert label.type == "string"
    assert model["snmp"].field("cpu_pct") == MODEL["snmp"].field(
        "cpu_pct"
    )  # declared ones keep their declaration
    rule = "rules:\n  - {name: fan, measurement: snmp, field: fan_rpm, comparison: '>', breach: 9000}\n"
    assert parse_rules(rule, model=model)[0].field == "fan_rpm"
    with pytest.raises(ConfigError, match="has no field 'fan_rpm'"):
        parse_rules(rule)
