"""linkDown → immediate poll → exactly one ``interface_down``, with a real snmpd in a test-made namespace.

snmpd runs in a namespace (198.18.0.0/15 only) and watches a second veth pair inside it
(``linkUpDownNotifications`` as explicit DISMAN-EVENT monitors checked every second, its interface-table
cache off) and sends linkDown and
linkUp as v2c traps to the daemon on the host side of the namespace's veth. Setting the pair's far end down
takes the watched end operationally down while administratively up: snmpd sends linkDown, the daemon polls
the device at once, and the ``interface`` record of that poll raises the one ``interface_down`` on MQTT. The
trap itself is an event on ``<prefix>/events/...``, never a second alert. The latency from the link change
to the alert on the broker is printed.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.harness.mosquitto import MqttBroker
from tests.harness.ports import free_port
from tests.harness.snmpd import IF_TABLE_CACHE_TIMEOUT_OID
from tests.integration.test_alerts_daemon import Daemon, Subscriber
from tests.integration.test_traps_daemon import daemon_config

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(120)]

DEVICE = "sw1"
WATCHED, PEER = "npwatch0", "nppeer0"
IF_ENTRY = ".1.3.6.1.2.1.2.2.1"
LINK_UP, LINK_DOWN = ".1.3.6.1.6.3.1.1.5.4", ".1.3.6.1.6.3.1.1.5.3"
INTERVAL = 5  # the schedule: one poll sets the baseline; the alert comes from the poll the trap asks for


def snmpd_extra(sink: str, community: str) -> str:
    # linkUpDownNotifications yes would do the same with a 60 s monitor frequency; -r 1 checks every second.
    # One community for the polls and the traps, as the inventory's credential profile has one.
    return "\n".join(
        [
            f"rocommunity {community} default",
            "iquerySecName noauth_nopriv",
            # Numeric (the test agent loads no MIBs): linkUp/linkDown, ifIndex, ifAdminStatus, ifOperStatus.
            f"notificationEvent linkUpTrap {LINK_UP} {IF_ENTRY}.1 {IF_ENTRY}.7 {IF_ENTRY}.8",
            f"notificationEvent linkDownTrap {LINK_DOWN} {IF_ENTRY}.1 {IF_ENTRY}.7 {IF_ENTRY}.8",
            f'monitor -r 1 -e linkUpTrap "Generate linkUp" {IF_ENTRY}.8 != 2',
            f'monitor -r 1 -e linkDownTrap "Generate linkDown" {IF_ENTRY}.8 == 2',
            f"trap2sink {sink} {community}",
        ]
    )


def write_setup(
    tmp: Path, broker: MqttBroker, prefix: str, agent: Any, community: str, host_ip: str, trap_port: int
) -> Path:
    (tmp / "community").write_text(community + "\n")
    (tmp / "community").chmod(0o600)
    (tmp / "inventory.yaml").write_text(
        "\n".join(
            [
                "credentials:",
                "  lab: {version: 2c, community_file: community}",
                "devices:",
                f"  - name: {DEVICE}",
                f"    address: {agent.host}",
                f"    snmp: {{credentials: lab, port: {agent.port}, interval_s: {INTERVAL}, timeout_s: 1}}",
                "    ping: {enabled: false}",
            ]
        )
        + "\n"
    )
    return daemon_config(tmp, broker, prefix, "np-linkdown", f"{host_ip}:{trap_port}", [])


def interface_records(data: Path, if_name: str) -> list[str]:
    lines = []
    for path in sorted(data.glob("netpoll-*.lp")):
        lines += [
            line
            for line in path.read_text(errors="replace").splitlines()
            if line.startswith("interface,") and re.search(f"[,]ifName={if_name}[ ,]", line)
        ]
    return lines


async def test_link_down_makes_one_interface_down_within_2_s(
    tmp_path: Path, netns_factory: Any, snmpd_factory: Any, mosquitto: MqttBroker
) -> None:
    netns = netns_factory("nptl")
    netns.exec(["ip", "link", "add", WATCHED, "type", "veth", "peer", "name", PEER])
    for name in (WATCHED, PEER):
        netns.exec(["ip", "link", "set", name, "up"])
    trap_port = free_port("udp", netns.host_ip)
    community = f"lab-{uuid.uuid4().hex[:8]}"
    agent = snmpd_factory(netns=netns, extra_config=snmpd_extra(f"{netns.host_ip}:{trap_port}", community))
    # Interface table cache off: the monitor and the poll see the kernel's state at once, not 3 s late.
    cache_off = [IF_TABLE_CACHE_TIMEOUT_OID, "i", "0"]
    target = f"{agent.host}:{agent.port}"
    setter = ["snmpset", "-v2c", "-c", agent.rw_community, target, *cache_off]
    subprocess.run(setter, check=True, capture_output=True, timeout=10)  # noqa: ASYNC221 - before the daemon starts
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    config = write_setup(tmp_path, mosquitto, prefix, agent, community, netns.host_ip, trap_port)
    daemon = Daemon(config)
    alerts = f"{prefix}/alerts/{DEVICE}/interface_down/{WATCHED}"
    try:
        async with Subscriber(mosquitto, prefix) as sub:
            await sub.wait(lambda: b"online" in sub.on(f"{prefix}/status/np-linkdown"), 30, "online", daemon)
            await sub.wait(lambda: "traps: listening on" in daemon.log(), 30, "the trap receiver", daemon)
            # The baseline: a poll that saw the interface up (interface_down fires on a change only).
            deadline = time.monotonic() + 3 * INTERVAL + 5
            while not any("oper_status=1i" in line for line in interface_records(tmp_path / "data", WATCHED)):
                assert time.monotonic() < deadline, daemon.log()[-4000:]
                await asyncio.sleep(0.2)
            changed = time.time()
            netns.exec(["ip", "link", "set", PEER, "down"])
            await sub.wait(lambda: bool(sub.on(alerts)), 10, "interface_down", daemon)
            latency = time.time() - changed  # the subscriber is read every 0.1 s: at most that much late
            # One more scheduled poll sees the same down state: still one alert.
            await asyncio.sleep(INTERVAL + 1)
            # Every alert of the run (also those of other rules and interfaces), and the trap events.
            messages = [json.loads(p) for t, p, _ in sub.messages if t.startswith(f"{prefix}/alerts/") and p]
            events = [json.loads(p) for t, p, _ in sub.messages if t.startswith(f"{prefix}/events/{DEVICE}/")]
    finally:
        code = daemon.stop()
    log = daemon.log()
    assert code == 0, log
    assert "Traceback" not in log
    shown = [(e["trap"], e.get("ifName"), e["varbinds"]) for e in events]
    print(f"\nlink down → interface_down on MQTT: {latency * 1000:.0f} ms; trap events: {shown}")
    assert [(m["rule"], m["state"], m["entity"]) for m in messages] == [("interface_down", "event", WATCHED)]
    # snmpd sent linkDown for both ends: the watched one (admin up, oper down), and the peer set down by
    # hand (admin down: no interface_down by the shipped rule). The ifName comes from the poller's labels.
    assert sorted((e["trap"], e.get("ifName")) for e in events) == [("linkDown", PEER), ("linkDown", WATCHED)]
    assert "linkDown: polling the device now" in log
    # snmpd's monitor checks every second, then trap, poll, rule and broker: well under the 5 s schedule that
    # would otherwise have found the change (room for a busy machine; ~0.4 s when idle).
    assert latency <= 3.5
