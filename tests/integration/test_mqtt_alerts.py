"""Alerts through a real Mosquitto: retained state, clear, broker restarts, status and last will."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from pydantic import SecretStr

from netpoll.alerts.engine import Alert, AlertEngine
from netpoll.alerts.rules import parse_rules
from netpoll.config import MqttConfig, TlsConfig
from netpoll.outputs.mqtt.publisher import MqttPublisher
from netpoll.sample import Sample
from tests.harness.mosquitto import MqttBroker, retained
from tests.harness.ports import free_port

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]

RULES = parse_rules(
    textwrap.dedent(
        """
        rules:
          - name: snmp_unreachable
            measurement: snmp
            field: poll_ok
            comparison: "=="
            breach: 0
            severity: major
        """
    )
)
T0 = 1_700_000_000_000_000_000


def snmp(device: str, ok: int, step: int) -> Sample:
    return Sample("snmp", {"device": device, "agent_host": "127.0.0.1"}, {"poll_ok": ok}, T0 + step * 10**9)


def options(broker: MqttBroker, prefix: str, **kwargs: Any) -> MqttConfig:
    return MqttConfig(host=broker.host, port=broker.port, topic_prefix=prefix, instance="test", **kwargs)


def fast(publisher_options: MqttConfig) -> MqttPublisher:
    return MqttPublisher(publisher_options, backoff_base=0.05, backoff_cap=0.5, publish_timeout=3)


async def collect(client: aiomqtt.Client, into: list[tuple[str, bytes]]) -> None:
    async for message in client.messages:
        into.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polls state filled by other tasks
            await asyncio.sleep(0.02)


async def test_breach_once_retained_then_clear_replaces_it(mosquitto: MqttBroker) -> None:
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    engine = AlertEngine(RULES)
    seen: list[tuple[str, bytes]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as live:
        await live.subscribe(f"{prefix}/alerts/#", qos=1)
        collector = asyncio.create_task(collect(live, seen))
        async with fast(options(mosquitto, prefix)) as publisher:
            for step, ok in enumerate([1, 0, 0, 0]):  # fails three polls in a row: one breach
                for alert in engine.evaluate([snmp("r1/a+b#", ok, step)]):
                    publisher.publish(alert)
            await publisher.wait_idle(10)
            topic = f"{prefix}/alerts/r1%2Fa%2Bb%23/snmp_unreachable"
            await wait_for(lambda: len(seen) >= 1)
            await asyncio.sleep(0.3)
            assert [t for t, _ in seen] == [topic]
            breach = json.loads(seen[0][1])
            assert breach["state"] == "breach"
            assert breach["device"] == "r1/a+b#"
            assert breach["value"] == 0
            # A subscriber connecting later sees what is active.
            late = await retained(mosquitto, f"{prefix}/alerts/#")
            assert list(late) == [topic]
            assert json.loads(late[topic])["id"] == breach["id"]

            for step, ok in enumerate([1, 1], start=4):
                for alert in engine.evaluate([snmp("r1/a+b#", ok, step)]):
                    publisher.publish(alert)
            await publisher.wait_idle(10)
            await wait_for(lambda: len(seen) >= 3)
            await asyncio.sleep(0.3)
            stats = publisher.stats()
        collector.cancel()
    # The clear removes the retained breach (empty retained payload), then is published itself.
    assert [payload for _, payload in seen[1:2]] == [b""]
    clear = json.loads(seen[2][1])
    assert clear["state"] == "clear"
    assert clear["breach_id"] == breach["id"]
    assert clear["id"] != breach["id"]
    assert len(seen) == 3
    assert await retained(mosquitto, f"{prefix}/alerts/#") == {}
    assert stats["published"] == 2
    assert stats["queued"] == 0
    assert stats["dropped"] == 0


async def test_status_online_and_offline_on_clean_exit(mosquitto: MqttBroker) -> None:
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    async with fast(options(mosquitto, prefix)) as publisher:
        await publisher.wait_connected(10)
        await asyncio.sleep(0.2)
        assert await retained(mosquitto, f"{prefix}/status/#") == {f"{prefix}/status/test": b"online"}
    assert await retained(mosquitto, f"{prefix}/status/#") == {f"{prefix}/status/test": b"offline"}


PUBLISHER_SCRIPT = """
import asyncio, sys
from netpoll.config import MqttConfig
from netpoll.outputs.mqtt.publisher import MqttPublisher

