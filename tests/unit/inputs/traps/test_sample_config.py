"""The traps input's sample.yaml documents exactly the built-in defaults of the traps: section."""

from __future__ import annotations

from pathlib import Path

import yaml

import netpoll.inputs.traps
from netpoll.config import TrapsConfig


def test_sample_yaml_matches_traps_defaults() -> None:
    path = Path(netpoll.inputs.traps.__file__).with_name("sample.yaml")
    documented = yaml.safe_load(path.read_text())["traps"]
    defaults = TrapsConfig().model_dump()
    defaults["listen"] = list(defaults["listen"])
    assert documented == defaults
