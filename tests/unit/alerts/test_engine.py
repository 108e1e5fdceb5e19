"""The alert engine on the poller's own ``netpoll`` records: keyed on the instance, not a device tag."""

from __future__ import annotations

import math
import random

import pytest

from netpoll.alerts import engine as engine_module
from netpoll.alerts.engine import AlertEngine
from netpoll.alerts.rules import load_rules, parse_rules
from netpoll.daemon.scheduler import CycleStats
from netpoll.daemon.selfmon import SelfMonitor, SinkFigures
from netpoll.errors import ConfigError
from netpoll.measurements import MODEL, Field, Measurement, Tag
from netpoll.outputs.mqtt.topics import alert_topic
from netpoll.sample import FieldValue, Sample

RULES = """\
rules:
  - {name: queue_high, measurement: netpoll, field: queue_size, comparison: ">", breach: 100, for: 2,
     scope: {devices: ["poller*"]}}
  - {name: broker_lost, measurement: netpoll, field: mqtt_connected, comparison: "==", breach: 0,
     kind: event, trigger: change}
"""
MQTT = {"queued": 0, "published": 0, "dropped": 0, "connected": 1}


def test_netpoll_rules_fire_on_the_instance() -> None:
    engine = AlertEngine(parse_rules(RULES))
    monitor = SelfMonitor("poller1", "0/1")
    alerts = []
    for queue, connected in ((5, 1), (500, 1), (900, 0), (0, 0), (0, 0)):
        record = monitor.cycle_sample(
            CycleStats(), SinkFigures(queue, 0, 1.0, 0), 3, {**MQTT, "connected": connected}
        )
        alerts += engine.evaluate([record])
    assert [(a.rule, a.state, a.device, a.entity) for a in alerts] == [
        ("queue_high", "breach", "poller1", ""),
        ("broker_lost", "event", "poller1", ""),
        ("queue_high", "clear", "poller1", ""),
    ]
    assert alert_topic("netpoll", alerts[0].device, alerts[0].rule) == "netpoll/alerts/poller1/queue_high"
    assert alerts[0].tags == {"instance": "poller1", "shard": "0/1"}
    assert all(MODEL.problems(alert.to_sample()) == [] for alert in alerts)


def test_scope_devices_matches_the_instance() -> None:
    engine = AlertEngine(parse_rules(RULES.replace("poller*", "other*")))
    monitor = SelfMonitor("poller1", "0/1")
    records = [monitor.cycle_sample(CycleStats(), SinkFigures(500, 0, 1.0, 0), 3) for _ in range(3)]
    assert engine.evaluate(records) == []


def test_a_measurement_added_to_the_model_is_keyed_on_its_subject_tag() -> None:
    table = Measurement(
        "ups",
        "netpoll.inputs.snmp.poller",
        "one point per UPS",
        (Tag("ups", "UPS name"),),
        (),
        subject_tag="ups",
    )
    model = MODEL.with_measurements([table]).with_fields({"ups": [Field("load_pct", "float", "%", "load")]})
    rules = parse_rules(
        "rules:\n  - {name: ups_load, measurement: ups, field: load_pct, comparison: '>', breach: 80}\n",
        model=model,
    )
    engine = AlertEngine(rules, model=model)
    (alert,) = engine.evaluate([Sample("ups", {"ups": "ups-1"}, {"load_pct": 95.0}, 1)])
    assert (alert.device, alert.state) == ("ups-1", "breach")


def _overloaded_cycle(count: int) -> CycleStats:
    cycle = CycleStats(polls_ok=100, polls_overloaded=count)
    cycle.overloaded["slot_wait"] = count
    cycle.start_lags_ms.extend([100.0] * 98 + [57_000.0] * 2)
    return cycle


def test_the_shipped_poller_overloaded_rule_says_how_far_behind_and_what_to_do() -> None:
    engine = AlertEngine(load_rules(None))
    monitor = SelfMonitor("poller1", "0/1")
    alerts = []
    for count in (0, 40, 40, 40, 0, 0):
        record = monitor.cycle_sample(_overloaded_cycle(count), SinkFigures(0, 0, 1.0, 0), 3)
        alerts += engine.evaluate([record])
    assert [(a.rule, a.state, a.device) for a in alerts] == [
        ("poller_overloaded", "breach", "poller1"),
        ("poller_overloaded", "clear", "poller1"),
    ]
    message = alerts[0].message
    assert message.startswith("poller1: poller_overloaded breached: polls_overloaded=40 > 0 for 2 samples: ")
    counts = "slot wait 40, skipped 0, loop lag 0, queue 0, shed 0"
    assert f"40 polls overloaded in the cycle ({counts})" in message
    assert "poll start lag p99 57000 ms" in message
    for advice in ("shard the inventory", "interval_s", "max_concurrent_snmp"):
        assert advice in message


