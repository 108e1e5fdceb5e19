"""Problems found in configuration files: ``file:line: what is wrong and how to fix it``.

Loaders collect every problem instead of stopping at the first, then raise
:class:`~netpoll.errors.ConfigError` with all of them. A :class:`Problem` is a ``str`` (so
``ConfigError.problems`` stays a list of lines) that also keeps its parts for ``--json`` output.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from netpoll.errors import ConfigError


class Problem(str):
    """One problem, rendered ``file:line: message``; ``file``, ``line`` and ``message`` stay available.

    A line of 0 means the problem has no line (an environment variable, a whole file): ``file: message``.
    """

    file: str
    line: int
    message: str

    def __new__(cls, file: str | Path, line: int, message: str) -> Problem:
        self = super().__new__(cls, f"{file}:{line}: {message}" if line > 0 else f"{file}: {message}")
        self.file = str(file)
        self.line = line
        self.message = message
        return self

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-able data."""
        return {"file": self.file, "line": self.line, "message": self.message}


def problem_dict(problem: str) -> dict[str, Any]:
    """JSON form of any problem string (a :class:`Problem` or a plain message)."""
    if isinstance(problem, Problem):
        return problem.to_dict()
    return {"file": None, "line": None, "message": problem}


class Problems:
    """An ordered, de-duplicated collection of problems; ``raise_if_any`` turns it into a ConfigError."""

    def __init__(self) -> None:
        self._items: dict[str, Problem] = {}

    def add(self, file: str | Path, line: int, message: str) -> None:
        """Record one problem (an identical one recorded earlier is not repeated)."""
        problem = Problem(file, line, message)
        self._items.setdefault(str(problem), problem)

    def extend(self, problems: Iterable[str]) -> None:
        """Record several problems (plain strings, e.g. from another loader's ConfigError, are kept as is)."""
        for problem in problems:
            self._items.setdefault(str(problem), problem if isinstance(problem, Problem) else _plain(problem))

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[Problem]:
        """The problems, sorted by file (in the order files were first named) and line."""
        order: dict[str, int] = {}
        for problem in self._items.values():
            order.setdefault(problem.file, len(order))
        return sorted(self._items.values(), key=lambda problem: (order[problem.file], problem.line))

    def raise_if_any(self) -> None:
        """Raise ConfigError carrying every problem, if there is any."""
        if self._items:
            raise ConfigError(list(self.items()))


def _plain(text: str) -> Problem:
    # "file:line: message" split back into its parts (a file name may itself hold colons); the text is kept.
    head, _, message = text.partition(": ")
    file, _, number = head.rpartition(":")
    problem = str.__new__(Problem, text)
    if file and number.isdigit():
        problem.file, problem.line, problem.message = file, int(number), message
    else:
        problem.file, problem.line, problem.message = head, 0, message or text
    return problem


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice closest to ``word``, if any is close enough (``cutoff``, 0..1, is how close)."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` when a choice is close to ``word``, else ``""``.

    ``cutoff`` (0..1) is how close it must be: raise it where unknown words are legitimate (open sets).
    """
    match = closest(word, choices, cutoff)
    return f"; did you mean '{match}'?" if match is not None else ""


def hint(word: str, choices: Iterable[str], what: str = "allowed") -> str:
    """A did-you-mean when one is close, else the choices listed: ``"; allowed: a, b, c"``."""
    listed = list(choices)
    return did_you_mean(word, listed) or (f"; {what}: {', '.join(listed)}" if listed else "")
