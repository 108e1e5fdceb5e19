"""Durations and byte sizes as configuration files write them."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from netpoll.configkit.units import ByteSize, has_unit, parse_bytes, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5", -1, True, None, "5 minutes", "1w"])
def test_not_durations(text: object) -> None:
    with pytest.raises(ValueError, match=r"is not a duration: write seconds or e\.g\. 90s, 5m, 1h"):
        parse_duration(text)


def test_has_unit() -> None:
    assert has_unit("90s")
    assert not has_unit("90")
    assert not has_unit(90)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (1024, 1024),
        ("1024", 1024),
        ("256MiB", 256 * 1024**2),
        ("1GB", 1000**3),
        ("64 kB", 64_000),
        ("2k", 2000),
    ],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize("text", ["lots", "12 parsecs", -1, True, None])
def test_not_sizes(text: object) -> None:
    with pytest.raises(ValueError, match=r"is not a size: write bytes or e\.g\. 256MiB, 1GB"):
        parse_bytes(text)


class _Spool(BaseModel):
    max_bytes: ByteSize = 0


def test_byte_size_field() -> None:
    assert _Spool(max_bytes="1MiB").max_bytes == 1024**2  # type: ignore[arg-type]
    assert _Spool(max_bytes=5).max_bytes == 5
    with pytest.raises(ValidationError, match="'huge' is not a size"):
        _Spool(max_bytes="huge")  # type: ignore[arg-type]
