from __future__ import annotations

import pytest

from netpoll.numbers import human


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (94.98664567052643, 3, "95"),
        (94.98664567052643, 4, "94.99"),
        (3.14159, 3, "3.14"),
        (0.012345, 3, "0.0123"),
        (1500.0, 3, "1500"),
        (1234.56, 3, "1235"),
        (0.5, 3, "0.5"),
        (-2.5, 3, "-2.5"),
        (7, 3, "7"),
        (1e-7, 3, "1.00e-07"),
        (float("nan"), 3, "nan"),
        (True, 3, "True"),
        ("text", 3, "text"),
    ],
)
def test_human(value: float, digits: int, text: str) -> None:
    assert human(value, digits) == text
