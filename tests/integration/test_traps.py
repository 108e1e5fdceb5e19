"""Traps and informs from real net-snmp ``snmptrap``/``snmpinform`` (Debian ``snmp``) on loopback.

In process: the receiver with an inventory (names, varbinds, the inform's acknowledgement, a wrong community
and an unknown sender as counts, never events). As a user runs it: ``netpoll traps`` on ``[::1]`` with JSON.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from netpoll.inputs.traps.receiver import TrapReceiver
from netpoll.inputs.traps.record import Trap
from netpoll.inputs.traps.sources import Sources
from tests.harness.ports import free_port
from tests.harness.process import require_binary
from tests.unit.inputs.traps.test_sources import device

pytestmark = pytest.mark.network

LINK_DOWN, LINK_UP, COLD_START = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.6.3.1.1.5.1"
IF_INDEX_3 = ("1.3.6.1.2.1.2.2.1.1.3", "i", "3")
IF_OPER_3 = ("1.3.6.1.2.1.2.2.1.8.3", "i", "2")


async def send(*argv: str) -> int:
    """Run one net-snmp command (bounded in time) and return its exit status."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def next_trap(traps: AsyncIterator[Trap]) -> Trap:
    return await asyncio.wait_for(anext(traps), 5)


def test_real_traps_and_informs_with_an_inventory() -> None:
    snmptrap = require_binary("snmptrap", "Debian package snmp")
    snmpinform = require_binary("snmpinform", "Debian package snmp")
    sources = Sources([device("r1", "127.0.0.1", community="trapsecret")])

    async def scenario() -> None:
        async with TrapReceiver([("127.0.0.1", 0)], sources) as receiver:
            target = f"127.0.0.1:{receiver.addresses[0][1]}"
            traps = aiter(receiver)
            v1 = ["-v1", "-c", "trapsecret", target, "1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", "2", "0", ""]
            assert await send(snmptrap, *v1, *IF_INDEX_3) == 0
            trap = await next_trap(traps)
            assert (trap.device_name, trap.name, trap.notification.version) == ("r1", "linkDown", "1")
            assert trap.varbinds()["ifIndex.3"] == 3

            v2c = ["-v2c", "-c", "trapsecret", target, ""]
            assert await send(snmptrap, *v2c, LINK_UP, *IF_INDEX_3, *IF_OPER_3) == 0
            trap = await next_trap(traps)
            assert (trap.name, trap.notification.version) == ("linkUp", "2c")
            assert trap.varbinds() == {"ifIndex.3": 3, "ifOperStatus.3": 2}

            # snmpinform exits 0 only when the Response came back: the inform was acknowledged (when the
            # receiver's reader takes it from the queue, so read while it waits).
            code, trap = await asyncio.gather(
                send(snmpinform, "-t", "10", "-r", "0", *v2c, COLD_START), next_trap(traps)
            )
            assert code == 0
            assert (trap.name, trap.notification.kind) == ("coldStart", "inform")

            # A wrong community, then an unknown sender: counted, no event; the next good trap comes next.
            assert await send(snmptrap, "-v2c", "-c", "guess", target, "", LINK_DOWN, *IF_INDEX_3) == 0
            assert await send(snmptrap, "--clientaddr=127.0.0.2", *v2c, LINK_DOWN, *IF_INDEX_3) == 0
            assert await send(snmptrap, *v2c, COLD_START) == 0
            assert (await next_trap(traps)).name == "coldStart"
            stats = receiver.stats
            assert stats.auth_failures == {"r1": 1}
            assert (stats.unknown_source, stats.events, stats.informs_acknowledged) == (1, 4, 1)

    asyncio.run(scenario())


def test_cli_prints_json_on_ipv6() -> None:
    snmptrap = require_binary("snmptrap", "Debian package snmp")
    snmpinform = require_binary("snmpinform", "Debian package snmp")
    port = free_port("udp", "::1")
    cmd = [
        sys.executable,
        "-m",
        "netpoll",
        "traps",
        "--listen",
        f"[::1]:{port}",
        "-f",
        "json",
        "--count",
        "2",
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            assert proc.stderr.readline().startswith("listening on ::1:")
            target = f"udp6:[::1]:{port}"
            ifname = ("1.3.6.1.2.1.31.1.1.1.1.3", "s", "eth\x1b[2J0")  # a hostile interface name
            trap = [snmptrap, "-v2c", "-c", "any", target, "", LINK_DOWN, *IF_INDEX_3, *ifname]
            assert subprocess.run(trap, timeout=10, check=False).returncode == 0
            inform = [snmpinform, "-v2c", "-c", "any", "-t", "10", "-r", "0", target, "", COLD_START]
            assert subprocess.run(inform, timeout=20, check=False).returncode == 0
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "\x1b" not in out
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["tags"]["trap"] for r in records] == ["linkDown", "coldStart"]
    assert records[0]["tags"]["device"] == "::1"
    assert records[0]["varbinds"] == {"ifIndex.3": 3, "ifName.3": "0x6574681b5b324a30"}
    assert records[1]["fields"]["kind"] == "inform"
    assert "2 shown, 1 informs acknowledged" in err
