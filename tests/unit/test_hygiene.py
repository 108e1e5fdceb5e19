"""Unit tests never wait on the wall clock (docs/development.md, "Time in unit tests").

``time.sleep`` is refused outright; ``asyncio.sleep`` with anything but 0 only in a module that runs on
``tests.fakeclock.VirtualClock``, where those seconds are virtual.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UNIT = Path(__file__).parent


def sleeps(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, call) of every ``time.sleep(...)`` and ``asyncio.sleep(X)`` with X not the constant 0."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if node.func.attr != "sleep" or not isinstance(owner, ast.Name):
            continue
        zero = bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == 0
        if owner.id == "time" or (owner.id == "asyncio" and not zero):
            found.append((node.lineno, f"{owner.id}.sleep"))
    return found


def on_virtual_time(tree: ast.AST) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.module == "tests.fakeclock" for n in ast.walk(tree))


@pytest.mark.parametrize("path", sorted(UNIT.rglob("test_*.py")), ids=lambda p: str(p.relative_to(UNIT)))
def test_no_wall_clock_sleep(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    virtual = on_virtual_time(tree)
    bad = [
        f"{path.name}:{line}: {call}" for line, call in sleeps(tree) if call == "time.sleep" or not virtual
    ]
    assert not bad, "a unit test waits on the wall clock: use tests.fakeclock or an event\n" + "\n".join(bad)


def test_the_check_finds_sleeps() -> None:
    tree = ast.parse("import asyncio, time\ntime.sleep(0.1)\nasyncio.sleep(0)\nasyncio.sleep(2)\n")
    assert sleeps(tree) == [(2, "time.sleep"), (4, "asyncio.sleep")]
