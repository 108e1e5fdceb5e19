"""The MQTT output's sample.yaml documents exactly the built-in defaults of the mqtt: section."""

from __future__ import annotations

from pathlib import Path

import yaml

import netpoll.outputs.mqtt
from netpoll.config import MqttConfig
from netpoll.outputs.mqtt.publisher import MqttPublisher


def sample() -> dict[str, object]:
    path = Path(netpoll.outputs.mqtt.__file__).with_name("sample.yaml")
    documented: dict[str, object] = yaml.safe_load(path.read_text())["mqtt"]
    return documented


def test_sample_yaml_matches_mqtt_defaults() -> None:
    defaults = MqttConfig(host="127.0.0.1").model_dump()
    defaults.pop("instance")  # the host name: documented as a comment
    assert sample() == defaults


async def test_publisher_takes_the_config_model_as_is() -> None:
    config = MqttConfig.model_validate(
        {**sample(), "username": "np", "password": "pw", "tls": {"insecure": True}, "instance": "p1"}
    )
    publisher = MqttPublisher(config)
    assert publisher.config is config
    assert publisher.status_topic == "netpoll/status/p1"
    client = publisher._client()
    assert client._client._password == b"pw"  # SecretStr unwrapped for the client, nowhere else
    assert "pw" not in repr(config)
