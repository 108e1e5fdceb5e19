"""The alert state machines, table-driven: a sequence of values gives exactly the expected publishes."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import netpoll.alerts.state as state_module
from netpoll.alerts.engine import AlertEngine
from netpoll.alerts.rules import Rule, parse_rules
from netpoll.alerts.state import active_record, parse_active_journal, parse_states, write_state_file
from netpoll.sample import Sample

T0 = 1_700_000_000_000_000_000
S = 10**9


def rule(yaml_body: str) -> Rule:
    (parsed,) = parse_rules("rules:\n" + textwrap.indent(textwrap.dedent(yaml_body), "  "), "t.yaml")
    return parsed


CPU = """
- name: cpu
  measurement: snmp
  field: cpu_pct
  comparison: ">"
  breach: 90
  clear: 80
"""
CPU_FOR3 = CPU + "  for: 3\n"
CPU_FOR3_CLEAR2 = CPU + "  for: 3\n  clear_for: 2\n"
CPU_FOR_30S = CPU + "  for: 30s\n"
LOSS_LOW = """
- name: low
  measurement: ping
  field: packets_received
  comparison: "<"
  breach: 2
  clear: 3
"""
UNREACHABLE = """
- name: down
  measurement: ping
  field: reachable
  comparison: "=="
  breach: false
  for: 2
  clear_for: 1
"""
REBOOT = """
- name: reboot
  kind: event
  measurement: snmp
  field: rebooted
  comparison: "=="
  breach: 1
"""
LINK_DOWN = """
- name: link_down
  kind: event
  trigger: change
  measurement: interface
  field: oper_status
  comparison: "!="
  breach: 1
  when: {admin_status: 1}
"""
FLAP = """
- name: flap
  kind: flapping
  measurement: interface
  field: oper_status
  breach: 3
  clear: 1
  window: 60s
"""
SURGE = """
- name: surge
  kind: baseline
  measurement: snmp
  field: sessions
  breach: 3
  clear: 2
  baseline: 6
  minimum: 1000
