"""The data model: its checks, the docs generated from it, and the producers' and profiles' agreement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netpoll import measurements
from netpoll.alerts.alert import Alert
from netpoll.inputs.icmp.stats import ping_sample, summarize
from netpoll.inputs.snmp.metrics import COUNTER_COLUMNS
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.measurements import MEASUREMENTS, MODEL, SNMP, Field, markdown_table, update_markdown
from netpoll.sample import Sample
from tests.harness.lineprotocol import parse_line, parse_lines

ROOT = Path(__file__).resolve().parents[2]
# Every Markdown file that may hold generated measurement tables.
DOCS = sorted([*(ROOT / "docs").glob("*.md"), *(ROOT / "netpoll").rglob("README.md"), ROOT / "README.md"])


def sample(measurement: str, tags: dict[str, str], **fields: float | int | bool | str) -> Sample:
    return Sample(measurement, tags, fields, 1)


# ---- checking a sample ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (sample("ping", {"device": "r1", "url": "127.0.0.1", "rack": "r1"}, reachable=1), []),
        (sample("ping", {"device": "r1"}, rtt=1.0), ["ping: undeclared field 'rtt'=1.0"]),
        (
            sample("ping", {"device": "r1"}, reachable=1.0),
            ["ping: field reachable=1.0 is float, declared integer"],
        ),
        (
            sample("ping", {"device": "r1"}, reachable=True),
            ["ping: field reachable=True is bool, declared integer"],
        ),
        (sample("ping", {"device": "r1"}, jitter_ms=2), ["ping: field jitter_ms=2 is int, declared float"]),
        (
            sample("ping", {"device": "r1", "reachable": "x"}, jitter_ms=2.0),
            ["ping: undeclared tag 'reachable'"],
        ),
        (sample("ping", {"url": "x"}, jitter_ms=2.0), ["ping: no 'device' tag"]),
        (sample("netpoll", {"instance": "p1", "site": "x"}, devices=1), ["netpoll: undeclared tag 'site'"]),
        (sample("netpoll", {"instance": "p1", "shard": "0/1"}, devices=1), []),
        (sample("bgp", {"device": "r1"}, state=1), ["undeclared measurement 'bgp'"]),
    ],
)
def test_problems(record: Sample, expected: list[str]) -> None:
    assert MODEL.problems(record) == expected


def test_every_measurement_is_declared_consistently() -> None:
    for name, measurement in MEASUREMENTS.items():
        assert measurement.name == name
        fields = [f.name for f in measurement.fields]
        tags = [t.name for t in measurement.tags]
        assert len(fields) == len(set(fields)), f"{name}: a field declared twice"
        assert len(tags) == len(set(tags)), f"{name}: a tag declared twice"
        assert not set(fields) & set(tags), f"{name}: a key is both tag and field"
        assert measurement.subject_tag in tags, name
        assert measurement.entity_tag in (None, *tags), name
        assert all(f.type in measurements.FIELD_TYPES and f.meaning for f in measurement.fields), name
        assert measurement.producer.startswith("netpoll."), name


def test_with_fields_adds_and_keeps_declarations() -> None:
    extra = [Field("fan_rpm", "float", "rpm", "fans"), Field("cpu_pct", "string", "", "not this")]
    model = MODEL.with_fields({"snmp": extra, "nowhere": extra})
    assert model["snmp"].field("fan_rpm") == extra[0]
    assert model["snmp"].field("cpu_pct") == SNMP.field("cpu_pct")
    assert "nowhere" not in model
    assert MODEL["snmp"].field("fan_rpm") is None  # the declared model is not changed


def test_with_measurements_adds_new_ones_only() -> None:
    ups = measurements.Measurement(
        "ups_battery", "netpoll.inputs.snmp.tables", "one per UPS", (measurements.Tag("device", "d"),), ()
    )
    assert MODEL.with_measurements([ups])["ups_battery"] is ups
    assert "ups_battery" not in MODEL
    with pytest.raises(ValueError, match="'snmp' is already declared"):
        MODEL.with_measurements([SNMP])


# ---- producers and profiles agree with the model ---------------------------------------------------------


def test_interface_counters_are_declared_integers() -> None:
    for name in COUNTER_COLUMNS:
        declared = MODEL["interface"].field(name)
        assert declared is not None, name
        assert declared.type == "integer", name


def test_shipped_profiles_compute_the_declared_profile_fields() -> None:
    profiles = load_profiles()
    computed: dict[str, set[str]] = {}
    for profile in profiles.profiles.values():
        for name, sources in profile.fields.items():
            computed.setdefault(name, set()).update(source.field_type for source in sources)
    problems = []
    for name, types in sorted(computed.items()):
        declared = SNMP.field(name)
        if declared is None or not declared.profile:
            problems.append(f"profile field {name} is not declared (profile=True) in netpoll.measurements")
        elif types != {declared.type}:
            problems.append(f"profile field {name} is written as {sorted(types)}, declared {declared.type}")
    problems += [
        f"{f.name} is declared as a profile field but no shipped profile computes it"
        for f in SNMP.fields
        if f.profile and f.name not in computed
    ]
    assert not problems, "\n".join(problems)
    assert profiles.model()["snmp"].fields == SNMP.fields  # nothing beyond the declaration


def test_ping_records_fit() -> None:
    for rtts in ((), (1.0,), (1.0, 2.5, 0.7)):
        record = ping_sample(summarize(3, rtts), device="r1", url="r1", tags={"site": "x"}, time_ns=1)
        assert MODEL.problems(record) == []


def test_alert_records_fit() -> None:
    for value, threshold in ((97.4, 90), (True, 1), ("down", "down"), (3, 2.5)):
        alert = Alert("id", "breach", "rule", "major", "r1", "", "snmp", "f", value, threshold, None, 1, 1)
        assert MODEL.problems(alert.to_sample()) == []


# ---- docs generated from the model -----------------------------------------------------------------------


def test_schema_doc_has_a_table_for_every_measurement() -> None:
    text = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert measurements.generated_blocks(text) == list(MEASUREMENTS)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_tables_are_current(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert update_markdown(text) == text, (
        f"{path.relative_to(ROOT)}: a measurement table differs from netpoll.measurements; "
        f"run: python -m netpoll.measurements --update {path.relative_to(ROOT)}"
    )


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_line_protocol_in_docs_fits_the_model(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = [
        line
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
        for line in block.splitlines()
        if re.match(rf"^({'|'.join(MEASUREMENTS)}),\S+ \S", line)
    ]
    problems = [problem for line in lines for problem in MODEL.problems(parse_line(line))]
    assert not problems, "\n".join(problems)


def test_markdown_table_of_one_measurement() -> None:
    table = markdown_table(MEASUREMENTS["netpoll"])
    assert table.splitlines()[:3] == [
        "Written by `netpoll.daemon.selfmon`.",
        "",
        "| | name | type | unit | meaning |",
    ]
    assert (
        "| field | `mqtt_connected` | integer | | with MQTT: 1 while connected to the broker, else 0 |"
        in table
    )
    assert "free inventory tags" not in table
    assert "free inventory tags" in markdown_table(MEASUREMENTS["ping"])


def test_update_fills_a_block_and_is_stable() -> None:
    stale = "# x\n<!-- generated: measurement alert -->\nold\n<!-- /generated -->\ntail\n"
    fresh = update_markdown(stale)
    table = markdown_table(MEASUREMENTS["alert"])
    assert fresh == f"# x\n<!-- generated: measurement alert -->\n{table}<!-- /generated -->\ntail\n"
    assert update_markdown(fresh) == fresh


def test_cli_prints_updates_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert measurements.main(["ping"]) == 0
    assert capsys.readouterr().out.startswith("### `ping` (ICMP")
    assert measurements.main(["pong"]) == 2
    assert "unknown measurement(s) pong" in capsys.readouterr().err
    doc = tmp_path / "x.md"
    doc.write_text("<!-- generated: measurement snmp -->\n<!-- /generated -->\n", encoding="utf-8")
    assert measurements.main(["--check", str(doc)]) == 1
    assert "run --update" in capsys.readouterr().err
    assert measurements.main(["--update", str(doc)]) == 0
    assert measurements.main(["--check", str(doc)]) == 0
    doc.write_text("<!-- generated: measurement bgp -->\n<!-- /generated -->\n", encoding="utf-8")
    assert measurements.main(["--check", str(doc)]) == 2
    assert "no measurement 'bgp'" in capsys.readouterr().err


def test_line_protocol_round_trip() -> None:
    record = Sample(
        "interface",
        {"device": "r 1", "ifName": "Gi0/1,x", "ifAlias": "a=b"},
        {"in_bps": 1.5, "oper_status": 1, "error": 'say "hi", ok', "flag": True},
        7,
    )
    assert parse_lines(record.to_line_protocol() + "\n\n") == [record]
