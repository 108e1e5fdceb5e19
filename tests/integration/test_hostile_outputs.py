"""Outputs that a hostile device's data must not block: the MQTT queue and InfluxDB batches.

- A message the broker refuses (here: a raw control character in its topic, which Mosquitto answers by
  dropping the connection) is set aside after MAX_ATTEMPTS connections broke on it, journaled as refused, not
  replayed after a restart; the healthy alert queued behind it reaches the broker.
- A stand-in InfluxDB that refuses whole batches for one bad line loses only the bad lines; InfluxDB 1.x's
  partial write is read as such.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from netpoll.alerts.alert import Alert
from netpoll.config import InfluxConfig, MqttConfig
from netpoll.outputs.influxdb.writer import InfluxWriter
from netpoll.outputs.mqtt.journal import Outgoing, QueueJournal
from netpoll.outputs.mqtt.publisher import MAX_ATTEMPTS, MqttPublisher
from netpoll.sample import Sample

pytestmark = pytest.mark.network


def breach(device: str, entity: str) -> Alert:
    return Alert(
        id=f"{device}-{uuid.uuid4().hex[:6]}",
        state="breach",
        rule="interface_down",
        severity="major",
        device=device,
        entity=entity,
        measurement="interface",
        field="oper_status",
        value=2.0,
        threshold=2,
        clear_threshold=None,
        since_ns=0,
        time_ns=0,
    )


async def test_a_refused_message_is_set_aside_and_the_healthy_breach_arrives(
    mosquitto: Any, tmp_path: Path
) -> None:
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    journal = tmp_path / "mqtt-queue.jsonl"
    config = MqttConfig(host=mosquitto.host, port=mosquitto.port, topic_prefix=prefix, instance="t")
    poison = Outgoing("poison", ((f"{prefix}/alerts/evil/x\x01y", b"{}", False),))  # unescaped: refused
    seen: list[str] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as sub:
        await sub.subscribe(f"{prefix}/alerts/#", qos=1)

        async def collect() -> None:
            async for message in sub.messages:
                seen.append(str(message.topic))

        collector = asyncio.create_task(collect())
        publisher = MqttPublisher(
            config, backoff_base=0.05, backoff_cap=0.2, publish_timeout=2, queue_path=journal
        )
        earlier = QueueJournal(journal)  # queued before a restart (as by a netpoll without topic escaping)
        earlier.open()
        earlier.added(poison)
        earlier.close()
        async with publisher:
            publisher.publish(breach("healthy", "eth0"))
            await publisher.wait_idle(20)
            refused = publisher.refused
        async with asyncio.timeout(10):
            while not any("/healthy/" in topic for topic in seen):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        collector.cancel()
    assert refused == 1
    assert "!poison" in journal.read_text()
    # After a restart the journal replays nothing: the refused message is not pending.
    replay = QueueJournal(journal)
    assert replay.open() == []
    replay.close()
    assert MAX_ATTEMPTS == 3


class _Refusing(BaseHTTPRequestHandler):
    """/write of InfluxDB 1.x that refuses a whole batch when any line holds ``BAD`` (as some servers do)."""

    accepted: list[bytes] = []
    requests = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).requests += 1
        lines = [line for line in body.split(b"\n") if line]
        if any(b"BAD" in line for line in lines):
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error":"unable to parse a line"}')
            return
        type(self).accepted += lines
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(204)
        self.send_header("X-Influxdb-Version", "1.8.10")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_server_refusing_whole_batches_loses_only_the_bad_lines(
    refusing_server: str, tmp_path: Path
) -> None:
    _Refusing.accepted, _Refusing.requests = [], 0
    samples = [
        Sample(
            "snmp", {"device": f"d{i}"}, {"poll_ok": 1, "note": "BAD" if i in (3, 17) else "ok"}, 10**18 + i
        )
        for i in range(20)
    ]
    config = InfluxConfig(
        url=refusing_server, api="v1", database="netpoll", flush_interval_s=0.2, batch_size=1000
    )
    async with InfluxWriter(config, spool_dir=tmp_path / "spool") as writer:
        writer.write(samples)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if writer.points_written + writer.points_dropped >= 20:
                break
        written, dropped = writer.points_written, writer.points_dropped
    stored = {line.split(b" ")[0].split(b"device=")[1] for line in _Refusing.accepted}
    assert stored == {f"d{i}".encode() for i in range(20) if i not in (3, 17)}
    assert (written, dropped) == (18, 2)
    print(f"20 points, 2 bad: {written} written, {dropped} dropped, in {_Refusing.requests} writes")


async def test_influxdb1_partial_write_is_not_a_whole_batch_drop(influxdb1: Any, tmp_path: Path) -> None:
    influxdb1.create_database("partial")
    good = [Sample("snmp", {"device": f"d{i}"}, {"poll_ok": 1}, 10**18 + i) for i in range(10)]
    config = InfluxConfig(url=influxdb1.url, api="v1", database="partial", flush_interval_s=0.2)
    async with InfluxWriter(config, spool_dir=tmp_path / "spool") as writer:
        lines = [s.to_line_protocol() for s in good]
        writer._enqueue([*lines, 'snmp,device=broken poll_ok="text" 1000000000000000099'])  # type conflict
        for _ in range(100):
            await asyncio.sleep(0.05)
            if writer.points_written + writer.points_dropped >= 11:
                break
        written, dropped = writer.points_written, writer.points_dropped
    rows = influxdb1.query("partial", 'SELECT count("poll_ok") FROM "snmp"')["results"][0]["series"][0][
        "values"
    ]
    assert rows[0][1] == 10
    assert (written, dropped) == (10, 1)