"""
SURGE_FOR2 = SURGE + "  for: 2\n"
QUIET = [5000, 5200, 4800]  # a baseline of 6 judges from the 4th sample on (half of 6, at least 3)

# None in a sequence is a poll without that field (missing sample); a tuple (value, seconds) gives the time.
CASES = [
    pytest.param(CPU, [50, 95, 96, 70], ["breach@1", "clear@3"], id="breach-once-clear-once"),
    pytest.param(CPU, [95, 95, 95, 95], ["breach@0"], id="breach-publishes-once"),
    pytest.param(CPU, [95, 85, 88, 85, 89, 95, 85], ["breach@0"], id="hovering-publishes-nothing"),
    pytest.param(CPU, [85, 89, 90, 80, 90], [], id="below-breach-value-never-breaches"),
    pytest.param(CPU, [95, 80], ["breach@0", "clear@1"], id="clear-value-inclusive"),
    pytest.param(CPU, [95, None, None, None, 95, 50], ["breach@0", "clear@5"], id="missing-is-not-a-clear"),
    pytest.param(CPU_FOR3, [95, 95, 50, 95, 95, 95, 95], ["breach@5"], id="for-3-consecutive"),
    pytest.param(CPU_FOR3, [95, None, 95, None, 95], ["breach@4"], id="for-3-missing-keeps-run"),
    pytest.param(CPU_FOR3, [95, 95, 85, 95], [], id="for-3-hover-resets-pending"),
    pytest.param(
        CPU_FOR3_CLEAR2, [95, 95, 95, 50, 95, 50, 50], ["breach@2", "clear@6"], id="clear-for-2-consecutive"
    ),
    pytest.param(CPU_FOR3_CLEAR2, [95, 95, 95, 50, 85, 50], ["breach@2"], id="clear-run-reset-by-hover"),
    pytest.param(
        CPU_FOR_30S,
        [(95, 0), (95, 10), (95, 20), (95, 30), (95, 40)],
        ["breach@3"],
        id="for-30s-duration",
    ),
    pytest.param(LOSS_LOW, [3, 1, 2, 2, 3], ["breach@1", "clear@4"], id="less-than-with-hysteresis"),
    pytest.param(UNREACHABLE, [True, False, False, False, True], ["breach@2", "clear@4"], id="bool-field"),
    pytest.param(UNREACHABLE, [1, 0, 0, 1], ["breach@2", "clear@3"], id="bool-rule-int-field"),
    pytest.param(REBOOT, [0, 1, 0, 0, 1, 0], ["event@1", "event@4"], id="event-per-reboot-no-clear"),
    pytest.param(REBOOT, [1, 1, 0], ["event@0"], id="event-first-sample-fires"),
    pytest.param(REBOOT, [float("nan"), 1], ["event@1"], id="nan-is-missing"),
    pytest.param(SURGE, [50000, 60000, 70000], [], id="baseline-warm-up-judges-nothing"),
    pytest.param(SURGE, [*QUIET, 16000], ["breach@3"], id="baseline-above-3x-median"),
    pytest.param(SURGE, [*QUIET, 15000], [], id="baseline-3x-is-not-above"),
    pytest.param(SURGE, [*QUIET, 16000, 12000, 10000], ["breach@3", "clear@5"], id="baseline-hysteresis"),
    pytest.param(SURGE, [100, 120, 90, 900], [], id="baseline-under-minimum-never-breaches"),
    pytest.param(SURGE, [0, 0, 0, 1500], ["breach@3"], id="baseline-zero-median-counts-as-one"),
    pytest.param(
        SURGE, [*QUIET, 5000, 80000, 5100], ["breach@4", "clear@5"], id="baseline-median-ignores-spike"
    ),
    pytest.param(
        SURGE,
        [*QUIET, 16000, 16000, 16000, 16000],
        ["breach@3", "clear@6"],
        id="baseline-new-level-becomes-normal",
    ),
    pytest.param(
        SURGE_FOR2, [*QUIET, 16000, 5000, 16000, 17000], ["breach@6"], id="baseline-for-2-consecutive"
    ),
    pytest.param(SURGE, [*QUIET, None, 16000], ["breach@4"], id="baseline-missing-is-no-sample"),
]


def sample_for(r: Rule, value: object, when: int, device: str = "r1") -> Sample:
    fields: dict[str, object] = {} if value is None else {r.field: value}
    if r.measurement == "ping" and r.field != "reachable":
        fields["reachable"] = True
    return Sample(r.measurement, {"device": device}, fields, T0 + when * S)  # type: ignore[arg-type]


def run(r: Rule, values: list[object], engine: AlertEngine | None = None) -> list[str]:
    engine = engine or AlertEngine([r])
    out = []
    for index, item in enumerate(values):
        value, when = item if isinstance(item, tuple) else (item, index)
        for alert in engine.evaluate([sample_for(r, value, when)]):
            out.append(f"{alert.state}@{index}")
    return out


@pytest.mark.parametrize(("rule_yaml", "values", "expected"), CASES)
def test_sequences(rule_yaml: str, values: list[object], expected: list[str]) -> None:
    assert run(rule(rule_yaml), values) == expected


def iface(name: str, oper: int | None, admin: int, when: int, device: str = "sw1") -> Sample:
    fields = {"admin_status": admin}
    if oper is not None:
        fields["oper_status"] = oper
    return Sample("interface", {"device": device, "ifName": name}, fields, T0 + when * S)


INTERFACE_CASES = [
    # (oper, admin) per poll
    pytest.param(LINK_DOWN, [(1, 1), (2, 1), (2, 1), (1, 1), (2, 1)], ["event@1", "event@4"], id="link-down"),
    pytest.param(LINK_DOWN, [(2, 1), (2, 1), (1, 1)], [], id="down-at-start-is-no-change"),
    pytest.param(LINK_DOWN, [(1, 1), (2, 2), (2, 2), (1, 1)], [], id="admin-down-is-not-applicable"),
    pytest.param(LINK_DOWN, [(1, 1), (None, 1), (2, 1)], ["event@2"], id="missing-oper-status"),
    pytest.param(FLAP, [(1, 1), (2, 1), (1, 1), (1, 1), (1, 1)], [], id="two-changes-is-not-flapping"),
    pytest.param(
        FLAP,
        [(1, 1), (2, 1), (1, 1), (2, 1), (2, 1), (1, 1), (1, 1)],
        ["breach@3"],
        id="three-changes-flap-once",
    ),
]


@pytest.mark.parametrize(("rule_yaml", "polls", "expected"), INTERFACE_CASES)
def test_interface_sequences(
    rule_yaml: str, polls: list[tuple[int | None, int]], expected: list[str]
) -> None:
    engine = AlertEngine([rule(rule_yaml)])
    out = []
    for index, (oper, admin) in enumerate(polls):
        out += [f"{a.state}@{index}" for a in engine.evaluate([iface("Gi0/1", oper, admin, index * 10)])]
    assert out == expected


def test_flapping_clears_after_a_quiet_window() -> None:
    engine = AlertEngine([rule(FLAP)])
    timeline = [(0, 1), (5, 2), (10, 1), (15, 2), (30, 2), (60, 2), (74, 2), (76, 2), (80, 1)]
    out = []
    for when, oper in timeline:
        for alert in engine.evaluate([iface("Gi0/1", oper, 1, when)]):
            out.append((alert.state, when, alert.value))
    # changes at 5, 10, 15 → 3 in the window: breach; the last change leaves the 60 s window at 75 s.
    assert out == [("breach", 15, 3), ("clear", 76, 0)]


def test_entities_are_independent_and_payload_names_them() -> None:
    r = rule(CPU.replace("snmp", "interface").replace("cpu_pct", "in_util_pct"))
    engine = AlertEngine([r])
    alerts = engine.evaluate(
        [
            Sample("interface", {"device": "sw1", "ifName": "Gi0/1"}, {"in_util_pct": 95.0}, T0),
            Sample("interface", {"device": "sw1", "ifName": "Gi0/2"}, {"in_util_pct": 10.0}, T0),
            Sample("interface", {"device": "sw2", "ifName": "Gi0/1"}, {"in_util_pct": 99.0}, T0),
        ]
    )
    assert [(a.device, a.entity) for a in alerts] == [("sw1", "Gi0/1"), ("sw2", "Gi0/1")]
    payload = alerts[0].to_payload()
    assert payload["state"] == "breach"
    assert payload["entity"] == "Gi0/1"
    assert payload["threshold"] == 90
    assert payload["clear_threshold"] == 80
    assert payload["value"] == 95.0
    assert payload["since"] == "2023-11-14T22:13:20.000Z"
    assert payload["time"] == payload["since"]
    assert alerts[0].id != alerts[1].id
    assert len(alerts[0].id) == 26
    json.dumps(payload)  # JSON-able
    point = alerts[0].to_sample()
    assert point.measurement == "alert"
    assert dict(point.tags) == {
        "device": "sw1",
        "rule": "cpu",
        "severity": "warning",
        "entity": "Gi0/1",
        "state": "breach",
    }
    assert point.fields["value"] == 95.0
    assert point.fields["threshold"] == 90.0
    assert point.fields["id"] == alerts[0].id
    assert "sw1 Gi0/1" in str(point.fields["message"])


def test_since_is_start_of_the_condition() -> None:
    engine = AlertEngine([rule(CPU_FOR3)])
    alerts = []
    for step, value in enumerate([95, 96, 97, 50, 50, 50]):
        alerts += engine.evaluate([sample_for(engine.rules[0], value, step)])
    breach, clear = alerts
    assert (breach.since_ns, breach.time_ns) == (T0, T0 + 2 * S)
    assert (clear.since_ns, clear.time_ns) == (T0, T0 + 5 * S)
    assert clear.breach_id == breach.id
    assert clear.to_payload()["breach_id"] == breach.id


SCOPED = """
- name: util
  measurement: interface
  field: in_util_pct
  comparison: ">"
  breach: 90
  scope:
    devices: ["core-*", edge1]
    roles: [router]
    sites: [ams*]
    tags: {env: prod}
    interfaces: ["xe-*", "Gi0/*"]
