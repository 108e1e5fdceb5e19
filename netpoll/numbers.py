"""Numbers rounded for people: tables, status pages and alert messages (the data keeps full precision)."""

from __future__ import annotations

import math


def human(value: float | int | bool | str, digits: int = 3) -> str:
    """``value`` with about ``digits`` significant digits and no exponent for everyday magnitudes.

    Whole numbers stay whole (``1500`` → ``1500``), large ones lose their decimals (``1234.56`` → ``1235``),
    others keep ``digits`` significant digits with trailing zeros dropped (``94.98664567`` → ``95``,
    ``0.012345`` → ``0.0123``). Non-numbers (strings, booleans) are returned as text unchanged.

    Examples:
        >>> human(94.98664567052643)
        '95'
        >>> human(3.14159)
        '3.14'
    """
    if isinstance(value, bool | str):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    magnitude = abs(number)
    if magnitude >= 10 ** (digits - 1):
        return f"{number:.0f}"
    if magnitude < 1e-4:
        return f"{number:.2e}"
    decimals = digits - 1 - math.floor(math.log10(magnitude))
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
