"""An in-memory ``SnmpClient`` serving a dict or an snmpsim ``.snmprec`` recording (tests, development)."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from pathlib import Path

from netpoll.errors import SnmpError
from netpoll.inputs.snmp.backend_common import WalkTooLong
from netpoll.inputs.snmp.types import Oid, SnmpValue, parse_oid

# snmprec type tags (BER tag numbers) whose values are integers.
_INT_TAGS = frozenset({"2", "65", "66", "67", "70"})


def parse_snmprec(text: str) -> dict[Oid, SnmpValue]:
    """Decode snmpsim's ``oid|tag|value`` lines (static values only; variation modules are not supported)."""
    data: dict[Oid, SnmpValue] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            oid_text, tag, value = line.split("|", 2)
            oid = parse_oid(oid_text)
            if tag in _INT_TAGS:
                data[oid] = int(value)
            elif tag == "4x":
                data[oid] = bytes.fromhex(value)
            elif tag == "6":
                data[oid] = parse_oid(value)
            elif tag == "64":
                data[oid] = value
            else:  # 4 (OCTET STRING), 68 (Opaque) and anything else: the text as bytes
                data[oid] = value.encode()
        except ValueError as exc:
            raise ValueError(f"line {line_no}: cannot parse {line[:80]!r}") from exc
    return data


class FakeSnmpClient:
    """Answers ``get``/``walk`` from a dict; mutate ``data`` between polls to move counters.

    Set ``error`` to make every call raise it (e.g. ``SnmpTimeout``). ``calls`` counts requests by kind.
    """

    def __init__(self, data: Mapping[Oid, SnmpValue] | None = None, *, agent: str = "fake") -> None:
        self.agent = agent
        self.data: dict[Oid, SnmpValue] = dict(data or {})
        self.error: Exception | None = None
        self.calls: dict[str, int] = {"get": 0, "walk": 0}
        self.closed = False
        self._keys: list[Oid] = []
        self._keys_for: int = -1

    @classmethod
    def from_snmprec(cls, path: str | Path) -> FakeSnmpClient:
        """Serve a recording; the agent name is the file stem (the community snmpsim would use)."""
        path = Path(path)
        return cls(parse_snmprec(path.read_text(encoding="utf-8")), agent=path.stem)

    def set(self, oid: str | Oid, value: SnmpValue) -> None:
        """Set (or add) one value."""
        self.data[parse_oid(oid) if isinstance(oid, str) else oid] = value
        self._keys_for = -1

    def remove(self, oid: str | Oid) -> None:
        """Remove one value (an interface that disappeared, say)."""
        self.data.pop(parse_oid(oid) if isinstance(oid, str) else oid, None)
        self._keys_for = -1

    def _check(self, kind: str) -> None:
        if self.closed:
            raise SnmpError(self.agent, "client is closed")
        self.calls[kind] += 1
        if self.error is not None:
            raise self.error

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        """GET: present OIDs only."""
        self._check("get")
        return {oid: self.data[oid] for oid in oids if oid in self.data}

    async def walk(self, root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        """Everything under ``root`` in OID order; ``WalkTooLong`` past ``max_rows``."""
        self._check("walk")
        if self._keys_for != len(self.data):  # set()/remove() reset it; direct dict edits change the size
            self._keys = sorted(self.data)
            self._keys_for = len(self.data)
        out: list[tuple[Oid, SnmpValue]] = []
        n = len(root)
        for i in range(bisect.bisect_right(self._keys, root), len(self._keys)):
            oid = self._keys[i]
            if oid[:n] != root:
                break
            out.append((oid, self.data[oid]))
            if max_rows is not None and len(out) > max_rows:
                raise WalkTooLong(root, max_rows)
        return out

    async def aclose(self) -> None:
        """Mark closed."""
        self.closed = True
