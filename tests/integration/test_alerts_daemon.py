"""Alerts end to end through ``netpoll run``: a real snmpd that stops answering, a real Mosquitto.

One test walks the whole story, because each step needs the state the previous one left:

1. the agent stops answering → exactly one breach on ``<prefix>/alerts/<device>/snmp_unreachable``;
   a subscriber connecting afterwards sees it retained;
2. the daemon is killed with SIGKILL while the alert is active → the broker publishes the last will
   ``offline``; started again, the daemon publishes no second breach;
3. the agent answers again → exactly one clear, which removes the retained breach;
4. the ``alert`` records (breach, clear) are in the daemon's line-protocol output too.

Another test has a rule on the poller's own ``netpoll`` record fire over MQTT.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest

from netpoll.measurements import MODEL
from tests.harness.lineprotocol import parse_lines
from tests.harness.mosquitto import MqttBroker, retained
from tests.harness.ports import free_port
from tests.harness.snmpd import SnmpdAgent

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(180)]

DEVICE = "dev-1"
RULE = "snmp_unreachable"


def write_inventory_and_rules(tmp: Path, agent: SnmpdAgent) -> None:
    (tmp / "community").write_text(agent.community + "\n")
    (tmp / "inventory.yaml").write_text(
        "\n".join(
            [
                "defaults:",
                "  snmp: {interval_s: 1, timeout_s: 0.8, retries: 0}",
                "credentials:",
                "  lab: {version: 2c, community_file: community}",
                "devices:",
                f"  - name: {DEVICE}",
                f"    address: {agent.host}",
                f"    snmp: {{credentials: lab, port: {agent.port}}}",
                "    ping: {enabled: false}",
            ]
        )
        + "\n"
    )
    # The shipped rules, with snmp_unreachable wanting 3 failed polls instead of 2: one slow answer on a
    # loaded test machine must not make a breach of its own.
    (tmp / "rules.yaml").write_text(
        "\n".join(
            [
                "include_defaults: true",
                "rules:",
                f"  - {{name: {RULE}, measurement: snmp, field: poll_ok, comparison: '==', breach: 0,",
                "     for: 3, clear_for: 1, severity: major}",
            ]
        )
        + "\n"
    )


def write_setup(tmp: Path, broker: MqttBroker, prefix: str) -> Path:
    """The daemon configuration: inventory.yaml, rules.yaml, MQTT on ``broker`` as instance np-test."""
    config = tmp / "netpoll.yaml"
    config.write_text(
        "\n".join(
            [
                "inventories: [inventory.yaml]",
                "data_dir: data",
                "state_dir: state",
                "thresholds: rules.yaml",
                "mqtt:",
                f"  host: {broker.host}",
                f"  port: {broker.port}",
                f"  topic_prefix: {prefix}",
                "  instance: np-test",
                "http:",
                f"  listen: 127.0.0.1:{free_port('tcp')}",
                "log: {level: INFO}",
            ]
        )
        + "\n"
    )
    return config


class Daemon:
    """``netpoll run`` in a subprocess, its output in a log file."""

    def __init__(self, config: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")}
        self.log_path = config.parent / f"netpoll-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netpoll", "run", "--config", str(config)],
            cwd=config.parent,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)
        finally:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Subscriber:
    """Collects every message under ``<prefix>/#`` as (topic, payload, retained)."""

    def __init__(self, broker: MqttBroker, prefix: str) -> None:
        self.broker = broker
        self.prefix = prefix
        self.messages: list[tuple[str, bytes, bool]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> Subscriber:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
            await client.subscribe(f"{self.prefix}/#", qos=1)
            self._ready.set()
            async for message in client.messages:
                payload = bytes(message.payload)  # type: ignore[arg-type]
                self.messages.append((str(message.topic), payload, message.retain))

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _ in self.messages if t == topic]

    async def wait(
        self, predicate: Callable[[], bool], timeout: float, what: str, daemon: Daemon, alive: bool = True
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():  # polls what the subscriber task collects
            if time.monotonic() > deadline or (alive and daemon.proc.poll() is not None):
                raise AssertionError(f"timed out waiting for {what}; daemon log:\n{daemon.log()[-4000:]}")
            await asyncio.sleep(0.1)


async def test_unreachable_breach_sigkill_restart_clear(
    tmp_path: Path, snmpd_factory: Callable[..., SnmpdAgent], mosquitto: MqttBroker
) -> None:
    agent = snmpd_factory()
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    write_inventory_and_rules(tmp_path, agent)
    config = write_setup(tmp_path, mosquitto, prefix)
    topic = f"{prefix}/alerts/{DEVICE}/{RULE}"
    status = f"{prefix}/status/np-test"
    daemon = Daemon(config)
    try:
        async with Subscriber(mosquitto, prefix) as sub:
            await sub.wait(lambda: b"online" in sub.on(status), 30, "status online", daemon)
            await asyncio.sleep(3)  # a few good polls
            assert sub.on(topic) == []

            # 1. The agent stops answering: one breach after 3 failed polls.
            agent.stop()
            await sub.wait(lambda: len(sub.on(topic)) >= 1, 20, "the breach", daemon)
            await asyncio.sleep(3)  # more failed polls: nothing new
            (breach_raw,) = sub.on(topic)
            breach = json.loads(breach_raw)
            assert breach["state"] == "breach"
            assert breach["device"] == DEVICE
            assert breach["rule"] == RULE
            assert breach["severity"] == "major"
            assert breach["value"] == 0
            assert (await retained(mosquitto, f"{prefix}/alerts/#")) == {topic: breach_raw}
            assert (tmp_path / "state" / "alerts.json").exists()

            # 2. SIGKILL while the alert is active: the will says offline; restarted, no second breach.
            assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
            await sub.wait(lambda: sub.on(status)[-1:] == [b"offline"], 30, "last will", daemon, alive=False)
            online_before = sub.on(status).count(b"online")
            daemon = Daemon(config)
            await sub.wait(
                lambda: sub.on(status).count(b"online") > online_before, 30, "online again", daemon
            )
            await asyncio.sleep(4)  # several failed polls by the restarted daemon
            assert sub.on(topic) == [breach_raw]

            # 3. The agent answers again: one clear, replacing the retained breach.
            agent.start()
            await sub.wait(lambda: len(sub.on(topic)) >= 3, 30, "the clear", daemon)
            await asyncio.sleep(2)
            empty, clear_raw = sub.on(topic)[1:]
            assert empty == b""
            clear = json.loads(clear_raw)
            assert clear["state"] == "clear"
            assert clear["breach_id"] == breach["id"]
            assert clear["id"] != breach["id"]
            assert clear["since"] == breach["since"]
            assert len(sub.on(topic)) == 3
            assert (await retained(mosquitto, f"{prefix}/alerts/#")) == {}
        assert daemon.stop() == 0
        log = daemon.log()
    finally:
        daemon.stop(signal.SIGKILL)
    assert agent.community not in log

    # 4. Both transitions went to the line-protocol output as `alert` records.
    lines = [
        line
        for path in sorted((tmp_path / "data").rglob("*"))
        if path.is_file() and not path.name.endswith(".gz")
        for line in path.read_text(errors="replace").splitlines()
        if line.startswith("alert,")
    ]
    assert any("state=breach" in line and breach["id"] in line for line in lines), lines
    assert any("state=clear" in line and clear["id"] in line for line in lines), lines


async def test_netpoll_rule_fires_over_mqtt(tmp_path: Path, mosquitto: MqttBroker) -> None:
    """The poller's own ``netpoll`` record goes through the alert engine: rules on it publish over MQTT,
    keyed on the instance, and every record the daemon wrote fits the data model."""
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    (tmp_path / "community").write_text("public\n")
    (tmp_path / "inventory.yaml").write_text(
        "credentials:\n  lab: {version: 2c, community_file: community}\n"
        "devices:\n"
        # Nothing listens on that port: every poll times out and counts as failed in the cycle.
        "  - {name: silent, address: 127.0.0.1, ping: {enabled: false},\n"
        f"     snmp: {{credentials: lab, port: {free_port('udp')},\n"
        "             interval_s: 1, timeout_s: 0.3, retries: 0}}\n"
    )
    (tmp_path / "rules.yaml").write_text(
        "rules:\n"
        "  - {name: poller_failing, measurement: netpoll, field: polls_failed, comparison: '>', breach: 0,\n"
        "     severity: major}\n"
        "  - {name: broker_connected, measurement: netpoll, field: mqtt_connected, comparison: '==',\n"
        "     breach: 1, kind: event, severity: info}\n"
    )
    config = write_setup(tmp_path, mosquitto, prefix)
    daemon = Daemon(config)
    failing, connected = (
        f"{prefix}/alerts/np-test/poller_failing",
        f"{prefix}/alerts/np-test/broker_connected",
    )
    try:
        async with Subscriber(mosquitto, prefix) as sub:
            await sub.wait(lambda: bool(sub.on(failing) and sub.on(connected)), 30, "netpoll alerts", daemon)
        assert daemon.stop() == 0
    finally:
        daemon.stop(signal.SIGKILL)
    breach = json.loads(sub.on(failing)[0])
    assert (breach["state"], breach["device"], breach["measurement"], breach["field"]) == (
        "breach", "np-test", "netpoll", "polls_failed"
    )  # fmt: skip
    assert breach["value"] >= 1
    assert breach["tags"]["instance"] == "np-test"
    assert json.loads(sub.on(connected)[0])["state"] == "event"

    written = parse_lines("".join(path.read_text() for path in sorted((tmp_path / "data").rglob("*.lp"))))
    problems = sorted({problem for sample in written for problem in MODEL.problems(sample)})
    assert not problems, "\n".join(problems)
    netpoll = [s for s in written if s.measurement == "netpoll"]
    assert netpoll, "no netpoll records written"
    assert {"alerts_queued", "mqtt_connected", "points_dropped"} <= set(netpoll[-1].fields)
    alerts = {(s.tags["device"], s.tags["rule"]) for s in written if s.measurement == "alert"}
    assert {("np-test", "poller_failing"), ("np-test", "broker_connected")} <= alerts
