"""The files output's sample.yaml states the built-in data_dir and loads as a configuration."""

from __future__ import annotations

from pathlib import Path

import yaml

import netpoll.outputs.files
from netpoll.config import DaemonConfig, load_config

FOLDER = Path(netpoll.outputs.files.__file__).parent


def test_sample_matches_the_default() -> None:
    default = str(DaemonConfig().data_dir)
    assert yaml.safe_load((FOLDER / "sample.yaml").read_text()) == {"data_dir": default}


def test_sample_loads_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "netpoll.yaml"
    path.write_text((FOLDER / "sample.yaml").read_text())
    assert load_config(path, environ={}).data_dir == tmp_path / DaemonConfig().data_dir
