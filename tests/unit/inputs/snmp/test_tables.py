"""Per-row profile tables: compilation (file:line errors), index parts, transforms, rates, row caps, rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netpoll.alerts.engine import AlertEngine
from netpoll.alerts.rules import parse_rules
from netpoll.errors import ConfigError
from netpoll.inputs.snmp.fake import FakeSnmpClient
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import DEFAULT_DIR, load_profiles
from netpoll.inputs.snmp.tables import IndexPart, split_index, table_samples
from netpoll.inputs.snmp.types import Oid, SnmpValue, parse_oid
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings
from netpoll.measurements import TABLE_MEASUREMENTS
from netpoll.probe import Budget
from tests.unit.inputs.snmp.test_profiles import GENERIC

COLUMNS = """\
  bgpPeerState: 1.3.6.1.2.1.15.3.1.2
  bgpPeerInUpdates: 1.3.6.1.2.1.15.3.1.10
  sensorName: 1.3.6.1.2.1.47.1.1.1.1.7
  sensorValue: 1.3.6.1.2.1.99.1.1.1.4
  sensorScale: 1.3.6.1.2.1.99.1.1.1.2
  sensorPrecision: 1.3.6.1.2.1.99.1.1.1.3
  storageUnits: 1.3.6.1.2.1.25.2.3.1.4
"""
TABLES = """\
tables:
  bgp_peer:
    index: [{peer: ipv4}]
    tags:
      peer: {index: peer}
    fields:
      state: bgpPeerState
      state_text: {column: bgpPeerState, enum: {1: idle, 6: established}}
      in_updates_ps: {column: bgpPeerInUpdates, rate: 32}
  sensor:
    tags:
      sensor: sensorName
    fields:
      value: {column: sensorValue, sensor_scale: sensorScale, sensor_precision: sensorPrecision}
  storage:
    fields:
      used_bytes: {column: hrStorageUsed, multiply: storageUnits, type: int}
      used_pct: {column: hrStorageUsed, divide: hrStorageSize, scale: 100}
    max_rows: 3
