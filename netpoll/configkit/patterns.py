"""Regular expressions from configuration files, bounded: the file may be hostile, and so is the text matched.

Python's ``re`` backtracks and has no time limit: a pattern such as ``(a+)+$`` takes exponential time on a
string of a few dozen ``a`` followed by a ``b``, and a device chooses its own ifAlias. So a pattern from
a file is refused when it is longer than ``MAX_PATTERN_CHARS`` or repeats without bound a part that itself
repeats without bound (the shape behind catastrophic backtracking), and the text it is matched against is
cut to ``MAX_SUBJECT_CHARS`` (IF-MIB's DisplayStrings hold at most 255 characters; a device that sends 22 KB
gets its first 255 looked at). What is left costs at most polynomial time on a bounded input.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from netpoll.text import for_terminal

MAX_PATTERN_CHARS = 200
MAX_SUBJECT_CHARS = 255

try:  # the parser ``re`` itself uses: private, so its absence only loses the nesting check
    _parser: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - CPython 3.11+ has it
    _parser = None


def compile_pattern(text: str) -> re.Pattern[str]:
    """Compile a regular expression written in a configuration file.

    Raises:
        ValueError: ``what is wrong: how to fix it``, for a ``file:line`` problem line.
    """
    if len(text) > MAX_PATTERN_CHARS:
        raise ValueError(
            f"regular expression of {len(text)} characters: at most {MAX_PATTERN_CHARS}; split it into"
            " several patterns (a list matches when any of them does)"
        )
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise ValueError(f"bad regular expression '{for_terminal(text)}': {exc}") from None
    if _parser is not None and _nested_repeat(_parser.parse(text)):
        raise ValueError(
            f"regular expression '{for_terminal(text)}' repeats a group that itself repeats without bound"
            " (like (a+)+), which can take exponential time on a hostile device string: make the inner"
            " repeat possessive ((\\d++/)+) or repeat only the inner part"
        )
    return pattern


def search(pattern: re.Pattern[str], subject: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``subject``'s first ``MAX_SUBJECT_CHARS`` characters."""
    return pattern.search(subject[:MAX_SUBJECT_CHARS]) is not None


def _unbounded(op: Any, av: Any) -> bool:
    # A possessive repeat (a++) never gives back what it took, so it cannot backtrack into many splits.
    return op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT) and (av[1] == _parser.MAXREPEAT or av[1] > 100)


def _nested_repeat(items: Any, inside: bool = False) -> bool:
    """True when an unbounded repeat holds another unbounded repeat (at any depth)."""
    for op, av in items:
        if _unbounded(op, av):
            if inside or _nested_repeat(av[2], True):
                return True
        elif op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT):
            if _nested_repeat(av[2], inside):
                return True
        elif op is _parser.SUBPATTERN:
            if _nested_repeat(av[3], inside):
                return True
        elif op is _parser.BRANCH:
            if any(_nested_repeat(branch, inside) for branch in av[1]):
                return True
        elif op in (_parser.ASSERT, _parser.ASSERT_NOT) and _nested_repeat(av[1], inside):
            return True
    return False  # an atomic group (?>...) is left alone for the same reason as a possessive repeat
