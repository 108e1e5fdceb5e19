"""IcmpProber.run as a probe: a poll cut at its budget is a result carrying the unreachable ping record."""

from __future__ import annotations

import asyncio

from netpoll.inputs.icmp import IcmpProber
from netpoll.inventory.models import Device, PingSettings
from netpoll.probe import Budget


async def test_a_spent_budget_is_a_cut_poll_with_an_unreachable_ping_record() -> None:
    dev = Device(name="r1", address="127.0.0.9", site="lab", ping=PingSettings(interval_s=10.0))
    spent = Budget(seconds=9.5, deadline=asyncio.get_running_loop().time() - 1.0)
    # Not opened: a spent budget sends nothing, so no socket is needed.
    result = await IcmpProber().run(dev, spent)
    assert (result.ok, result.cut, result.error) == (False, True, "poll deadline of 9.5s exceeded")
    (sample,) = result.samples
    assert sample.measurement == "ping"
    assert dict(sample.tags) == {"device": "r1", "url": "127.0.0.9", "site": "lab"}
    # Like any probe that could not run: the device_unreachable rule (field reachable) sees it.
    assert sample.fields == {
        "packets_transmitted": 0,
        "packets_received": 0,
        "percent_packet_loss": 100.0,
        "result_code": 2,
        "reachable": 0,
        "error": "poll deadline of 9.5s exceeded",
    }
