"""configkit.limits on YAML files (issue 16): each hostile file is one problem, and nothing is built."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netpoll.configkit.limits import MAX_FILE_BYTES, MAX_YAML_DEPTH
from netpoll.configkit.problems import Problems
from netpoll.configkit.yamlsource import load_yaml, parse_yaml


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level lists the one before nine times (9**9 values from ~300 bytes)."""
    lines = ["a0: &a0 [lol]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def merge_bomb(levels: int = 40) -> str:
    """Merge keys doubling at every level: PyYAML's flatten_mapping alone would build 2**40 entries."""
    lines = ["m0: &m0 {k: v}"]
    for level in range(1, levels + 1):
        lines.append(f"m{level}: &m{level} {{<<: [*m{level - 1}, *m{level - 1}]}}")
    return "\n".join(lines) + "\n"


HOSTILE = [
    ("alias bomb", alias_bomb(), "once its aliases (*name) are expanded"),
    ("merge bomb", merge_bomb(), "once its aliases (*name) are expanded"),
    ("recursive alias", "a: &a [1, *a]\n", "recursive alias"),
    ("deep flow nesting", "[" * 10_000 + "]" * 10_000, f"nested deeper than {MAX_YAML_DEPTH} levels"),
    (
        "deep block nesting",
        "".join(f"{' ' * i}k{i}:\n" for i in range(200)) + " " * 200 + "x\n",
        "nested deeper",
    ),
    ("too long", "x" * (MAX_FILE_BYTES + 1), "longer than"),
]


@pytest.mark.parametrize(
    ("text", "message"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_hostile_yaml_is_one_problem(text: str, message: str) -> None:
    problems = Problems()
    assert parse_yaml(text, "f.yaml", problems) is None
    assert len(problems) == 1, problems.items()
    assert message in problems.items()[0]


def test_aliases_within_bounds_still_work() -> None:
    problems = Problems()
    source = parse_yaml("base: &b {x: 1, y: [1, 2]}\nuse: {<<: *b, y: [3]}\nagain: *b\n", "f.yaml", problems)
    assert not problems
    assert source is not None
    assert source.data["use"] == {"x": 1, "y": [3]}
    assert source.data["again"] == {"x": 1, "y": [1, 2]}


def test_non_regular_and_large_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024**2)  # sparse: 50 MB without writing them
    cases = {
        tmp_path / "fifo.yaml": "is a FIFO (named pipe), not a regular file",
        Path("/dev/zero"): "is a device, not a regular file",
        big: f"larger than the {MAX_FILE_BYTES} bytes",
    }
    for path, message in cases.items():
        problems = Problems()
        assert load_yaml(path, problems) is None
        assert len(problems) == 1
        assert message in problems.items()[0]
