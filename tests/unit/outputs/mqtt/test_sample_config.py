"""The MQTT output's sample.yaml documents exactly the built-in defaults of the mqtt: section."""

from __future__ import annotations

from pathlib import Path

import yaml

import netpoll.outputs.mqtt
from netpoll.config import MqttConfig
from netpoll.outputs.mqtt.publisher import MqttOptions


def sample() -> dict[str, object]:
    path = Path(netpoll.outputs.mqtt.__file__).with_name("sample.yaml")
    documented: dict[str, object] = yaml.safe_load(path.read_text())["mqtt"]
    return documented


def test_sample_yaml_matches_mqtt_defaults() -> None:
    defaults = MqttConfig(host="127.0.0.1").model_dump()
    defaults.pop("instance")  # the host name: documented as a comment
    assert sample() == defaults


def test_publisher_reads_the_config_model() -> None:
    config = MqttConfig.model_validate(
        {**sample(), "username": "np", "password": "pw", "tls": {"insecure": True}, "instance": "p1"}
    )
    options = MqttOptions.of(config)
    assert options.password == "pw"  # SecretStr unwrapped for the client, nowhere else
    assert options.username == "np"
    assert options.tls is not None
    assert options.tls.insecure is True
    assert options.port == 1883
    assert options.instance == "p1"
    assert options.queue_max == 10000
    assert "pw" not in repr(config)
    assert "pw" not in repr(options)
