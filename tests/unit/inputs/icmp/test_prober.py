"""IcmpProber: a poll cut at its budget is a cut result with its ping record; send pacing is queue time."""

from __future__ import annotations

import asyncio
import socket
import struct

from netpoll.inputs.icmp import IcmpProber
from netpoll.inputs.icmp.channel import Channel
from netpoll.inventory.models import Device, PingSettings
from netpoll.probe import Budget, queue_time
from tests.fakeclock import VirtualClock


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


class _SilentIcmp:
    """Stands in for icmplib's socket: takes every echo request, never answers."""

    _ICMP_ECHO_REQUEST = 8

    def __init__(self) -> None:
        self.sock = self
        self.sent: list[float] = []

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        self.sent.append(asyncio.get_running_loop().time())
        return len(data)

    def _create_packet(self, id: int, sequence: int, payload: bytes) -> bytes:
        return struct.pack("!BBHHH", 8, 0, 0, id, sequence) + payload

    def close(self) -> None:
        pass


def test_the_wait_between_echoes_is_the_targets_time_and_queueing_for_a_slot_the_pollers() -> None:
    clock = VirtualClock()
    icmp = _SilentIcmp()

    async def main() -> list[float]:
        prober = IcmpProber(burst=1)
        # What __aenter__ does, with a socket that needs no privilege (this test sends nothing).
        prober._loop = asyncio.get_running_loop()
        prober._channels[socket.AF_INET] = Channel(socket.AF_INET, "raw", icmp)  # type: ignore[arg-type]
        prober._pacer.open(prober._loop)

        async def probe(n: int) -> float:
            with queue_time() as queued:
                await prober.probe_stats(f"127.0.0.{n}", count=3, interval=1.0, timeout=0.5)
            return queued[0]

        return await asyncio.gather(*(probe(n) for n in range(1, 4)))

    queued = clock.run(main())
    # Three echoes of three targets, one send per loop iteration, each at its due time (virtual time does
    # not pass while the loop has work): the 1 s between a target's echoes is not queue time.
    assert icmp.sent == [1000.0] * 3 + [1001.0] * 3 + [1002.0] * 3
    assert queued == [0.0, 0.0, 0.0]
