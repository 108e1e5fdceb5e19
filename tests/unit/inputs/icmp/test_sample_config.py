"""The ICMP input's sample.yaml documents exactly the built-in ping defaults."""

from __future__ import annotations

from pathlib import Path

import yaml

import netpoll.inputs.icmp
from netpoll.inventory.models import PingSettings


def test_sample_yaml_matches_ping_defaults() -> None:
    path = Path(netpoll.inputs.icmp.__file__).with_name("sample.yaml")
    documented = yaml.safe_load(path.read_text())["ping"]
    assert documented == PingSettings().model_dump()