"""

USER_PROFILES = Path(__file__).resolve().parents[3] / "data" / "profiles"
BGP = "1.3.6.1.2.1.15.3.1"
PEER = "10.0.0.1"


def with_columns(columns: str, tables: str) -> str:
    """The test generic profile with more columns and a tables section."""
    return GENERIC.replace("columns:\n", "columns:\n" + columns, 1) + tables


FULL = with_columns(COLUMNS, TABLES)


def profiles_dir(tmp_path: Path, generic: str = FULL, **more: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in {"generic": generic, **more}.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def agent() -> dict[Oid, SnmpValue]:
    data: dict[str, SnmpValue] = {
        "1.3.6.1.2.1.1.2.0": parse_oid("1.3.6.1.4.1.8072.3.2.10"),
        "1.3.6.1.2.1.1.3.0": 100_000,
        "1.3.6.1.2.1.2.2.1.2.1": b"eth0",
        "1.3.6.1.2.1.31.1.1.1.6.1": 1000,
        f"{BGP}.2.{PEER}": 6,
        f"{BGP}.10.{PEER}": 4_294_967_000,  # a Counter32 about to wrap
        f"{BGP}.2.10.0.0.2": 1,
        f"{BGP}.10.10.0.0.2": 0,
        "1.3.6.1.2.1.47.1.1.1.1.7.7": b"Inlet \x1b[31mtemp",
        "1.3.6.1.2.1.99.1.1.1.4.7": 2345,
        "1.3.6.1.2.1.99.1.1.1.2.7": 9,  # units
        "1.3.6.1.2.1.99.1.1.1.3.7": 2,  # 2 decimals
        "1.3.6.1.2.1.25.2.3.1.4.1": 4096,
        "1.3.6.1.2.1.25.2.3.1.5.1": 1000,
        "1.3.6.1.2.1.25.2.3.1.6.1": 250,
    }
    return {parse_oid(k): v for k, v in data.items()}


class Pool:
    def __init__(self, client: FakeSnmpClient) -> None:
        self.fake = client

    def client(self, device: Device) -> FakeSnmpClient:
        return self.fake


def lab_device() -> Device:
    creds = CommunityCredentials(profile="lab", version="2c", community="c")  # type: ignore[arg-type]
    return Device(name="r1", address="127.0.0.1", snmp=SnmpSettings(credentials=creds))


async def test_rows_become_samples_with_transforms_and_rates(tmp_path: Path) -> None:
    profiles = load_profiles(profiles_dir(tmp_path))
    data = agent()
    client = FakeSnmpClient(data)
    poller = SnmpPoller(Pool(client), profiles)
    first = await poller.run(lab_device(), Budget.start(10))
    client.set(f"{BGP}.10.{PEER}", 200)  # wrapped: 296 + 200 updates
    second = await poller.run(lab_device(), Budget.start(10))
    by_measurement = {(s.measurement, s.tags["index"]): s for s in second.samples if "index" in s.tags}
    peer = by_measurement[("bgp_peer", PEER)]
    assert peer.tags["peer"] == PEER
    assert peer.tags["device"] == "r1"
    assert peer.fields["state"] == 6
    assert peer.fields["state_text"] == "established"
    assert "in_updates_ps" not in {k for s in first.samples for k in s.fields}  # no rate on the first poll
    assert isinstance(peer.fields["in_updates_ps"], float)
    assert peer.fields["in_updates_ps"] > 0
    assert by_measurement[("bgp_peer", "10.0.0.2")].fields["state_text"] == "idle"
    sensor = by_measurement[("sensor", "7")]
    assert sensor.fields == {"value": 23.45}
    assert sensor.tags["sensor"] == "Inlet \x1b[31mtemp"  # escaped where it is written, not here
    storage = by_measurement[("storage", "1")]
    assert storage.fields == {"used_bytes": 250 * 4096, "used_pct": 25.0}
    model = profiles.model()
    assert [p for s in second.samples for p in model.problems(s)] == []


@pytest.mark.parametrize(
    ("parts", "index", "expected"),
    [
        ([("peer", "ipv4")], "10.0.0.1", {"peer": "10.0.0.1"}),
        ([("peer", "inet")], "1.4.192.0.2.1", {"peer": "192.0.2.1"}),
        (
            [("vrf", "int"), ("peer", "inet")],
            "1.2.16." + ".".join(["32", "1", "13", "184"] + ["0"] * 11 + ["1"]),
            {"vrf": "1", "peer": "2001:db8::1"},
        ),
        ([("name", "string")], "3.101.116.104", {"name": "eth"}),
        ([("g", "int"), ("p", "int")], "2.7", {"g": "2", "p": "7"}),
        ([("peer", "ipv4")], "10.0.0", None),  # too short
        ([("peer", "ipv4")], "10.0.0.1.5", None),  # left over
        ([("peer", "inet")], "1.4.10.0", None),  # length beyond the index
        ([("peer", "ipv4")], "10.0.0.300", None),  # not an octet
    ],
)
def test_split_index(parts: list[tuple[str, str]], index: str, expected: dict[str, str] | None) -> None:
    assert split_index([IndexPart(n, k) for n, k in parts], parse_oid(index)) == expected


async def test_a_table_past_max_rows_is_skipped_and_the_poll_goes_on(tmp_path: Path) -> None:
    data = agent()
    for i in range(2, 10):  # 9 storage rows, max_rows 3
        data[parse_oid(f"1.3.6.1.2.1.25.2.3.1.6.{i}")] = i
    poller = SnmpPoller(Pool(FakeSnmpClient(data)), load_profiles(profiles_dir(tmp_path)))
    result = await poller.run(lab_device(), Budget.start(10))
    assert result.ok
    measurements = {s.measurement for s in result.samples}
    assert "storage" not in measurements
    assert {"bgp_peer", "sensor", "interface"} <= measurements


async def test_a_profile_without_tables_walks_nothing_more(tmp_path: Path) -> None:
    with_tables = FakeSnmpClient(agent())
    without = FakeSnmpClient(agent())
    # The same tables declared but not enabled: the poll is the poll of a profile without them.
    disabled = FULL.replace("    index: [{peer: ipv4}]", "    enabled: false\n    index: [{peer: ipv4}]")
    disabled = disabled.replace("  sensor:\n", "  sensor:\n    enabled: false\n").replace(
        "    max_rows: 3", "    max_rows: 3\n    enabled: false"
    )
    for client, text, where in ((with_tables, FULL, "on"), (without, disabled, "off")):
        (tmp_path / where).mkdir()
        poller = SnmpPoller(Pool(client), load_profiles(profiles_dir(tmp_path / where, text)))
        await poller.run(lab_device(), Budget.start(10))
    (tmp_path / "plain").mkdir()
    plain = FakeSnmpClient(agent())
    plain_poller = SnmpPoller(Pool(plain), load_profiles(profiles_dir(tmp_path / "plain", GENERIC)))
    await plain_poller.run(lab_device(), Budget.start(10))
    assert without.calls == plain.calls
    assert with_tables.calls["walk"] > without.calls["walk"]


async def test_instead_of_reads_the_vendor_table_only_without_standard_rows(tmp_path: Path) -> None:
    vendor = """\
