"""The problem collector, did-you-mean and the helpers every loader reports through."""

from __future__ import annotations

import pytest

from netpoll.configkit.problems import Problems, did_you_mean, problem_dict
from netpoll.configkit.validation import check_keys, expect
from netpoll.configkit.yamlsource import parse_yaml
from netpoll.errors import ConfigError


def test_problems_sorted_by_file_then_line_and_deduplicated() -> None:
    problems = Problems()
    problems.add("b.yaml", 3, "three")
    problems.add("a.yaml", 9, "nine")
    problems.add("b.yaml", 1, "one")
    problems.add("b.yaml", 1, "one")
    problems.add("environment", 0, "NETPOLL_X: no line")
    assert [str(p) for p in problems.items()] == [
        "b.yaml:1: one",
        "b.yaml:3: three",
        "a.yaml:9: nine",
        "environment: NETPOLL_X: no line",
    ]
    with pytest.raises(ConfigError) as info:
        problems.raise_if_any()
    assert len(info.value.problems) == 4


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("rules.yaml:7: bad", {"file": "rules.yaml", "line": 7, "message": "bad"}),
        ("C:/x.yaml:2: bad", {"file": "C:/x.yaml", "line": 2, "message": "bad"}),
        ("environment: NETPOLL_X: bad", {"file": "environment", "line": 0, "message": "NETPOLL_X: bad"}),
    ],
)
def test_plain_strings_from_other_loaders_keep_their_text(text: str, parts: dict[str, object]) -> None:
    problems = Problems()
    problems.extend([text])
    (problem,) = problems.items()
    assert str(problem) == text
    assert problem_dict(problem) == parts


def test_did_you_mean() -> None:
    assert did_you_mean("adress", ["address", "name"]) == "; did you mean 'address'?"
    assert did_you_mean("zzz", ["address", "name"]) == ""
    assert did_you_mean("cpu_pc", ["cpu_pct"], cutoff=0.95) == ""


def test_check_keys_and_expect_report_at_the_key() -> None:
    problems = Problems()
    source = parse_yaml("top:\n  nmae: x\n  other: 1\nlist: 3\n", "f.yaml", problems)
    assert source is not None
    assert not check_keys(source, ("top",), source.data["top"], ("name", "other"), "thing: ")
    assert not expect(source, ("list",), source.data["list"], list, "a list of names")
    assert expect(source, ("top",), source.data["top"], dict, "a mapping")
    assert [str(p) for p in problems.items()] == [
        "f.yaml:2: thing: unknown key 'nmae'; did you mean 'name'?",
        "f.yaml:4: list must be a list of names",
    ]
