"""Arguments shared by the verbs: the sub-command parser, ``--inventory``, bounded counts and durations."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netpoll.inventory.models import Device


def add_verb(sub: Any, name: str, summary: str, doc: str | None) -> argparse.ArgumentParser:
    """Sub-command ``name``, ``summary`` in the verb list; ``--help`` shows the module docstring ``doc``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    return parser


def add_inventory_option(parser: argparse.ArgumentParser, description: str) -> None:
    """``--inventory/-i PATH``, repeatable, collected into ``args.inventory`` (a list, empty by default)."""
    parser.add_argument("--inventory", "-i", action="append", default=[], metavar="PATH", help=description)


def inventory_devices(
    paths: Sequence[str | Path], *, snmp: bool = True, profiles_dir: str | None = None
) -> Mapping[str, Device]:
    """The devices of the inventories at ``paths`` by name (raises ConfigError like ``load_inventory``).

    ``snmp=False`` (ping) leaves the SNMP secrets unread, so they need not be exported to ping.
    ``profiles_dir``: the profiles ``snmp.profile`` may name (default: the shipped ones).
    """
    from netpoll.inventory.loader import load_inventory  # only when an inventory is named

    profiles = None
    if profiles_dir is not None:
        from netpoll.inputs.snmp.profiles import load_profiles

        profiles = load_profiles(profiles_dir)
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