extends: generic
match: [1.3.6.1.4.1.8072]
columns:
  vendorState: 1.3.6.1.4.1.99.1.2
tables:
  vendor_bgp:
    measurement: bgp_peer
    instead_of: bgp_peer
    index: [{peer: inet}]
    tags: {peer: {index: peer}}
    fields: {state: vendorState}
"""
    profiles = load_profiles(profiles_dir(tmp_path, vendor=vendor))
    data = agent()
    data[parse_oid("1.3.6.1.4.1.99.1.2.2.16." + ".".join(["32", "1", "13", "184"] + ["0"] * 11 + ["9"]))] = 3
    poller = SnmpPoller(Pool(FakeSnmpClient(dict(data))), profiles)
    both = (await poller.run(lab_device(), Budget.start(10))).samples
    assert {s.tags["peer"] for s in both if s.measurement == "bgp_peer"} == {PEER, "10.0.0.2"}
    for oid in [o for o in data if o[:9] == parse_oid(BGP)]:
        del data[oid]
    poller = SnmpPoller(Pool(FakeSnmpClient(data)), profiles)
    only_vendor = (await poller.run(lab_device(), Budget.start(10))).samples
    assert {s.tags["peer"] for s in only_vendor if s.measurement == "bgp_peer"} == {"2001:db8::9"}


def test_rules_on_a_table_fire_per_row() -> None:
    from netpoll.inputs.snmp.tables import Cell, Table

    rules = parse_rules(
        "rules:\n  - {name: bgp_down, measurement: bgp_peer, field: state, comparison: '!=', breach: 6}\n"
    )
    assert rules[0].entity_tag == "peer"
    table = Table("bgp_peer", "bgp_peer", "", "t.yaml", (IndexPart("peer", "ipv4"),),
                  (("peer", Cell(index="peer")),), (("state", Cell(column="s")),))  # fmt: skip
    columns = {"s": {(10, 0, 0, 1): 6, (10, 0, 0, 2): 1}}
    samples = table_samples(table, columns, {"device": "r1"}, {}, 1)
    alerts = AlertEngine(rules).evaluate(samples)
    assert [(a.rule, a.device, a.entity, a.state) for a in alerts] == [
        ("bgp_down", "r1", "10.0.0.2", "breach")
    ]


UPS_COLUMNS = """\
  upsLoad: 1.3.6.1.4.1.318.1.1.1.4.2.3
  upsName: 1.3.6.1.4.1.318.1.1.1.1.1.2
"""


def test_user_table_measurement_enters_the_model_for_rules(tmp_path: Path) -> None:
    ups = """\
tables:
  ups_battery:
    entity: ups
    tags: {ups: upsName}
    fields: {load_pct: {column: upsLoad, type: float}}
