"""200 agents polled at once (one snmpd answering on 200 loopback addresses): zero timeouts, both backends.

Guards the measured pitfall: pysnmp sends every request through one UDP socket per engine, and with 200
devices in flight the default receive buffer overflowed (140 of 200 polls timed out).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from netpoll.errors import SnmpError
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inventory.models import Device
from tests.harness.snmpd import SnmpdAgent
from tests.integration.test_snmp_client_contract import IF_TABLE, IF_X_TABLE, v2c_settings

pytestmark = [pytest.mark.network, pytest.mark.slow]

AGENTS = 200


@pytest.fixture(scope="module")
def many_agents(snmpd_factory: Callable[..., SnmpdAgent]) -> SnmpdAgent:
    return snmpd_factory(addresses=[f"127.2.0.{i}" for i in range(1, AGENTS + 1)])


@pytest.mark.parametrize("backend", ["pysnmp", "gufo"])
async def test_200_agents_at_once_no_timeouts(many_agents: SnmpdAgent, backend: str) -> None:
    devices = [
        Device(
            name=f"sw{i:03d}",
            address=host,
            snmp=v2c_settings(many_agents.community, port, timeout_s=5.0, retries=1),
        )
        for i, (host, port) in enumerate(many_agents.addresses)
    ]
    assert len(devices) == AGENTS

    async with SnmpClientPool(backend=backend) as pool:  # type: ignore[arg-type]

        async def poll(device: Device) -> int:
            client = pool.client(device)
            assert getattr(client, "backend", None) == backend
            tables = await asyncio.gather(client.walk(IF_TABLE), client.walk(IF_X_TABLE))
            assert all(tables), f"{device.name}: empty table"
            return sum(len(rows) for rows in tables)

        started = time.monotonic()
        results = await asyncio.gather(*(poll(d) for d in devices), return_exceptions=True)
        elapsed = time.monotonic() - started

    failures = [(d.name, r) for d, r in zip(devices, results, strict=True) if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of {AGENTS} polls failed, e.g. {failures[:3]}"
    counts = [r for r in results if isinstance(r, int)]
    # Every agent is the same snmpd, but the row counts are not compared: other tests on this host add and
    # remove veth interfaces while this runs, and snmpd's ifTable follows them.
    assert len(counts) == AGENTS
    assert not any(isinstance(r, SnmpError) for r in results)
    print(f"{backend}: {AGENTS} agents, {sum(counts)} varbinds in {elapsed:.2f}s")