def test_advice_names_only_fields_of_its_measurement() -> None:
    text = RULES.replace(
        "kind: event, trigger: change}", "kind: event, trigger: change, advice: 'see {nope}'}"
    )
    with pytest.raises(ConfigError, match="advice: measurement 'netpoll' has no field 'nope'"):
        parse_rules(text)


def test_trap_rules_publish_an_event_per_matching_trap_and_nothing_else() -> None:
    rules = parse_rules(
        "rules:\n"
        "  - {name: cfg_by_alice, measurement: trap, trap: jnxCmCfgChange,"
        " varbinds: {'jnxCmCfgChgEventUser.*': alice}, severity: info}\n"
        "  - {name: link, measurement: trap, trap: 'link*', scope: {interfaces: ['ge-*']}}\n"
    )
    engine = AlertEngine(rules)

    def trap(name: str, varbinds: str, **tags: str) -> Sample:
        return Sample(
            "trap", {"device": "r1", "trap": name, **tags}, {"varbinds": varbinds, "kind": "trap"}, 5
        )

    alerts = engine.evaluate(
        [
            trap("jnxCmCfgChange", '{"jnxCmCfgChgEventUser.3":"alice"}'),
            trap("jnxCmCfgChange", '{"jnxCmCfgChgEventUser.4":"bob"}'),
            trap("linkDown", '{"ifIndex.3":3}', ifName="ge-0/0/3"),
            trap("linkDown", '{"ifIndex.9":9}', ifName="lo0"),
            trap("jnxCmCfgChange", "not json"),
        ]
    )
    assert [(a.rule, a.state, a.entity, a.value) for a in alerts] == [
        ("cfg_by_alice", "event", "", "jnxCmCfgChange"),
        ("link", "event", "ge-0/0/3", "linkDown"),
    ]
    assert alerts[0].message == "r1: cfg_by_alice: jnxCmCfgChange (jnxCmCfgChgEventUser.3=alice)"
    # Again: no state, every matching notification is an event.
    assert len(engine.evaluate([trap("linkUp", "{}", ifName="ge-0/0/1")])) == 1


def _interface_run(engine: AlertEngine, seed: int) -> list[tuple[str, str, str, str, int]]:
    """Alerts of the shipped rules over a random run of interface and snmp records (flaps, NaN, admin)."""
    rng = random.Random(seed)
    alerts = []
    for poll in range(60):
        time_ns = (poll + 1) * 60 * 10**9
        records = []
        for device in ("r1", "r2"):
            for index in range(4):
                fields: dict[str, FieldValue] = {
                    "oper_status": rng.choice((1, 1, 1, 2, 1.0, 7)),
                    "admin_status": rng.choice((1, 1, 1, 2)),
                    "in_util_pct": rng.choice((10.0, 95.0, 85.0, math.nan)),
                    "out_error_pct": rng.choice((0.0, 0.0, 2.0)),
                }
                if rng.random() < 0.1:
                    del fields["oper_status"]
                tags = {"device": device, "ifName": f"ge-{index}", "ifIndex": str(index)}
                records.append(Sample("interface", tags, fields, time_ns))
            snmp = {
                "poll_ok": rng.choice((1, 1, 0)),
                "rebooted": rng.choice((0, 0, 0, 1)),
                "unexpected_reboot": 0,
            }
            records.append(Sample("snmp", {"device": device}, snmp, time_ns))
        alerts += [(a.rule, a.state, a.device, a.entity, a.time_ns) for a in engine.evaluate(records)]
    return alerts


@pytest.mark.parametrize("seed", range(6))
def test_steps_skipped_at_rest_change_no_alert(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine skips the step of an event or flapping rule whose state it would not change (at_rest): the
    # alerts are exactly those of stepping every record.
    fast = _interface_run(AlertEngine(load_rules()), seed)
    monkeypatch.setattr(engine_module, "at_rest", lambda *_: False)
    assert fast == _interface_run(AlertEngine(load_rules()), seed)
    assert any(alert[1] == "event" for alert in fast)