"""

SCOPE_CASES = [
    pytest.param({"device": "core-1", "role": "router", "site": "ams1", "env": "prod"}, "xe-0/0/0", True),
    pytest.param({"device": "edge1", "role": "router", "site": "ams2", "env": "prod"}, "Gi0/3", True),
    pytest.param({"device": "edge2", "role": "router", "site": "ams1", "env": "prod"}, "xe-0/0/0", False),
    pytest.param({"device": "core-1", "role": "switch", "site": "ams1", "env": "prod"}, "xe-0/0/0", False),
    pytest.param({"device": "core-1", "role": "router", "site": "fra1", "env": "prod"}, "xe-0/0/0", False),
    pytest.param({"device": "core-1", "role": "router", "site": "ams1", "env": "lab"}, "xe-0/0/0", False),
    pytest.param({"device": "core-1", "role": "router", "site": "ams1"}, "xe-0/0/0", False),
    pytest.param({"device": "core-1", "role": "router", "site": "ams1", "env": "prod"}, "ge-0/0/0", False),
]


@pytest.mark.parametrize(("tags", "ifname", "in_scope"), SCOPE_CASES)
def test_scope(tags: dict[str, str], ifname: str, in_scope: bool) -> None:
    engine = AlertEngine([rule(SCOPED)])
    sample = Sample("interface", {**tags, "ifName": ifname}, {"in_util_pct": 99.0}, T0)
    assert bool(engine.evaluate([sample])) is in_scope


def test_entity_falls_back_to_ifdescr() -> None:
    engine = AlertEngine([rule(SCOPED.split("  scope:")[0])])
    (alert,) = engine.evaluate(
        [Sample("interface", {"device": "r", "ifDescr": "eth0"}, {"in_util_pct": 99}, T0)]
    )
    assert alert.entity == "eth0"


def test_restore_from_state_no_second_breach_and_clear_still_comes(tmp_path: Path) -> None:
    path = tmp_path / "state" / "alerts.json"
    r = rule(CPU_FOR3)
    first = AlertEngine([r], state_path=path)
    assert run(r, [95, 95, 95], first) == ["breach@2"]
    breach_id = first.active() and first._states[("cpu", "r1", "")].breach_id
    # A crash right after: no save() call, the file was written at the transition.
    second = AlertEngine([r], state_path=path)
    assert second.active() == [("cpu", "r1", "")]
    assert run(r, [95, 95, 95, 85], second) == []
    third = AlertEngine([r], state_path=path)  # restart while still breached
    alerts = []
    for step, value in enumerate([50, 50, 50]):
        alerts += third.evaluate([sample_for(r, value, step)])
    assert [a.state for a in alerts] == ["clear"]
    assert alerts[0].breach_id == breach_id
    assert AlertEngine([r], state_path=path).active() == []


def test_restore_keeps_event_edge_and_drops_unknown_rules(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    link, cpu = rule(LINK_DOWN), rule(CPU)
    engine = AlertEngine([link, cpu], state_path=path)
    engine.evaluate([iface("Gi0/1", 1, 1, 0)])
    engine.evaluate([sample_for(cpu, 95, 0)])
    engine.save()
    # Restarted with only the link rule: the up state is remembered, so the first down is a change.
    restarted = AlertEngine([link], state_path=path)
    assert [a.state for a in restarted.evaluate([iface("Gi0/1", 2, 1, 10)])] == ["event"]
    assert restarted.active() == []


def test_state_written_at_breach_and_clear_not_for_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netpoll.alerts.journal as journal_module

    written: list[str] = []
    real_write = journal_module.write_state_file

    def counting_write(path: Path, document: dict[str, object]) -> None:
        written.append(path.name)
        real_write(path, document)

    real_append = journal_module.append_durable

    def counting_append(path: Path, data: bytes) -> None:
        written.append(path.name)
        real_append(path, data)

    monkeypatch.setattr(journal_module, "write_state_file", counting_write)
    monkeypatch.setattr(journal_module, "append_durable", counting_append)
    link, cpu = rule(LINK_DOWN), rule(CPU)
    engine = AlertEngine([link, cpu], state_path=tmp_path / "alerts.json")
    engine.evaluate([iface("Gi0/1", 1, 1, 0)])
    assert [a.state for a in engine.evaluate([iface("Gi0/1", 2, 1, 10)])] == ["event"]
    assert written == []  # an event leaves the active file as it was
    assert [a.state for a in engine.evaluate([sample_for(cpu, 95, 20)])] == ["breach"]
    assert written == ["alerts.json"]  # the first save: a snapshot
    assert [a.state for a in engine.evaluate([sample_for(cpu, 50, 30)])] == ["clear"]
    assert written == ["alerts.json", "alerts.journal"]  # then one line per save


def test_an_alert_storm_appends_a_line_per_breach_not_every_active_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netpoll.alerts.engine as engine_module
    import netpoll.alerts.journal as journal_module

    snapshots: list[int] = []  # active states in each snapshot written
    real_write = journal_module.write_state_file

    def counting_write(path: Path, document: dict[str, object]) -> None:
        if path.name == "alerts.json":
            states = document["states"]
            assert isinstance(states, list)
            snapshots.append(len(states))
        real_write(path, document)

    monkeypatch.setattr(journal_module, "write_state_file", counting_write)
    monkeypatch.setattr(engine_module, "ACTIVE_JOURNAL_MIN_BYTES", 64 * 1024)
    cpu = rule(CPU)
    path = tmp_path / "alerts.json"
    engine = AlertEngine([cpu], state_path=path)
    devices = [f"r{i}" for i in range(3000)]
    for n, device in enumerate(devices):  # a site goes dark: one breach per poll, each saved first
        assert [a.state for a in engine.evaluate([sample_for(cpu, 95, n, device=device)])] == ["breach"]
    # Each snapshot at least doubles the journal's room, so a few of them, not one per breach.
    assert len(snapshots) <= 6, snapshots
    assert sum(snapshots) < 2 * len(devices)
    restarted = AlertEngine([cpu], state_path=path)
    assert sorted(key[1] for key in restarted.active()) == sorted(devices)
    assert [a.state for a in restarted.evaluate([sample_for(cpu, 50, 9999, device="r7")])] == ["clear"]
    assert len(AlertEngine([cpu], state_path=path).active()) == len(devices) - 1


def test_the_active_journal_is_replayed_and_a_torn_line_skipped(tmp_path: Path) -> None:
    cpu = rule(CPU)
    path = tmp_path / "alerts.json"
    engine = AlertEngine([cpu], state_path=path)
    assert [a.state for a in engine.evaluate([sample_for(cpu, 95, 1, device="a")])] == ["breach"]
    assert [a.state for a in engine.evaluate([sample_for(cpu, 95, 2, device="b")])] == ["breach"]
    assert [a.state for a in engine.evaluate([sample_for(cpu, 50, 3, device="a")])] == ["clear"]
    journal = tmp_path / "alerts.journal"
    assert len(journal.read_text().splitlines()) == 2  # b's breach, a's clear: the snapshot has a alone
    with journal.open("a") as handle:
        handle.write('{"generation": 1, "states": [{"rule": "cp')  # a crash mid-append
    restarted = AlertEngine([cpu], state_path=path)
    assert [key[1] for key in restarted.active()] == ["b"]
    assert [a.state for a in restarted.evaluate([sample_for(cpu, 95, 4, device="b")])] == []  # not again


def saved_active(path: Path) -> list[dict[str, object]]:
    """The active states as saved: the snapshot with its journal replayed over it."""
    document = json.loads(path.read_text())
    states = dict(parse_states(document))
    journal = path.with_name(path.stem + ".journal")
    if journal.exists():
        for key, state in parse_active_journal(journal.read_text(), document["generation"]):
            if state is None:
                states.pop(key, None)
            else:
                states[key] = state
    return [active_record(key, state) for key, state in states.items()]


def test_save_rewrites_only_what_changed_and_keeps_flapping_memory(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    edges = tmp_path / "alerts.edges.json"
    flap = rule(FLAP)
    engine = AlertEngine([flap], state_path=path)
    engine.save()  # nothing remembered yet: nothing to write
    assert not path.exists()
    assert not edges.exists()
    engine.evaluate([iface("Gi0/1", 1, 1, 0)])
    engine.save()
    assert json.loads(edges.read_text())["edges"] == [["flap", "sw1", "Gi0/1", None, 1, []]]
    edges.unlink()
    engine.save()  # unchanged since: not rewritten
    assert not edges.exists()
    alerts = []
    for when, oper in [(5, 2), (10, 1), (15, 2), (20, 1)]:
        alerts += engine.evaluate([iface("Gi0/1", oper, 1, when)])
    assert [a.state for a in alerts] == ["breach"]
    engine.save()  # the change at 20 s happened while breached: it is in the active file (its journal)
    (record,) = saved_active(path)
    assert (record["phase"], record["changes"]) == ("breached", [T0 + t * S for t in (5, 10, 15, 20)])
    restarted = AlertEngine([flap], state_path=path)
    assert restarted._states[("flap", "sw1", "Gi0/1")].changes == record["changes"]
    # Quiet for the window: the clear moves the memory back to the edges file.
    assert [a.state for a in restarted.evaluate([iface("Gi0/1", 1, 1, 81)])] == ["clear"]
    restarted.save()
    assert saved_active(path) == []
    assert json.loads(edges.read_text())["edges"] == [["flap", "sw1", "Gi0/1", None, 1, []]]


def test_corrupt_state_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    path.write_text("{not json")
    engine = AlertEngine([rule(CPU)], state_path=path)
    assert engine.active() == []
    assert (tmp_path / "alerts.json.corrupt").exists()
    engine.evaluate([sample_for(engine.rules[0], 95, 0)])
    assert saved_active(path)[0]["phase"] == "breached"


def test_forget_device() -> None:
    engine = AlertEngine([rule(CPU)])
    engine.evaluate([sample_for(engine.rules[0], 95, 0)])
    engine.forget("r1")
    assert engine.active() == []


def test_default_rules_end_to_end() -> None:
    from netpoll.alerts.rules import load_rules

    engine = AlertEngine(load_rules(None))
    tags = {"device": "r1", "url": "127.0.0.1"}
    states = []
    for step, reachable in enumerate([True, False, False, False, True]):
        loss = 0.0 if reachable else 100.0
        fields = {
            "reachable": reachable,
            "percent_packet_loss": loss,
            "packets_received": 3 if reachable else 0,
        }
        states += [(a.rule, a.state) for a in engine.evaluate([Sample("ping", tags, fields, T0 + step * S)])]
    assert states == [("device_unreachable", "breach"), ("device_unreachable", "clear")]


def test_messages_round_values_for_people_and_alerts_keep_them_whole() -> None:
    engine = AlertEngine([rule(CPU)])
    (breach,) = engine.evaluate([Sample("snmp", {"device": "r1"}, {"cpu_pct": 94.98664567052643}, T0)])
    assert "cpu_pct=94.99 > 90" in breach.message
    assert breach.value == 94.98664567052643
    assert breach.to_sample().fields["value"] == 94.98664567052643


def test_baseline_history_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    r = rule(SURGE)
    first = AlertEngine([r], state_path=path)
    assert run(r, QUIET, first) == []
    first.save()
    assert json.loads(path.with_name("alerts.edges.json").read_text())["edges"] == [
        ["surge", "r1", "", None, None, [], [float(v) for v in QUIET]]
    ]
    # Restarted: the baseline is there, so the next sample is judged at once.
    assert run(r, [16000], AlertEngine([r], state_path=path)) == ["breach@0"]


def test_edges_of_earlier_versions_load() -> None:
    from netpoll.alerts.state import parse_edges

    ((key, state),) = parse_edges({"version": 1, "edges": [["flap", "sw1", "Gi0/1", None, 1, [5]]]})
    assert (key, state.last_value, state.changes, state.history) == (("flap", "sw1", "Gi0/1"), 1, [5], None)


def _edges_of(engine: AlertEngine) -> dict[tuple[str, str, str], tuple[object, object]]:
    return {key: (s.matched, s.last_value) for key, s in engine._states.items() if s.phase == "ok"}


def test_edge_changes_go_to_a_journal_and_a_restart_replays_it(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    edges, journal = tmp_path / "alerts.edges.json", tmp_path / "alerts.edges.journal"
    link, flap = rule(LINK_DOWN), rule(FLAP)
    engine = AlertEngine([link, flap], state_path=path)
    engine.evaluate([iface(f"Gi0/{n}", 1, 1, 0) for n in range(20)])
    engine.save()  # the first save: a snapshot of all 40 records
    snapshot = edges.read_bytes()
    assert len(json.loads(snapshot)["edges"]) == 40
    assert not journal.exists()
    engine.evaluate([iface("Gi0/3", 2, 1, 10)])  # one interface changed: one line with its two records
    engine.save()
    assert edges.read_bytes() == snapshot  # the snapshot is not rewritten
    (line,) = journal.read_text().splitlines()
    entry = json.loads(line)
    assert (entry["generation"], entry["gone"]) == (json.loads(snapshot)["generation"], [])
    assert sorted(record[:3] for record in entry["edges"]) == [
        ["flap", "sw1", "Gi0/3"],
        ["link_down", "sw1", "Gi0/3"],
    ]
    engine.forget("sw1")
    engine.save()  # forgotten: its 40 keys "gone"
    assert sorted(json.loads(journal.read_text().splitlines()[-1])["gone"])[:1] == [["flap", "sw1", "Gi0/0"]]
    assert AlertEngine([link, flap], state_path=path)._states == {}
    for step in range(1, 10):  # changes journaled until the journal would outgrow the snapshot
        engine.evaluate([iface(f"Gi0/{n}", 1, 1, 10 + step) for n in range(2 * step, 2 * step + 2)])
        engine.save()
        if not journal.exists():
            break
        assert journal.stat().st_size <= edges.stat().st_size
    assert not journal.exists()
    assert _edges_of(AlertEngine([link, flap], state_path=path)) == _edges_of(engine)  # the new snapshot


def _in_small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots written in steps yield to the loop after every record (as 840,000 records would)."""
    monkeypatch.setattr(state_module._array_pieces, "__defaults__", (1,))
    monkeypatch.setattr(state_module.write_state_file_in_steps, "__defaults__", (None, 0.0))


