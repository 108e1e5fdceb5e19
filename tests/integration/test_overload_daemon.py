"""Overload is the poller's problem, never the device's: ``netpoll run`` with one SNMP slot for a fleet that
needs several, against a real snmpd, a real Mosquitto and the daemon's own HTTP endpoint.

Twenty-four devices answer every request (a real snmpd behind relays that hold each answer 0.1 s: a first
poll is about 11 requests, 1.1 s of the slot against its 2.85 s deadline, room for a busy machine; a steady
poll is a couple of requests since the counter cells ride in the scalars' GET, so it holds the slot 0.2 s or
more, and 24 devices every 3 s need at least 4.8 s of it), polled every 3 s through
``scheduler.max_concurrent_snmp: 1``: the one slot serves a fraction of the polls due, the others wait for it
until their next run and give up.
The poller must say so (``polls_overloaded`` in its ``netpoll`` records, the shipped ``poller_overloaded``
alert over MQTT, ``/healthz`` degraded with the figures and the advice), and no device may look failed: no
``poll_ok=0`` record, no device alert (the shipped rules but the agent host's CPU and memory), no device
``failing`` on the status page. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from netpoll.measurements import MODEL
from tests.harness.lineprotocol import parse_lines
from tests.harness.mosquitto import MqttBroker
from tests.harness.snmpd import SnmpdAgent
from tests.harness.udp_delay import DelayRelay
from tests.integration.test_alerts_daemon import Daemon, Subscriber, write_setup

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(180)]

DEVICES = 24
RULE = "poller_overloaded"
DELAY_S = 0.1  # per request


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.status, answer.read().decode()


def _http_url(config: Path) -> str:
    listen = next(line for line in config.read_text().splitlines() if "listen:" in line).split()[-1]
    return f"http://{listen}"


async def test_one_slot_for_a_fleet_is_overload_never_a_device_failure(
    tmp_path: Path, snmpd: SnmpdAgent, mosquitto: MqttBroker
) -> None:
    # One relay (own port) per device: two devices on one address and port are refused by the inventory.
    relays = [DelayRelay((snmpd.host, snmpd.port), DELAY_S) for _ in range(DEVICES)]
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    (tmp_path / "community").write_text(snmpd.community + "\n")
    (tmp_path / "inventory.yaml").write_text(
        "defaults:\n"
        "  snmp: {interval_s: 3, timeout_s: 1.5, retries: 1}\n"
        "credentials:\n  lab: {version: 2c, community_file: community}\n"
        "devices:\n"
        + "".join(
            f"  - {{name: dev-{i:02d}, address: {relay.host}, ping: {{enabled: false}},\n"
            f"     snmp: {{credentials: lab, port: {relay.port}}}}}\n"
            for i, relay in enumerate(relays)
        )
    )
    # The shipped rules, but for the agent's CPU and memory: the agent is this machine, as busy as the test
    # suites beside this one make it, and a cpu_high breach would be a true alert, not a false one.
    (tmp_path / "rules.yaml").write_text("include_defaults: true\ndisable: [cpu_high, memory_high]\n")
    config = write_setup(tmp_path, mosquitto, prefix)
    config.write_text(config.read_text() + "scheduler: {max_concurrent_snmp: 1}\n")
    base = _http_url(config)
    topic = f"{prefix}/alerts/np-test/{RULE}"
    daemon = Daemon(config)
    health = ""
    try:
        async with Subscriber(mosquitto, prefix) as sub:
            await sub.wait(lambda: bool(sub.on(topic)), 90, "the poller_overloaded alert", daemon)
            deadline = time.monotonic() + 30
            while not health.startswith("degraded:") and time.monotonic() < deadline:
                status, health = await asyncio.to_thread(_get, f"{base}/healthz")
                assert status == 200, health
                await asyncio.sleep(0.2)
            _, api_status = await asyncio.to_thread(_get, f"{base}/api/status")
            _, api_devices = await asyncio.to_thread(_get, f"{base}/api/devices")
        assert daemon.stop() == 0, daemon.log()[-4000:]
    finally:
        daemon.stop(signal.SIGKILL)
        for relay in relays:
            relay.stop()
    log = daemon.log()
    assert "Traceback" not in log

    # /healthz: 200 (a liveness probe must not restart a busy poller), degraded, with figures and advice.
    assert health.startswith("degraded: "), health
    assert "polls overloaded in the last cycle (slot_wait " in health
    assert "shard the inventory" in health
    assert json.loads(api_status)["last_cycle"]["polls_overloaded"] >= 0
    states = {device["name"]: device["state"] for device in json.loads(api_devices)["devices"]}
    errors = {d["name"]: d["error"] for d in json.loads(api_devices)["devices"] if d["error"]}
    assert "failing" not in states.values(), (states, errors)

    # MQTT: the poller's alert, keyed on its instance, with the figure and the advice; no device alert at all.
    breach = json.loads(sub.on(topic)[0])
    assert (breach["state"], breach["device"], breach["field"]) == ("breach", "np-test", "polls_overloaded")
    assert breach["value"] >= 1
    assert "slot wait" in breach["message"]
    assert "max_concurrent_snmp" in breach["message"]
    alert_topics = {t for t, _, _ in sub.messages if "/alerts/" in t}
    assert alert_topics == {topic}, alert_topics

    # The records: overload counted by the poller, every device poll that was written succeeded.
    written = parse_lines("".join(path.read_text() for path in sorted((tmp_path / "data").rglob("*.lp"))))
    problems = sorted({problem for sample in written for problem in MODEL.problems(sample)})
    assert not problems, "\n".join(problems)
    netpoll = [s for s in written if s.measurement == "netpoll"]
    overloaded = sum(int(s.fields["polls_overloaded"]) for s in netpoll)
    slot_wait = sum(int(s.fields["overloaded_slot_wait"]) for s in netpoll)
    polls_ok = sum(int(s.fields["polls_ok"]) for s in netpoll)
    failed = sum(int(s.fields["polls_failed"]) for s in netpoll)
    snmp = [s for s in written if s.measurement == "snmp"]
    requests = sum(relay.requests for relay in relays)
    print(f"polls ok {polls_ok}, failed {failed}, overloaded {overloaded} (slot_wait {slot_wait})")
    print(f"{requests} requests answered")
    print(health)
    assert overloaded > 0
    assert slot_wait > 0
    assert failed == 0, log[-4000:]
    assert snmp, "no snmp records"
    assert [s.tags["device"] for s in snmp if s.fields.get("poll_ok") != 1] == []
    assert {s.tags["rule"] for s in written if s.measurement == "alert"} == {RULE}
