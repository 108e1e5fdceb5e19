"""Rules files: validation errors as ``file:line: message``, and the shipped defaults."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from netpoll.alerts.rules import load_rules, parse_rules
from netpoll.errors import ConfigError
from netpoll.measurements import MODEL, NETPOLL, Field

GOOD = """\
rules:
  - name: cpu
    measurement: snmp
    field: cpu_pct
    comparison: ">"
    breach: 90
"""

# (yaml, expected problems as "line: fragment")
BAD_CASES = [
    pytest.param(
        GOOD.replace("    breach: 90", "    breach: 90\n    treshold: 3"),
        ["7: rule 'cpu': unknown key 'treshold'; allowed keys here: name, description"],
        id="unknown-key",
    ),
    pytest.param(
        GOOD.replace("    breach: 90", "    breach: 90\n    sevrity: major"),
        ["7: rule 'cpu': unknown key 'sevrity'; did you mean 'severity'?"],
        id="did-you-mean",
    ),
    pytest.param(
        GOOD.replace("field: cpu_pct", "field: cpu_pc"), ["4: ", "did you mean 'cpu_pct'"], id="field-typo"
    ),
    pytest.param(
        GOOD.replace("measurement: snmp", "measurement: ping").replace("cpu_pct", "rtt"),
        ["4: rule 'cpu': measurement 'ping' has no field 'rtt'"],
        id="closed-measurement",
    ),
    pytest.param(GOOD.replace('">"', '"=>"'), ["5: rule 'cpu': comparison must be one of"], id="comparison"),
    pytest.param(
        GOOD.replace("name: cpu", 'name: "cpu\\n"'), ["2: rule 'name' is required"], id="name-newline"
    ),
    pytest.param(GOOD.replace("    breach: 90\n", ""), ["2: rule 'cpu': 'breach' is required"], id="missing"),
    pytest.param(
        GOOD + "    clear: 95\n", ["7: rule 'cpu': clear (95) must not be above breach (90)"], id="clear"
    ),
    pytest.param(GOOD + "    for: soon\n", ["7: rule 'cpu': 'for' must be a count"], id="for"),
    pytest.param(GOOD + "    for: 0\n", ["7: rule 'cpu': 'for' must be a count"], id="for-zero"),
    pytest.param(GOOD + "    severity: urgent\n", ["7: rule 'cpu': severity must be one of"], id="severity"),
    pytest.param(
        GOOD + "    kind: treshold\n", ["7: rule 'cpu': kind must be", "did you mean 'threshold'"], id="kind"
    ),
    pytest.param(
        GOOD + "    kind: event\n    trigger: chnage\n",
        ["8: rule 'cpu': trigger must be one of match, change, not 'chnage'; did you mean 'change'?"],
        id="trigger",
    ),
    pytest.param(
        GOOD + "    trigger: change\n",
        ["7: rule 'cpu': 'trigger' only applies to an event rule"],
        id="trigger-kind",
    ),
    pytest.param(
        GOOD + "    scope:\n      device: [r1]\n",
        ["8: rule 'cpu': scope: unknown key 'device'; did you mean 'devices'?"],
        id="scope-key",
    ),
    pytest.param(
        GOOD + "    scope: {interfaces: [Gi*]}\n",
        ["7: rule 'cpu': scope.interfaces needs a per-interface rule"],
        id="scope-interfaces-device-rule",
    ),
    pytest.param(
        GOOD + GOOD.split("rules:\n")[1], ["7: duplicate rule name 'cpu' (first defined on line 2)"], id="dup"
    ),
    pytest.param(
        GOOD.replace("comparison", "kind: flapping\n    comparison"),
        ["2: rule 'cpu': a flapping rule needs 'window'"],
        id="flapping-window",
    ),
    pytest.param(
        GOOD.replace("comparison", "kind: event\n    comparison") + "    for: 3\n",
        ["8: rule 'cpu': 'for' does not apply to an event rule"],
        id="event-for",
    ),
    pytest.param(
        GOOD + "    breach: 95\n",
        ["7: key 'breach' appears twice in this mapping (first at line 6): remove one"],
        id="dup-key",
    ),
    pytest.param(
        GOOD.replace('">"', '"<"').replace("90", "x"), ["6: rule 'cpu': breach must be a number"], id="str"
    ),
    pytest.param(
        GOOD + "    baseline: 12\n    minimum: 5\n",
        [
            "7: rule 'cpu': 'baseline' only applies to a baseline rule",
            "8: rule 'cpu': 'minimum' only applies",
        ],
        id="baseline-keys-kind",
    ),
    pytest.param(
        GOOD.replace("comparison", "kind: baseline\n    comparison") + "    baseline: 2\n    minimum: -1\n",
        [
            "8: rule 'cpu': 'baseline' is the count of previous samples",
            "9: rule 'cpu': 'minimum' is the least",
        ],
        id="baseline-values",
    ),
    pytest.param(
        GOOD.replace("comparison", "kind: baseline\n    comparison").replace('">"', '"<"'),
        ["rule 'cpu': a baseline rule compares the ratio to its baseline with '>' or '>='"],
        id="baseline-comparison",
    ),
    pytest.param("rules:\n  - name: [x]\n", ["2: rule 'name' is required"], id="bad-name"),
    pytest.param("rule:\n  - {}\n", ["1: unknown key 'rule'; did you mean 'rules'?"], id="top-key"),
    pytest.param("rules: [\n", ["2: YAML syntax error: "], id="yaml-syntax"),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_CASES)
def test_validation_errors(text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(text, "rules.yaml")
    problems = "\n".join(info.value.problems)
    for fragment in fragments:
        assert fragment in problems
    assert all(problem.startswith("rules.yaml:") for problem in info.value.problems)


def test_all_problems_at_once() -> None:
    text = GOOD.replace("cpu_pct", "cpu_pc") + "    severity: urgent\n  - name: x\n"
    with pytest.raises(ConfigError) as info:
        parse_rules(text, "r.yaml")
    lines = [problem.split(":")[1] for problem in info.value.problems]
    assert lines == ["4", "7", "8", "8", "8", "8", "8"][: len(lines)]
    assert len(info.value.problems) >= 3


def test_good_rule_defaults() -> None:
    (rule,) = parse_rules(GOOD, "r.yaml")
    assert rule.kind == "threshold"
    assert rule.clear == rule.breach == 90
    assert rule.hold.samples == 1
    assert rule.severity == "warning"
    assert rule.entity_tag is None
    assert rule.source == "r.yaml:2"


def test_durations_and_interface_entity() -> None:
    text = textwrap.dedent(
        """\
        rules:
          - name: util
            measurement: interface
            field: in_util_pct
            comparison: ">="
            breach: 95.5
            clear: 80
            for: 5m
            clear_for: 2
        """
    )
    (rule,) = parse_rules(text)
    assert rule.hold.seconds == 300
    assert rule.clear_hold.samples == 2
    assert rule.entity_tag == "ifName"


def test_profile_fields_are_known_once_added_to_the_model() -> None:
    text = GOOD.replace("cpu_pct", "fan_rpm")
    with pytest.raises(
        ConfigError, match=r"measurement 'snmp' has no field 'fan_rpm'; its fields: .*cpu_1min_pct"
    ):
        parse_rules(text)
    model = MODEL.with_fields({"snmp": [Field("fan_rpm", "float", "", "a user profile's", profile=True)]})
    assert parse_rules(text, model=model)[0].field == "fan_rpm"


def test_when_needs_fields_of_the_measurement() -> None:
    text = GOOD.replace("measurement: snmp", "measurement: interface").replace("cpu_pct", "in_util_pct")
    assert parse_rules(text + "    when: {admin_status: 1}\n")[0].when == (("admin_status", 1),)
    with pytest.raises(ConfigError, match="when: measurement 'interface' has no field 'admin_state'"):
        parse_rules(text + "    when: {admin_state: 1}\n")


def test_unknown_and_unwatched_measurements_are_refused() -> None:
    custom = GOOD.replace("measurement: snmp", "measurement: ups_battery").replace("cpu_pct", "state")
    with pytest.raises(
        ConfigError, match="unknown measurement 'ups_battery'; rules watch interface, snmp, ping"
    ):
        parse_rules(custom)
    alert = GOOD.replace("measurement: snmp", "measurement: alert").replace("cpu_pct", "value")
    with pytest.raises(ConfigError, match="unknown measurement 'alert'"):
        parse_rules(alert)


@pytest.mark.parametrize("field", sorted(NETPOLL.field_names))
def test_a_rule_on_each_netpoll_field_validates(field: str) -> None:
    text = GOOD.replace("measurement: snmp", "measurement: netpoll").replace("cpu_pct", field)
    rule = parse_rules(text)[0]
    assert (rule.measurement, rule.field, rule.entity_tag) == ("netpoll", field, None)


def test_defaults_load() -> None:
    rules = {rule.name: rule for rule in load_rules(None)}
    assert set(rules) == {
        "device_unreachable",
        "high_latency",
        "packet_loss",
        "snmp_unreachable",
        "device_rebooted",
        "unexpected_reboot",
        "snmp_bad_community",
        "snmp_bad_community_use",
        "snmp_usm_wrong_digest",
        "snmp_usm_unknown_user",
        "config_changed",
        "firewall_sessions_surge",
        "interface_down",
        "interface_flapping",
        "interface_in_utilisation",
        "interface_out_utilisation",
        "interface_in_errors",
        "interface_out_errors",
        "cpu_high",
        "memory_high",
        "poller_overloaded",
        "bgp_peer_down_trap",
        "hardware_failure_trap",
    }
    assert (rules["poller_overloaded"].measurement, rules["poller_overloaded"].field) == (
        "netpoll",
        "polls_overloaded",
    )
    assert "shard" in rules["poller_overloaded"].advice
    assert not any("linkDown" in rule.traps for rule in rules.values())  # interface_down comes from the poll
    assert rules["device_rebooted"].kind == "event"
    assert rules["interface_down"].trigger == "change"
    assert rules["interface_flapping"].window_s == 600


def test_load_file_include_defaults_override_and_disable(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "include_defaults: true\ndisable: [memory_high]\n"
        + GOOD.replace("name: cpu", "name: cpu_high").replace("breach: 90", "breach: 75")
    )
    rules = {rule.name: rule for rule in load_rules(path)}
    assert "memory_high" not in rules
    assert rules["cpu_high"].breach == 75
    assert "device_unreachable" in rules


def test_load_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("include_defaults: true\ndisable: [memory_hi]\n")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert info.value.problems == [
        f"{path}:2: disable: no default rule 'memory_hi'; did you mean 'memory_high'?"
    ]
    with pytest.raises(ConfigError) as info:
        load_rules(tmp_path / "missing.yaml")
    assert "missing.yaml:1: cannot read it (No such file or directory)" in info.value.problems[0]
    path.write_text(GOOD)
    assert [rule.name for rule in load_rules(path)] == ["cpu"]


def test_baseline_rule_defaults() -> None:
    text = GOOD.replace('comparison: ">"\n', "kind: baseline\n").replace("90", "3")
    (rule,) = parse_rules(text)
    assert (rule.kind, rule.comparison, rule.breach, rule.baseline_samples, rule.minimum) == (
        "baseline", ">", 3, 12, 0.0,
    )  # fmt: skip
    assert rule.warmup == 6


TRAP_RULE = """
rules:
  - name: core_bgp_down
    measurement: trap
    trap: [bgpBackwardTransNotification, "cbgp*"]
    varbinds: {"bgpPeerRemoteAddr.*": 192.0.2.1}
    scope: {roles: [core]}
    severity: critical