def test_an_edges_snapshot_in_steps_keeps_the_changes_made_while_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _in_small_steps(monkeypatch)
    path = tmp_path / "alerts.json"
    link, flap = rule(LINK_DOWN), rule(FLAP)
    engine = AlertEngine([link, flap], state_path=path)
    engine.snapshots_in_steps = True
    engine.evaluate([iface(f"Gi0/{n}", 1, 1, 0) for n in range(20)])

    async def scenario() -> None:
        save = asyncio.create_task(engine.save_in_steps())  # the first save: a snapshot, in steps
        for step in range(1, 30):  # polls go on meanwhile: interfaces change, one goes away
            await asyncio.sleep(0)
            engine.evaluate([iface(f"Gi0/{step % 20}", 1 + step % 2, 1, step)])
            engine._last_edges_save = 0.0  # an idle save is due at every poll: it must append nothing
            if step == 5:
                engine.forget("sw1")
                engine.evaluate([iface(f"Gi0/{n}", 2, 1, step) for n in range(3)])
            assert not (tmp_path / "alerts.edges.journal").exists()
        assert not save.done()  # every change above was made while the snapshot was being written
        await save
        await engine.save_in_steps()  # what changed meanwhile: saved after it

    asyncio.run(scenario())
    assert _edges_of(AlertEngine([link, flap], state_path=path)) == _edges_of(engine)


