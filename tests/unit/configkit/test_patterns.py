"""Patterns from configuration files: compiled, bounded, refused with a fix when hostile or broken."""

from __future__ import annotations

import re
import time

import pytest

from netpoll.configkit.patterns import MAX_PATTERN_CHARS, MAX_SUBJECT_CHARS, compile_pattern, search


@pytest.mark.parametrize(
    "text",
    [
        "^Gi",
        r"^(Te|Gi)\d+/\d+$",
        "uplink|core",
        "(a|aa)*",
        r"(\d++/)+\d+",
        "(?>a+)+",
        "(ab){2,5}",
        "x(a{1,50})+",
    ],
)
def test_accepted(text: str) -> None:
    assert compile_pattern(text).pattern == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[Gi", "bad regular expression '[Gi': unterminated character set"),
        ("(a+)+", "repeats a group that itself repeats without bound"),
        ("(.*)*x", "repeats a group that itself repeats without bound"),
        (r"(\d+/)+$", "make the inner repeat possessive"),
        ("x(?=(a*b*)+)", "repeats a group"),
        ("a" * (MAX_PATTERN_CHARS + 1), f"at most {MAX_PATTERN_CHARS}"),
        ("\x1b[31m(", r"'\x1b[31m('"),  # a control character is shown escaped, never raw
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        compile_pattern(text)


def test_subject_is_bounded() -> None:
    pattern = compile_pattern("x$")
    assert search(pattern, "a" * (MAX_SUBJECT_CHARS - 1) + "x")
    assert not search(pattern, "a" * MAX_SUBJECT_CHARS + "x")  # beyond what IF-MIB allows: not looked at
    # A polynomial pattern on a hostile 22 KB ifAlias stays fast: only 255 characters are looked at.
    slow = compile_pattern("a*a*a*b")
    start = time.process_time()
    assert not search(slow, "a" * 22_000)
    assert time.process_time() - start < 1.0
