"""Nothing in an inventory directory is skipped silently (issue 16); names match in full."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netpoll.errors import ConfigError
from netpoll.inventory.loader import load_inventory

GOOD = "devices:\n  - {name: r1, address: 127.0.0.1, snmp: {enabled: false}}\n"


def test_directory_entries_that_are_not_inventories(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "gone.yaml")
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "sub.yaml").mkdir()
    (tmp_path / ".hidden.yaml").symlink_to(tmp_path / "gone.yaml")  # hidden: kubelet's ..data and editors
    with pytest.raises(ConfigError) as caught:
        load_inventory([tmp_path])
    problems = [problem.replace(str(tmp_path), "D") for problem in caught.value.problems]
    assert problems == [
        "D/dangling.yaml:1: a dangling symlink (its target is missing): fix it, or remove it",
        "D/fifo.yaml:1: is a FIFO (named pipe), not a regular file: inventory directories are not read"
        " recursively; remove it or rename it",
        "D/loop.yaml:1: a symlink loop: point it at an inventory file, or remove it",
        "D/sub.yaml:1: is a directory, not a regular file: inventory directories are not read recursively;"
        " remove it or rename it",
    ]


def test_names_match_in_full(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text('devices:\n  - {name: "r1\\n", address: 127.0.0.1, snmp: {enabled: false}}\n')
    with pytest.raises(ConfigError, match="a device name may only hold"):
        load_inventory([path])
