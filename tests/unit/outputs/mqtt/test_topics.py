"""MQTT topic names: every name level escaped, the alert topic built from an Alert by the MQTT output."""

from __future__ import annotations

import pytest

from netpoll.alerts.alert import Alert
from netpoll.outputs.mqtt.publisher import encode
from netpoll.outputs.mqtt.topics import LEVEL_MAX, alert_topic, escape_level, event_topic, unescape_level

TOPIC_CASES = [
    ("r1", "r1"),
    ("Gi0/1", "Gi0%2F1"),
    ("a+b#c", "a%2Bb%23c"),
    ("$SYS", "%24SYS"),
    ("x$y", "x$y"),
    ("100%", "100%25"),
    ("nul\x00", "nul%00"),
    ("", "%"),
    ("é/ü", "é%2Fü"),
    ("eth\x010", "eth%010"),  # a C0 control: Mosquitto refuses the packet as malformed
    ("eth\x9b0", "eth%C2%9B0"),  # C1 control (CSI)
    ("eth\ufffe0", "eth%EF%BF%BE0"),  # non-character
    ("a\u202eb", "a%E2%80%AEb"),  # bidi override
    ("dev\n", "dev%0A"),
    (b"eth\xff0".decode("utf-8", "surrogateescape"), "eth%FF0"),  # undecodable byte, exactly back
]


@pytest.mark.parametrize(("name", "level"), TOPIC_CASES)
def test_topic_level_escaping(name: str, level: str) -> None:
    assert escape_level(name) == level
    assert unescape_level(level) == name
    assert not set(level) & {"/", "+", "#", "\x00"}


def test_topic_shape() -> None:
    assert alert_topic("netpoll", "r1", "cpu") == "netpoll/alerts/r1/cpu"
    assert alert_topic("site1/np/", "r/1", "util", "xe-0/0/1") == "site1/np/alerts/r%2F1/util/xe-0%2F0%2F1"


def test_alert_topic_is_built_by_the_mqtt_output() -> None:
    alert = Alert(
        id="01",
        state="breach",
        rule="cpu",
        severity="warning",
        device="sw1",
        entity="Gi0/1",
        measurement="interface",
        field="in_util_pct",
        value=95.0,
        threshold=90,
        clear_threshold=80,
        since_ns=0,
        time_ns=0,
    )
    ((topic, _payload, retained),) = encode(alert, "netpoll")
    assert topic == "netpoll/alerts/sw1/cpu/Gi0%2F1"
    assert retained


@pytest.mark.parametrize("name", ["/" * 22000, "a" * 300, "é" * 200, "%" * 100])
def test_long_levels_are_capped_and_stay_distinct(name: str) -> None:
    level = escape_level(name)
    assert len(level.encode()) <= LEVEL_MAX
    assert level != escape_level(name + "x")
    decoded = unescape_level(level)
    assert decoded.startswith(name[:40])
    assert decoded[-17] == "~"


def test_event_topic_shape() -> None:
    assert event_topic("netpoll", "r1", "linkDown") == "netpoll/events/r1/linkDown"
    assert event_topic("np/", "r/1", "1.3.6.1.4.1.9") == "np/events/r%2F1/1.3.6.1.4.1.9"
