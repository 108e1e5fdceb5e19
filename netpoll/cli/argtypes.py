"""Arguments shared by the verbs: the sub-command parser, ``--inventory``, bounded counts and durations."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, get_args

from netpoll.configkit.problems import did_you_mean
from netpoll.naming import Naming

if TYPE_CHECKING:
    from netpoll.inventory.models import Device


class Parser(argparse.ArgumentParser):
    """``argparse`` with one-line errors that say what was wrong and suggest the likely meant option.

    ``netpoll poll --comunity x`` prints ``netpoll poll: unknown option --comunity; did you mean
    '--community'? (netpoll poll --help lists them)`` instead of the usage of the whole command.
    """

    def error(self, message: str) -> NoReturn:
        """Print one line on stderr and exit 2 (argparse's status for usage errors)."""
        self.exit(2, f"{self.prog}: {explain(message, self)} (see {self.prog} --help)\n")


def explain(message: str, parser: argparse.ArgumentParser) -> str:
    """Argparse's error ``message`` in plain words, with a did-you-mean for an unknown option or choice."""
    unknown = re.fullmatch(r"unrecognized arguments: (.*)", message, re.DOTALL)
    if unknown:
        words = unknown.group(1).split()
        options = [word.split("=", 1)[0] for word in words if word.startswith("-")]
        if not options:
            return f"unexpected argument {words[0]!r}"
        known = (o for action in parser._actions for o in action.option_strings if o.startswith("--"))
        return f"unknown option {options[0]}{did_you_mean(options[0], known)}"
    choice = re.fullmatch(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        name, value, allowed = choice.groups()
        choices = re.findall(r"'([^']*)'", allowed) or allowed.split(", ")
        return f"{name}: {value!r} is not one of {', '.join(choices)}{did_you_mean(value, choices)}"
    return message


def plain(doc: str | None) -> str:
    """A docstring as help text: reStructuredText's double backquotes and roles removed."""
    text = re.sub(r":\w+:`([^`]*)`", r"\1", doc or "")
    return text.replace("``", "")


def add_verb(
    sub: Any, name: str, summary: str, doc: str | None, examples: Iterable[str] = ()
) -> argparse.ArgumentParser:
    """Sub-command ``name`` (``summary`` in the verb list); its ``--help`` shows ``doc`` as plain text."""
    lines = list(examples)
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else None
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=plain(doc),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def add_inventory_option(parser: argparse.ArgumentParser, description: str) -> None:
    """``--inventory/-i PATH``, repeatable, collected into ``args.inventory`` (a list, empty by default)."""
    parser.add_argument("--inventory", "-i", action="append", default=[], metavar="PATH", help=description)


def add_naming(parser: argparse.ArgumentParser) -> None:
    """``--naming``: json and lp output also carry Telegraf's tags and fields (``netpoll.naming``)."""
    parser.add_argument(
        "--naming",
        choices=get_args(Naming),
        default="netpoll",
        help="json, lp: also write Telegraf's tags and fields, as the daemon's naming: telegraf does",
    )


def inventory_devices(
    paths: Sequence[str | Path], *, snmp: bool = True, profiles_dir: str | None = None
) -> Mapping[str, Device]:
    """The devices of the inventories at ``paths`` by name (raises ConfigError like ``load_inventory``).

    ``snmp=False`` (ping) leaves the SNMP secrets unread, so they need not be exported to ping.
    ``profiles_dir``: the user's profiles, which ``snmp.profile`` may name besides the shipped ones.
    """
    from netpoll.inventory.loader import load_inventory  # only when an inventory is named

    profiles = None
    if profiles_dir is not None:
        from netpoll.inputs.snmp.profiles import load_profiles

        profiles = load_profiles(user_dir=profiles_dir)
    return load_inventory(paths, resolve_secrets=snmp, profiles=profiles).by_name()


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An ``int`` argument in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            # argparse would say "invalid parse value": name what is expected instead.
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    return parse


def seconds_between(low: float, high: float, *, low_inclusive: bool = False) -> Callable[[str], float]:
    """A number of seconds in ``(low, high]`` (``[low, high]`` with ``low_inclusive``); NaN is refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        above_low = value >= low if low_inclusive else value > low
        if math.isnan(value) or not above_low or value > high:
            bracket = "[" if low_inclusive else "("
            raise argparse.ArgumentTypeError(
                f"{text} is not a number of seconds in {bracket}{low:g}, {high:g}]"
            )
        return value

    return parse
