"""docs/cli.md against the parsers: every option of every verb is in its table, nothing else is, and a default
the table states in code is the parser's; every example command in the docs parses."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest
import yaml

from netpoll.cli import poll
from netpoll.cli.main import build_parser
from netpoll.inventory.models import PingSettings, SnmpSettings
from tests.doctext import ROOT, code_spans, marked_table, read

VERBS = ("check", "poll", "ping", "run", "traps")
# Options whose parser default is None because the inventory's value applies when there is one: the default
# the table states is the model's.
MODEL_DEFAULTS: dict[tuple[str, str], object] = {
    ("poll", "--timeout"): SnmpSettings.model_fields["timeout_s"].default,
    ("poll", "--retries"): SnmpSettings.model_fields["retries"].default,
    ("poll", "--max-repetitions"): SnmpSettings.model_fields["max_repetitions"].default,
    ("poll", "--backend"): SnmpSettings.model_fields["backend"].default,
    ("poll", "--inventory"): f"{poll.DEFAULT_INVENTORY}/",
    ("ping", "--count"): PingSettings().count,
    ("ping", "--interval"): PingSettings().packet_interval_s,
    ("ping", "--timeout"): PingSettings().timeout_s,
    ("ping", "--size"): PingSettings().payload_size,
}


def subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """First option string (or the positional's metavar) → action, without --help and hidden options."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        name = action.option_strings[0] if action.option_strings else str(action.metavar or action.dest)
        found[name] = action
    return found


def test_every_verb_has_a_table() -> None:
    assert set(subparsers()) == set(VERBS)


@pytest.mark.parametrize("verb", VERBS)
def test_options_table_matches_parser(verb: str) -> None:
    rows = marked_table(read("docs/cli.md"), "options", verb)
    actions = options(subparsers()[verb])
    documented = {}
    for row in rows:
        spans = code_spans(row["option"])
        documented[spans[0].split()[0]] = (row, {s.split()[0] for s in spans})
    assert set(documented) == set(actions), f"netpoll {verb}: docs/cli.md and the parser list other options"
    for name, (row, spellings) in documented.items():
        action = actions[name]
        assert spellings == set(action.option_strings or [name]), f"{verb} {name}: short and long forms"
        stated = code_spans(row["default"])
        default = action.default
        if (verb, name) in MODEL_DEFAULTS:
            assert stated, f"{verb} {name}: the table states no default"
            assert yaml.safe_load(stated[0]) == MODEL_DEFAULTS[verb, name], (
                f"{verb} {name}: documented default"
            )
        elif stated and default not in (None, [], False):
            assert yaml.safe_load(stated[0]) == default, f"{verb} {name}: documented default"


def example_commands() -> list[tuple[str, str]]:
    """(file, command) of every ``netpoll VERB ...`` line of the docs' shell blocks (continuations joined,
    comments and what comes before ``netpoll`` dropped)."""
    files = [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted(ROOT.glob("netpoll/*/*/README.md")),
    ]
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = []
        for block in re.findall(r"^```(?:sh|bash|console)\n(.*?)^```", text, re.S | re.M):
            lines += block.replace("\\\n", " ").splitlines()
        for line in lines:
            match = re.search(r"(?:^|[\s/'&;])netpoll ((?:check|poll|ping|run)\b[^#'&;|]*)", line)
            if match:
                found.append((str(path.relative_to(ROOT)), match.group(1).strip()))
    return found


EXAMPLES = example_commands()


def test_docs_give_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize(("where", "command"), EXAMPLES, ids=[f"{w}: {c}" for w, c in EXAMPLES])
def test_example_command_parses(where: str, command: str) -> None:
    """Every example is valid for the parser: verb, options, option values and their choices."""
    try:
        build_parser().parse_args(shlex.split(command))
    except SystemExit as exc:
        pytest.fail(f"{where}: `netpoll {command}` is refused by the parser (exit {exc.code})")