"""


def test_a_trap_rule_matches_names_globs_and_varbinds() -> None:
    rule = parse_rules(TRAP_RULE)[0]
    assert (rule.kind, rule.measurement, rule.traps) == (
        "event",
        "trap",
        ("bgpBackwardTransNotification", "cbgp*"),
    )
    peer = {"bgpPeerRemoteAddr.192.0.2.1": "192.0.2.1", "bgpPeerState.192.0.2.1": 1}
    assert rule.matches_trap("bgpBackwardTransNotification", peer)
    assert rule.matches_trap("cbgpBackwardTransition", peer)
    assert not rule.matches_trap("bgpEstablishedNotification", peer)
    assert not rule.matches_trap("cbgpFsmStateChange", {"bgpPeerRemoteAddr.198.51.100.7": "198.51.100.7"})


TRAP_RULE_ERRORS = [
    (TRAP_RULE.replace('    trap: [bgpBackwardTransNotification, "cbgp*"]\n', ""), "'trap' is required"),
    (TRAP_RULE.replace("    severity: critical", "    field: x"), "unknown key 'field'"),
    (TRAP_RULE.replace("    severity: critical", "    kind: threshold"), "a rule on traps is an event rule"),
    (TRAP_RULE.replace("{roles: [core]}", "{roles: [core]}\n    varbind: {}"), "did you mean 'varbinds'?"),
    (TRAP_RULE.replace('trap: [bgpBackwardTransNotification, "cbgp*"]', "trap: 5"), "'trap' must be"),
    (GOOD.replace("breach: 90", "breach: 90\n    trap: linkDown"), "'trap' only applies to a rule on traps"),
]


@pytest.mark.parametrize(("text", "message"), TRAP_RULE_ERRORS)
def test_trap_rule_mistakes_are_one_line_each(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(text, "rules.yaml")
    assert any(message in problem and problem.startswith("rules.yaml:") for problem in info.value.problems), (
        info.value.problems
    )
