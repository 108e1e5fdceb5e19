"""Argument types shared by the verbs: bounded counts and durations, rejected by argparse with one line."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


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