"""
    model = load_profiles(profiles_dir(tmp_path, with_columns(UPS_COLUMNS, ups))).model()
    assert model["ups_battery"].entity_tag == "ups"
    (rule,) = parse_rules(
        "rules:\n  - {name: ups, measurement: ups_battery, field: load_pct, comparison: '>', breach: 80}\n",
        model=model,
    )
    assert rule.entity_tag == "ups"
    with pytest.raises(ConfigError, match="did you mean 'load_pct'"):
        parse_rules(
            "rules:\n  - {name: ups, measurement: ups_battery, field: load_pc, comparison: '>', breach: 8}\n",
            model=model,
        )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "t:\n    fields: {x: {column: nope}}",
            "generic.yaml:LINE: bad name 'nope': not in this profile's columns",
        ),
        ("t:\n    fields: {x: {column: hrStorageUsed, rate: 16}}", "rate gives the counter's width"),
        (
            "t:\n    index: [{p: ipv5}]\n    fields: {x: hrStorageUsed}",
            "bad index kind 'ipv5'; did you mean 'ipv4'",
        ),
        ("t:\n    fields: {x: hrStorageUsed}\n    colour: red", "table t: unknown key 'colour'"),
        ("t:\n    tags: {device: hrStorageType}\n    fields: {x: hrStorageUsed}", "tag 'device' is taken"),
        ("interface:\n    fields: {x: hrStorageUsed}", "measurement 'interface' is netpoll's own"),
        ("t:\n    measurement: sensor\n    fields: {value: hrStorageUsed}", "value is declared float"),
        (
            "t:\n    instead_of: bgp\n    fields: {x: hrStorageUsed}",
            "instead_of 'bgp': no table of that name",
        ),
        ("t:\n    fields: {x: {column: hrStorageUsed, enum: {1: a}, type: int}}", "give text: type text"),
        ("t:\n    max_rows: 0\n    fields: {x: hrStorageUsed}", "max_rows must be a whole number"),
    ],
)
def test_table_errors_name_file_and_line(tmp_path: Path, table: str, expected: str) -> None:
    text = GENERIC + "tables:\n  " + table + "\n"
    with pytest.raises(ConfigError) as info:
        load_profiles(profiles_dir(tmp_path, text))
    message = str(info.value)
    assert expected.split("LINE: ")[-1] in message, message
    assert "generic.yaml:" in message
    assert "Traceback" not in message
    line = int(message.split("generic.yaml:")[1].split(":")[0])
    assert line > GENERIC.count("\n"), message  # the line of the table, not the top of the file


# --- user profiles (profiles_dir, --profiles) ----------------------------------------------------------


def test_a_user_profile_of_the_same_name_replaces_or_extends_the_shipped_one(tmp_path: Path) -> None:
    shipped = profiles_dir(tmp_path / "shipped", vendor="extends: generic\nmatch: [1.3.6.1.4.1.9]\n")
    user = tmp_path / "user"
    user.mkdir()
    (user / "generic.yaml").write_text("extends: generic\ntables:\n  storage: {enabled: false}\n")
    (user / "mine.yaml").write_text("extends: vendor\nmatch: [1.3.6.1.4.1.9.1]\n")
    profiles = load_profiles(shipped, user)
    assert set(profiles) == {"generic", "vendor", "mine"}  # the shipped generic is only extended
    # Built on the shipped generic; every profile extending generic gets the change.
    for name in profiles:
        assert [t.name for t in profiles[name].tables] == ["bgp_peer", "sensor"], name
    assert profiles.pick(parse_oid("1.3.6.1.4.1.9.1.5")).name == "mine"
    assert profiles.pick(parse_oid("1.3.6.1.4.1.9.2")).name == "vendor"
    # The same name without extends: the user's file alone, picked where it says.
    (user / "vendor.yaml").write_text("extends: generic\nmatch: [1.3.6.1.4.1.99]\n")
    profiles = load_profiles(shipped, user)
    assert profiles.pick(parse_oid("1.3.6.1.4.1.9.2")).name == "generic"
    assert profiles.pick(parse_oid("1.3.6.1.4.1.99.1")).name == "vendor"
    # extends: own name with no match of its own keeps the shipped one's.
    (user / "vendor.yaml").write_text("extends: vendor\ntables: {sensor: {enabled: false}}\n")
    profiles = load_profiles(shipped, user)
    assert profiles.pick(parse_oid("1.3.6.1.4.1.9.2")).name == "vendor"
    assert [t.name for t in profiles["vendor"].tables] == ["bgp_peer"]


def test_user_profile_errors_name_the_user_file(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "cisco.yaml").write_text("extends: cisco\ntables:\n  bgp_peer: {enabeld: true}\n")
    with pytest.raises(ConfigError) as info:
        load_profiles(user_dir=user)
    (problem,) = info.value.problems
    assert problem.endswith("cisco.yaml:3: table bgp_peer: unknown key 'enabeld'; did you mean 'enabled'?")
    assert "user" in problem
    with pytest.raises(ConfigError, match="not a directory: name a directory of profiles"):
        load_profiles(user_dir=tmp_path / "nowhere")


def test_shipped_tables_write_what_the_model_declares() -> None:
    """Every table the shipped profiles declare (all turned on by tests/data/profiles) writes a declared table
    measurement: its tags, its fields with their declared types, its entity."""
    shipped = {
        name
        for path in DEFAULT_DIR.glob("*.yaml")
        for name in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("tables", {})
    }
    profiles = load_profiles(user_dir=USER_PROFILES)
    tables = {t.name: t for name in profiles for t in profiles[name].tables}
    assert set(tables) == shipped  # the test profiles turn every one on
    for table in tables.values():
        declared = TABLE_MEASUREMENTS[table.measurement]
        assert {name for name, _ in table.tags} <= declared.tag_names, table.name
        assert table.entity == declared.entity_tag, table.name
        for name, cell in table.fields:
            field = declared.field(name)
            assert field is not None, (table.name, name)
            assert field.type == cell.field_type(), (table.name, name)


async def test_reloaded_profiles_apply_from_the_next_poll_and_unchanged_ones_change_nothing(
    tmp_path: Path,
) -> None:
    poller = SnmpPoller(Pool(FakeSnmpClient(agent())), load_profiles(profiles_dir(tmp_path / "a")))
    await poller.run(lab_device(), Budget.start(10))
    state = poller._state["r1"]
    poller.set_profiles(load_profiles(tmp_path / "a"))  # the same files again
    assert (state.profile, state.rows is not None) == ("generic", True)  # nothing to read afresh
    without_sensor = FULL.replace("  sensor:\n", "  sensor:\n    enabled: false\n")
    poller.set_profiles(load_profiles(profiles_dir(tmp_path / "c", without_sensor)))
    assert (state.profile, state.rows) == (None, None)  # picked and labelled again on the next poll
    result = await poller.run(lab_device(), Budget.start(10))
    assert "sensor" not in {s.measurement for s in result.samples}
    assert "bgp_peer" in {s.measurement for s in result.samples}


def test_the_examples_of_docs_profiles_load(tmp_path: Path) -> None:
    """docs/profiles.md: the full table example, and the user profiles that turn tables on."""
    text = (Path(__file__).resolve().parents[4] / "docs" / "profiles.md").read_text(encoding="utf-8")
    blocks = [block.split("```")[0] for block in text.split("```yaml\n")[1:]]
    full = blocks[0]
    (rules,) = [block for block in blocks if block.startswith("rules:")]
    user = [block for block in blocks if "/etc/netpoll/profiles/" in block]
    assert "bgp_peer:" in full
    assert len(user) == 2
    (tmp_path / "example.yaml").write_text(
        "extends: generic\n" + full.replace("bgp_peer:", "example_peer:", 1)
    )
    for block in user:
        name = block.split("/etc/netpoll/profiles/")[1].split()[0]
        (tmp_path / name).write_text(block)
    profiles = load_profiles(user_dir=tmp_path)
    example = {t.name: t for t in profiles["example"].tables}["example_peer"]
    assert [name for name, _ in example.fields] == ["state", "state_text", "remote_as", "in_updates_ps"]
    nxos = {t.name for t in profiles["cisco-nxos"].tables}
    assert nxos == {"storage", "processor", "bgp_peer", "cisco_bgp_peer", "cisco_optical"}
    assert {t.name for t in profiles["linux-netsnmp"].tables} == {"storage", "processor"}
    (rule,) = parse_rules(rules, model=profiles.model())
    assert rule.entity_tag == "peer"