async def main():
    opts = MqttConfig(host=sys.argv[1], port=int(sys.argv[2]), topic_prefix=sys.argv[3], instance="victim")
    async with MqttPublisher(opts) as publisher:
        await publisher.wait_connected(10)
        print("connected", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_last_will_offline_when_killed(mosquitto: MqttBroker) -> None:
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PUBLISHER_SCRIPT,
        mosquitto.host,
        str(mosquitto.port),
        prefix,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.strip() == b"connected"
        await asyncio.sleep(0.3)
        assert await retained(mosquitto, f"{prefix}/status/#") == {f"{prefix}/status/victim": b"online"}
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
        # The broker sees the socket close and publishes the will (retained).
        status: dict[str, bytes] = {}
        for _ in range(50):  # bounded: 10 s
            status = await retained(mosquitto, f"{prefix}/status/#")
            if status.get(f"{prefix}/status/victim") == b"offline":
                break
            await asyncio.sleep(0.2)
        assert status == {f"{prefix}/status/victim": b"offline"}
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _persistent_subscriber(
    broker: MqttBroker, topic: str, into: list[tuple[str, bytes]], stop: asyncio.Event
) -> None:
    """A QoS 1 subscriber with a persistent session, reconnecting across broker restarts."""
    identifier = f"persist-{uuid.uuid4().hex[:8]}"
    first = True
    while not stop.is_set():
        try:
            async with aiomqtt.Client(
                broker.host, broker.port, identifier=identifier, clean_session=False
            ) as client:
                if first:
                    await client.subscribe(topic, qos=1)
                    first = False
                    into.append(("", b"subscribed"))
                await collect(client, into)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.1)


