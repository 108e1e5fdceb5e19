"""IANAifType names and numbers (``iana_iftype.yaml``: facts from IANA's registry)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from netpoll.configkit.problems import did_you_mean


def _load() -> dict[int, str]:
    text = resources.files("netpoll.inventory").joinpath("iana_iftype.yaml").read_text(encoding="utf-8")
    data: dict[Any, Any] = yaml.safe_load(text)
    return {int(number): str(name) for number, name in data.items()}


#: ifType number → IANA name (``6`` → ``ethernetCsmacd``).
IF_TYPE_NAMES: dict[int, str] = _load()
#: IANA name → ifType number.
IF_TYPES: dict[str, int] = {name: number for number, name in IF_TYPE_NAMES.items()}
_FOLDED = {name.lower(): number for name, number in IF_TYPES.items()}
MAX_IF_TYPE = 2**31 - 1  # IANAifType is an INTEGER: numbers IANA has not named yet are allowed


def if_type_number(value: object) -> int:
    """An ifType as written in a file (IANA name, any case, or number) as its number.

    Raises:
        ValueError: ``what is wrong: how to fix it``, with a did-you-mean for a misspelt name.
    """
    if isinstance(value, bool):
        raise ValueError(f"ifType {value!r}: give an IANA name (softwareLoopback) or a number (24)")
    if isinstance(value, int):
        if 1 <= value <= MAX_IF_TYPE:
            return value
        raise ValueError(f"ifType {value}: numbers run from 1 to {MAX_IF_TYPE}")
    text = str(value).strip()
    if text.isdigit():
        return if_type_number(int(text))
    number = _FOLDED.get(text.lower())
    if number is not None:
        return number
    hint = did_you_mean(text, IF_TYPES) or "; IANAifType-MIB names: ethernetCsmacd, softwareLoopback, l2vlan"
    raise ValueError(f"unknown ifType '{text}'{hint}")


def if_type_label(number: int) -> str:
    """``softwareLoopback(24)``, or just the number when IANA has no name for it."""
    name = IF_TYPE_NAMES.get(number)
    return f"{name}({number})" if name else str(number)