def test_a_cancelled_snapshot_in_steps_leaves_the_files_and_stays_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _in_small_steps(monkeypatch)
    path = tmp_path / "alerts.json"
    link = rule(LINK_DOWN)
    engine = _journaled(path, link)  # a snapshot and a journal line on disk
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    engine._edge_changes.full = True  # a snapshot is due

    async def scenario() -> None:
        save = asyncio.create_task(engine.save_in_steps())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        save.cancel()
        with pytest.raises(asyncio.CancelledError):
            await save

    asyncio.run(scenario())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary left either
    assert engine._edge_changes.full
    asyncio.run(engine.save_in_steps())
    assert not (tmp_path / "alerts.edges.journal").exists()
    assert _edges_of(AlertEngine([link], state_path=path)) == _edges_of(engine)


def _journaled(path: Path, link: Rule) -> AlertEngine:
    """An engine whose snapshot holds 10 interfaces up, and a journal line Gi0/1 going down."""
    engine = AlertEngine([link], state_path=path)
    engine.evaluate([iface(f"Gi0/{n}", 1, 1, 0) for n in range(10)])
    engine.save()
    engine.evaluate([iface("Gi0/1", 2, 1, 10)])
    engine.save()
    return engine


def test_restart_sees_snapshot_plus_journal(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    link = rule(LINK_DOWN)
    engine = _journaled(path, link)
    engine.evaluate([iface("Gi0/2", 2, 1, 20)])
    engine.save()
    assert len((tmp_path / "alerts.edges.journal").read_text().splitlines()) == 2
    restarted = AlertEngine([link], state_path=path)
    assert _edges_of(restarted) == _edges_of(engine)
    # The interface already down is no change; the one still up going down is.
    alerts = restarted.evaluate([iface("Gi0/1", 2, 1, 30), iface("Gi0/5", 2, 1, 30)])
    assert [(a.entity, a.state) for a in alerts] == [("Gi0/5", "event")]
    restarted.save()  # the first save after a restart folds the journal into a new snapshot
    assert not (tmp_path / "alerts.edges.journal").exists()
    assert _edges_of(AlertEngine([link], state_path=path)) == _edges_of(restarted)


def test_torn_or_stale_journal_lines_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "alerts.json"
    journal = tmp_path / "alerts.edges.journal"
    link = rule(LINK_DOWN)
    engine = _journaled(path, link)
    generation = json.loads(journal.read_text())["generation"]
    record = ["link_down", "sw1", "Gi0/2", True, None, []]
    stale = {"generation": generation - 1, "edges": [record], "gone": []}
    torn = f'{{"generation": {generation}, "edges": [["link_down", "sw1", "Gi0/3", tr'
    with journal.open("a") as handle:  # a leftover of an older snapshot, then a crash mid-append
        handle.write(json.dumps(stale) + "\n" + torn)
    restarted = AlertEngine([link], state_path=path)
    assert _edges_of(restarted) == _edges_of(engine)
    assert "damaged edges journal line" in caplog.text


@pytest.mark.parametrize("count", [0, 1, 4095, 4096, 4097, 10_000])
def test_a_state_file_streamed_from_an_iterator_is_the_json_of_the_list(tmp_path: Path, count: int) -> None:
    records = [["r1", f"if{i}", {"v": i, "s": 'é"\\'}] for i in range(count)]
    path = tmp_path / "alerts.edges.json"
    write_state_file(path, {"version": 1, "generation": 3, "edges": iter(records)})
    expected = json.dumps({"version": 1, "generation": 3, "edges": records}, separators=(",", ":"))
    assert path.read_bytes() == expected.encode("utf-8")


def test_a_state_file_whose_records_fail_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.edges.json"
    write_state_file(path, {"version": 1, "edges": iter([[1]])})

    def failing() -> Iterator[list[int]]:
        yield [2]
        raise ValueError("a record that cannot be encoded")

    with pytest.raises(ValueError, match="cannot be encoded"):
        write_state_file(path, {"version": 1, "edges": failing()})
    assert json.loads(path.read_text()) == {"version": 1, "edges": [[1]]}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