def _events(alerts_seen: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    return [json.loads(payload) for topic, payload in alerts_seen if topic and payload]


async def test_broker_restart_every_alert_arrives_in_order(
    mosquitto_factory: Callable[..., MqttBroker],
) -> None:
    broker = mosquitto_factory()
    prefix = "np-restart"
    engine = AlertEngine(RULES)
    seen: list[tuple[str, bytes]] = []
    stop = asyncio.Event()
    subscriber = asyncio.create_task(_persistent_subscriber(broker, f"{prefix}/alerts/#", seen, stop))
    await wait_for(lambda: bool(seen))
    expected: list[Alert] = []
    step = 0

    def poll(publisher: MqttPublisher, devices: range, ok: bool) -> None:
        nonlocal step
        step += 1
        for index in devices:
            for alert in engine.evaluate([snmp(f"r{index}", int(ok), step)]):
                expected.append(alert)
                publisher.publish(alert)

    async with fast(options(broker, prefix)) as publisher:
        await publisher.wait_connected(10)
        poll(publisher, range(10), ok=False)  # 10 breaches while the broker is up
        await asyncio.sleep(0.05)
        broker.stop()
        poll(publisher, range(10), ok=True)  # 10 clears while it is down (some may be in flight at the stop)
        poll(publisher, range(5), ok=False)  # and 5 breaches again
        await asyncio.sleep(0.5)
        assert publisher.queued > 0
        broker.start()
        poll(publisher, range(5, 10), ok=False)  # 5 more after the restart
        await publisher.wait_idle(30)
        stats = publisher.stats()
    assert len(expected) == 30
    await wait_for(lambda: len({e["id"] for e in _events(seen)}) >= len(expected), timeout=20)
    await asyncio.sleep(0.3)
    stop.set()
    subscriber.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await subscriber

    received = _events(seen)
    unique: list[str] = []
    for event in received:
        if event["id"] not in unique:
            unique.append(event["id"])
    assert unique == [alert.id for alert in expected]  # none missing, none doubled, in order
    assert stats["dropped"] == 0
    assert stats["published"] == 30
    assert stats["connects"] >= 2
    # What is retained now is exactly what is active: r0..r9 breached (r0-4 by step 3, r5-9 by step 4).
    late = await retained(broker, f"{prefix}/alerts/#")
    assert sorted(late) == sorted(f"{prefix}/alerts/r{i}/snmp_unreachable" for i in range(10))
    assert all(json.loads(payload)["state"] == "breach" for payload in late.values())


async def test_queue_is_bounded_and_counts_drops() -> None:
    # No broker at all: the queue fills up to queue_max, the oldest are dropped and counted. The port is
    # held by a bound, not listening, socket: refused, and no TCP self-connect to a free port.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    opts = MqttConfig(host="127.0.0.1", port=port, topic_prefix="np", instance="t", queue_max=5)
    engine = AlertEngine(RULES)
    publisher = MqttPublisher(opts, backoff_base=0.05, backoff_cap=0.1, drain_timeout=0.3)
    async with publisher:
        for index in range(8):
            for alert in engine.evaluate([snmp(f"r{index}", 0, 1)]):
                publisher.publish(alert)
        await asyncio.sleep(0.3)
        stats = publisher.stats()
    holder.close()
    assert stats["queued"] == 5
    assert stats["dropped"] == 3
    assert stats["enqueued"] == 8
    assert stats["connected"] == 0
    assert stats["connect_failures"] >= 1


def _make_certs(directory: Path) -> None:
    """A throw-away CA, a server certificate for 127.0.0.1 and a password file (user netpoll)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "1", "-subj", "/CN=netpoll-test-ca")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "1", "-extfile", "san.ext")  # fmt: skip
    passwords = directory / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "netpoll", "s3cret"], check=True, capture_output=True
    )
    passwords.chmod(0o600)


async def test_tls_and_password(
    tmp_path: Path, mosquitto_factory: Callable[..., MqttBroker], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="netpoll")
    if shutil.which("openssl") is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("needs openssl and mosquitto_passwd (Debian packages openssl, mosquitto)")
    await asyncio.to_thread(_make_certs, tmp_path)
    passwords = tmp_path / "passwords"
    tls_port = free_port("tcp")
    broker = mosquitto_factory(
        extra_config="\n".join(
            [
                f"password_file {passwords}",
                f"listener {tls_port} 127.0.0.1",
                f"cafile {tmp_path / 'ca.crt'}",
                f"certfile {tmp_path / 'server.crt'}",
                f"keyfile {tmp_path / 'server.key'}",
            ]
        )
    )
    engine = AlertEngine(RULES)
    (alert,) = engine.evaluate([snmp("r1", 0, 1)])
    good = MqttConfig(
        host="127.0.0.1",
        port=tls_port,
        tls=TlsConfig(ca_file=tmp_path / "ca.crt"),
        username="netpoll",
        password=SecretStr("s3cret"),
        topic_prefix="np-tls",
        instance="tls",
    )
    seen: list[tuple[str, bytes]] = []
    async with aiomqtt.Client(broker.host, broker.port, username="netpoll", password="s3cret") as sub:
        await sub.subscribe("np-tls/alerts/#", qos=1)
        collector = asyncio.create_task(collect(sub, seen))
        async with fast(good) as publisher:
            publisher.publish(alert)
            await publisher.wait_idle(15)
        await wait_for(lambda: len(seen) == 1)
        collector.cancel()
    assert json.loads(seen[0][1])["id"] == alert.id

    # Wrong password, unknown CA: no connection, counted failures, the alert stays queued.
    for bad in (
        good.model_copy(update={"password": SecretStr("wrong")}),
        good.model_copy(update={"tls": TlsConfig()}),  # system CAs do not know the test CA
    ):
        publisher = MqttPublisher(bad, backoff_base=0.05, backoff_cap=0.2, drain_timeout=0.2)
        async with publisher:
            publisher.publish(alert)
            await wait_for(lambda p=publisher: p.connect_failures >= 2)  # type: ignore[misc]
            assert not publisher.connected
            assert publisher.queued == 1

    # insecure skips the verification (tests and labs only).
    async with fast(good.model_copy(update={"tls": TlsConfig(insecure=True)})) as publisher:
        await publisher.wait_connected(15)
    # Connected, refused and failed alike: the password is in no log line and not in the options' repr.
    assert "s3cret" not in caplog.text
    assert "s3cret" not in repr(good)


KILLED_PUBLISHER_SCRIPT = """
import asyncio, sys, time
from netpoll.alerts.alert import Alert, new_alert_id
from netpoll.config import MqttConfig
from netpoll.outputs.mqtt.publisher import MqttPublisher

async def main():
    opts = MqttConfig(host="127.0.0.1", port=int(sys.argv[1]), topic_prefix=sys.argv[2], instance="killed")
    async with MqttPublisher(opts, queue_path=sys.argv[3], backoff_base=0.05, backoff_cap=0.2) as publisher:
        now = time.time_ns()
        for n in range(3):
            alert = Alert(new_alert_id(), "breach", "cpu", "warning", f"r{n}", "", "snmp", "cpu_pct",
                          95.0, 90, 80, now, now)
            publisher.publish(alert)
            print(alert.id, flush=True)
        print("queued", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_queue_journal_survives_sigkill(tmp_path: Path, mosquitto: MqttBroker) -> None:
    # The broker is unreachable while the publisher queues three alerts; it is killed; a new publisher on
    # the same journal, with the broker back, publishes them in order.
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    journal = tmp_path / "state" / "mqtt-queue.jsonl"
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILLED_PUBLISHER_SCRIPT,
        str(holder.getsockname()[1]),
        prefix,
        str(journal),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "queued":
            lines.append((await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip())
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        holder.close()
    ids = lines[:-1]
    assert len(ids) == 3

    seen: list[tuple[str, bytes]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as sub:
        await sub.subscribe(f"{prefix}/alerts/#", qos=1)
        collector = asyncio.create_task(collect(sub, seen))
        publisher = MqttPublisher(options(mosquitto, prefix), queue_path=journal, backoff_base=0.05)
        async with publisher:
            await publisher.wait_idle(15)
        await wait_for(lambda: len(seen) == 3)
        collector.cancel()
    assert [json.loads(payload)["id"] for _, payload in seen] == ids
    reopened = MqttPublisher(options(mosquitto, prefix), queue_path=journal)
    async with reopened:
        assert reopened.queued == 0  # all acknowledged: nothing comes back a second time


async def test_reconnects_are_paced_through_shutdown_and_the_drain_is_bounded() -> None:
    # A local listener that accepts and closes at once stands in for a broker that is down; it counts the
    # connection attempts. Before and during the shutdown drain they must follow the backoff: attempt n
    # comes at least half of min(cap, base * 2^n) after the one before (no tight loop once stopping).
    attempts: list[float] = []
    loop = asyncio.get_running_loop()

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append(loop.time())
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    base, cap, drain = 0.1, 0.8, 2.0
    publisher = MqttPublisher(
        MqttConfig(host="127.0.0.1", port=port, topic_prefix="np", instance="paced"),
        backoff_base=base,
        backoff_cap=cap,
        drain_timeout=drain,
        publish_timeout=2,
    )
    engine = AlertEngine(RULES)
    async with server:
        async with publisher:
            for alert in engine.evaluate([snmp("r1", 0, 1)]):
                publisher.publish(alert)
            await asyncio.sleep(1.5)
            stopping = loop.time()
        stopped = loop.time()
    assert stopped - stopping <= drain + 3.0, "the drain is bounded by drain_timeout (+1 s, +2 s for load)"
    during_drain = [t for t in attempts if t >= stopping]
    assert during_drain, "the drain kept trying"
    for n, (before, after) in enumerate(itertools.pairwise(attempts)):
        assert after - before >= min(cap, base * 2**n) / 2 - 0.02, (n, after - before)
    # 3.5 s of base 0.1 / cap 0.8 allow at most a dozen attempts; the old drain made thousands.
    assert len(attempts) <= 12, len(attempts)
    assert publisher.queued == 1


async def test_refused_publishes_are_logged_once_per_topic_and_counted(
    tmp_path: Path, mosquitto_factory: Callable[..., MqttBroker], caplog: pytest.LogCaptureFixture
) -> None:
    """A broker whose ACL denies the alert topics: MQTT 5 sees each refusal (PUBACK 0x87), 3.1.1 cannot."""
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite np/status/#\ntopic read np/alerts/#\n")
    broker = mosquitto_factory(extra_config=f"acl_file {acl}")
    engine = AlertEngine(RULES)
    alerts = []
    for device in ("r1", "r2"):
        for step, ok in enumerate([1, 0, 0, 0, 1, 1]):  # a breach, then its clear (2 messages)
            alerts += engine.evaluate([snmp(device, ok, step)])
    assert len(alerts) == 4
    results = {}
    for protocol in ("auto", "3.1.1"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, "netpoll.outputs.mqtt"):
            async with fast(options(broker, "np", protocol=protocol)) as publisher:
                for alert in alerts:
                    publisher.publish(alert)
                await publisher.wait_idle(10)
                results[protocol] = publisher.stats()
        refusals = [r.getMessage() for r in caplog.records if "refused a publish" in r.getMessage()]
        results[protocol]["log_lines"] = len(refusals)
        if protocol == "auto":
            assert sorted(line.split()[6].rstrip(":") for line in refusals) == [
                "np/alerts/r1/snmp_unreachable",
                "np/alerts/r2/snmp_unreachable",
            ]
            assert "Not authorized (reason code 135)" in refusals[0]
    # MQTT 5: all 4 alerts (6 messages) refused, one log line per topic; 3.1.1: all look published
    assert {k: results["auto"][k] for k in ("published", "refused", "queued", "log_lines")} == {
        "published": 0, "refused": 4, "queued": 0, "log_lines": 2,
    }  # fmt: skip
    assert {k: results["3.1.1"][k] for k in ("published", "refused", "queued", "log_lines")} == {
        "published": 4, "refused": 0, "queued": 0, "log_lines": 0,
    }  # fmt: skip
