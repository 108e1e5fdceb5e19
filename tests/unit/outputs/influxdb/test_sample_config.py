"""The InfluxDB output's sample.yaml documents exactly the built-in defaults of the influxdb: section."""

from __future__ import annotations

from pathlib import Path

import yaml

import netpoll.outputs.influxdb
from netpoll.config import InfluxConfig


def test_sample_yaml_matches_influxdb_defaults() -> None:
    path = Path(netpoll.outputs.influxdb.__file__).with_name("sample.yaml")
    documented = yaml.safe_load(path.read_text())["influxdb"]
    defaults = InfluxConfig(url=documented["url"]).model_dump()
    assert documented == defaults
