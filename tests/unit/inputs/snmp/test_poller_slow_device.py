"""A slow agent on virtual time: every request costs 0.3 s, the budget is 9.5 s (a 10 s interval).

The fake serves the demo lab's 26-interface access switch; a walk costs one request per ``max_repetitions``
rows (plus the one that passes the end), as GETBULK does. The poller reads the interfaces first and the
profile tables last, and, the agent being slow (0.3 s for the first GET), walks the interface columns with
max-repetitions sized to ifNumber (one request per column): the first poll already delivers every interface
(``partial=1``) and the second has rates, as with an inventory ``max_repetitions`` above the interface count.
An inventory that sets a smaller one is obeyed: at 25 the labels that find the rows (ifDescr, ifName) take 4
requests, and the counters, read by GET once the labels found the rows (the other labels with them), 8; at 2
the first poll is cut in its counters but keeps the labels it walked, the second delivers every interface and
the third has rates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

import netpoll.inputs.snmp.poller
from netpoll.demo.lab import write_lab
from netpoll.inputs.snmp.backend_common import requested_repetitions
from netpoll.inputs.snmp.fake import FakeSnmpClient
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inputs.snmp.types import Oid, SnmpValue
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings
from netpoll.probe import Budget
from tests.fakeclock import VirtualClock

REQUEST_S = 0.3
BUDGET_S = 9.5


class SlowAgent(FakeSnmpClient):
    """A recording served at 0.3 s a request; counts the requests."""

    repetitions = 25
    requests = 0

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        self.requests += 1
        await _sleep(REQUEST_S)
        return await super().get(oids)

    async def walk(self, root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        rows = await super().walk(root, max_rows)
        pages = len(rows) // requested_repetitions(self.repetitions) + 1
        self.requests += pages
        await _sleep(REQUEST_S * pages)
        return rows


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)  # virtual time: costs nothing


class Pool:
    def __init__(self, client: SlowAgent) -> None:
        self.agent = client

    def client(self, device: Device) -> SlowAgent:
        return self.agent


def _device(repetitions: int | None) -> Device:
    creds = CommunityCredentials(profile="lab", version="2c", community="c")  # type: ignore[arg-type]
    given = {} if repetitions is None else {"max_repetitions": repetitions}
    return Device(
        name="slow",
        address="127.0.0.1",
        snmp=SnmpSettings(credentials=creds, interval_s=10.0, **given),
    )


@pytest.mark.parametrize(
    ("repetitions", "interfaces", "rated"),
    [
        (None, [26, 26, 26], [False, True, True]),
        (50, [26, 26, 26], [False, True, True]),
        # The counters by GET (8 requests, not 14 columns x 2 pages): the first poll still delivers them.
        (25, [26, 26, 26], [False, True, True]),
        (2, [0, 26, 26], [False, False, True]),
    ],
    ids=[
        "default-sized-to-ifNumber",
        "max_repetitions-50",
        "max_repetitions-25-set",
        "max_repetitions-2-set",
    ],
)
def test_slow_agent_gets_data(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    repetitions: int | None,
    interfaces: list[int],
    rated: list[bool],
) -> None:
    recordings, _ = write_lab(tmp_path / "lab", 161, 10.0)
    agent = SlowAgent.from_snmprec(recordings / "demo-sw-access-1.snmprec")
    device = _device(repetitions)
    assert device.snmp is not None
    agent.repetitions = device.snmp.max_repetitions
    clock = VirtualClock()
    clock.patch(monkeypatch, netpoll.inputs.snmp.poller)
    poller = SnmpPoller(Pool(agent), load_profiles())

    async def three_polls() -> list[tuple[int, bool, int]]:
        seen = []
        for _ in range(3):
            result = await poller.run(device, Budget.start(BUDGET_S))
            ifs = [s for s in result.samples if s.measurement == "interface"]
            # (The fake serves the recording's static counters: the interfaces that have octet counters.)
            counted = [s for s in ifs if "ifHCInOctets" in s.fields]
            all_rated = bool(counted) and all("in_bps" in s.fields for s in counted)
            seen.append((len(ifs), all_rated, agent.requests))
            clock.advance(10.0 - result.duration_s)
        return seen

    seen = clock.run(three_polls())
    assert [n for n, _, _ in seen] == interfaces, seen
    assert [r for _, r, _ in seen] == rated, seen


async def test_a_quick_agent_keeps_the_configured_repetitions(tmp_path: Path) -> None:
    # Larger GETBULKs cost a quick agent more work per varbind (snmpsim: twice as slow), for no round trip
    # worth saving: only a slow agent gets them.
    recordings, _ = write_lab(tmp_path / "lab", 161, 10.0)
    asked: list[int] = []

    class QuickAgent(FakeSnmpClient):
        async def walk(self, root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
            asked.append(requested_repetitions(25))
            return await super().walk(root, max_rows)

    agent = QuickAgent.from_snmprec(recordings / "demo-sw-access-1.snmprec")
    poller = SnmpPoller(Pool(agent), load_profiles())  # type: ignore[arg-type]
    result = await poller.run(_device(None), Budget.start(BUDGET_S))
    assert result.ok
    assert asked
    assert set(asked) == {25}
