"""A slow device still gets data: an agent that answers every request in 0.3 s, polled at a 10 s interval (the
scheduler's budget: 9.5 s), whose first full poll needs more requests than fit.

The poller reads the interfaces first and the profile's tables last, within the deadline: the first poll
delivers every interface and says ``partial=1``, the second has rates for every interface, and tables found
empty are not walked again, so the polls after it finish whole. The device keeps the default
``max_repetitions``: the poller sizes its interface walks to ifNumber, one request per column (docs/snmp.md,
"Slow devices").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netpoll.defaults import DEADLINE_FRACTION
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inventory.models import Device
from netpoll.probe import Budget
from tests.harness.demo_sim import demo_simulator, running
from tests.harness.udp_delay import DelayRelay

pytestmark = [pytest.mark.network, pytest.mark.slow]

DEVICE = "demo-sw-access-1"  # 26 interfaces, a Cisco profile with many (mostly absent) tables
ADDRESS = "127.0.0.73"
DELAY_S = 0.3
INTERVAL_S = 10.0


@pytest.fixture(scope="module")
def slow_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DelayRelay]:
    simulator = demo_simulator(tmp_path_factory.mktemp("slow-device"), [ADDRESS], INTERVAL_S, only=[DEVICE])
    with running(simulator):
        relay = DelayRelay((ADDRESS, simulator.port), DELAY_S)
        yield relay
        relay.stop()


async def test_slow_device_yields_data_every_poll_and_rates_from_the_second(slow_agent: DelayRelay) -> None:
    backend = "gufo"  # the order of reads and the deadline are the poller's: one backend shows them
    device = Device.model_validate(
        {
            "name": f"slow-{backend}",
            "address": "127.0.0.1",
            "snmp": {
                "port": slow_agent.port,
                "credentials": {"profile": "slow", "version": "2c", "community": DEVICE},
                "interval_s": INTERVAL_S,
                "timeout_s": 2,
                "retries": 1,
                "backend": backend,
            },
        }
    )
    async with SnmpClientPool(backend=backend) as pool:
        poller = SnmpPoller(pool, load_profiles(None))
        report = []
        for number in (1, 2, 3):
            before = slow_agent.requests
            result = await poller.run(device, Budget.start(INTERVAL_S * DEADLINE_FRACTION))
            samples = result.samples
            snmp = next(s for s in samples if s.measurement == "snmp")
            interfaces = [s for s in samples if s.measurement == "interface"]
            with_rates = [s for s in interfaces if "in_bps" in s.fields]
            report.append(
                f"poll {number}: {slow_agent.requests - before} requests, "
                f"{snmp.fields['poll_duration_ms'] / 1000:.1f} s, poll_ok={snmp.fields['poll_ok']}, "
                f"partial={snmp.fields.get('partial', 0)}, {len(interfaces)} interfaces, "
                f"{len(with_rates)} with rates"
            )
            assert snmp.fields["poll_ok"] == 1, report
            assert len(interfaces) == 26, report
            if number >= 2:
                assert len(with_rates) == 26, report
        print("\n".join(report))
        assert snmp.fields.get("partial", 0) == 0, "the third poll reads every table it needs"
