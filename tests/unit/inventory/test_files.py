"""The files inventory paths name; one ``file:1: message`` with the fix for each unusable path."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpoll.configkit.problems import Problems
from netpoll.errors import ConfigError
from netpoll.inventory.loader import inventory_files, load_inventory

DEVICE = "devices:\n  - name: r1\n    address: 127.0.0.1\n"


def test_directory_gives_its_yaml_files_sorted_once(tmp_path: Path) -> None:
    for name in ("b.yml", "a.yaml", ".hidden.yaml", "notes.txt"):
        (tmp_path / name).write_text(DEVICE)
    problems = Problems()
    files = inventory_files([tmp_path, tmp_path / "a.yaml"], problems)
    assert [file.name for file in files] == ["a.yaml", "b.yml"]
    assert not problems


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("absent.yaml", "no such file or directory: fix the inventory path"),
        ("", "no *.yaml or *.yml files in this directory: name the inventory files"),
    ],
)
def test_unusable_path_is_one_problem(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_inventory([tmp_path / name if name else tmp_path])
    (problem,) = info.value.problems
    assert problem.startswith(f"{tmp_path / name if name else tmp_path}:1: {message}"), problem


@pytest.mark.parametrize("method", ["iterdir", "is_dir"])
def test_unreadable_directory_is_a_problem_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """Without read or search permission (tests run as root, so the refusal is simulated)."""
    (tmp_path / "a.yaml").write_text(DEVICE)

    def refuse(self: Path) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, method, refuse)
    problems = Problems()
    assert inventory_files([tmp_path], problems) == []
    (problem,) = problems.items()
    assert str(problem).endswith(":1: cannot read it (Permission denied): fix the path or its permissions")
