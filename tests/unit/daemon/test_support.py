"""Daemon support parts: state files, self-monitoring (record, /metrics, /healthz), reload, log format."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from netpoll.atomic_file import write_atomic
from netpoll.daemon.http import HttpEndpoint
from netpoll.daemon.looplag import LagFigures
from netpoll.daemon.reload import InventoryWatcher, file_signature
from netpoll.daemon.scheduler import CycleStats
from netpoll.daemon.selfmon import SelfMonitor, SinkFigures
from netpoll.daemon.state import StateStore, encode_in_steps, encode_json, load_json
from netpoll.errors import ConfigError, NetpollError
from netpoll.inventory.models import Device, Inventory
from netpoll.logging_setup import JsonFormatter, TextFormatter, _RedactSecrets


async def test_state_roundtrip_and_bad_files(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    assert store.load_counters() == {}
    await store.save_counters({"version": 1}, iter([("r1", {"uptime": 5})]))
    assert store.load_counters() == {"version": 1, "devices": {"r1": {"uptime": 5}}}
    assert not list((tmp_path / "state").glob(".*tmp"))
    (tmp_path / "state" / "counters.json").write_text("{broken")
    assert store.load_counters() == {}
    write_atomic(tmp_path / "x.json", encode_json([1, 2]))
    assert load_json(tmp_path / "x.json") == [1, 2]


@pytest.mark.parametrize(
    ("head", "entries"),
    [
        ({"version": 1}, [("r1", {"uptime": 5, "ifs": [[1, "a\\"]]}), ('r"2', None), ("ü", [])]),
        ({"version": 1}, []),
        ({}, [("r1", 1.5)]),
    ],
)
async def test_state_encoded_in_steps_is_the_same_json(
    head: dict[str, int], entries: list[tuple[str, object]]
) -> None:
    ran_between: list[int] = []

    async def loop_runs() -> None:
        while True:
            ran_between.append(1)
            await asyncio.sleep(0)

    other = asyncio.create_task(loop_runs())
    await asyncio.sleep(0)
    pieces: list[bytes] = []
    await encode_in_steps(head, "devices", iter(entries), pieces.append, step_s=0.0)
    other.cancel()
    assert b"".join(pieces) == encode_json({**head, "devices": dict(entries)})
    # With step_s=0 the loop runs after every entry: the other task ran once before, then once per entry;
    # each entry's piece was written before the loop ran (the document is never held whole).
    assert len(ran_between) == 1 + len(entries)
    assert len(pieces) == 1 + len(entries)


async def test_state_encoding_gives_up_at_its_deadline() -> None:
    import time

    entries = ((f"dev{i}", {"counters": list(range(20))}) for i in range(10))
    with pytest.raises(TimeoutError):
        await encode_in_steps(
            {"version": 1}, "devices", entries, [].append, step_s=0.0, deadline=time.monotonic()
        )


@pytest.mark.parametrize(
    ("entries", "deadline", "error"),
    [
        pytest.param([("r2", {"uptime": 6}), ("r3", {"uptime": 7})], 0.0, TimeoutError, id="deadline passed"),
        pytest.param([("r2", {"uptime": 6}), ("r3", {1, 2})], None, TypeError, id="not JSON"),
    ],
)
async def test_counter_state_replaces_the_saved_one_only_once_complete(
    tmp_path: Path, entries: list[tuple[str, object]], deadline: float | None, error: type[Exception]
) -> None:
    store = StateStore(tmp_path / "state")
    await store.save_counters({"version": 1}, iter([("r1", {"uptime": 5})]))
    with pytest.raises(error):
        await store.save_counters({"version": 1}, iter(entries), deadline=deadline, step_s=0.0)
    assert store.load_counters() == {"version": 1, "devices": {"r1": {"uptime": 5}}}
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["counters.json"]


async def test_counter_state_that_cannot_be_written_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "state").write_text("a file where the directory should be")
    await StateStore(tmp_path / "state").save_counters({"version": 1}, iter([("r1", {"uptime": 5})]))
    assert "cannot save counter state" in caplog.text


def test_cycle_sample_fields() -> None:
    monitor = SelfMonitor("poller1", "0/1")
    cycle = CycleStats(polls_ok=5, polls_failed=1, polls_skipped=2, polls_late=1, poll_lag_ms_max=12.5)
    first = monitor.cycle_sample(cycle, SinkFigures(3, 100, 4.5, 1000), devices=4)
    second = monitor.cycle_sample(CycleStats(), SinkFigures(0, 0, 1.0, 1500), devices=4)
    assert first.measurement == "netpoll"
    assert dict(first.tags) == {"instance": "poller1", "shard": "0/1"}
    assert first.fields["polls_ok"] == 5
    assert first.fields["polls_skipped"] == 2
    assert first.fields["points_written"] == 1000
    assert second.fields["points_written"] == 500  # per cycle, not cumulative
    assert set(first.fields) >= {
        "polls_ok", "polls_failed", "polls_skipped", "poll_lag_ms", "queue_size", "spool_bytes",
        "write_latency_ms", "points_written",
    }  # fmt: skip
    assert "alerts_queued" not in first.fields  # no MQTT publisher, no MQTT fields


def test_cycle_sample_carries_the_mqtt_publisher_counters() -> None:
    monitor = SelfMonitor("poller1", "0/1")
    mqtt = {"queued": 2, "published": 7, "dropped": 1, "enqueued": 10, "connects": 1,
            "connect_failures": 3, "connected": 0}  # fmt: skip
    sample = monitor.cycle_sample(CycleStats(), SinkFigures(0, 0, 1.0, 10), devices=1, mqtt=mqtt)
    assert {k: sample.fields[k] for k in ("alerts_queued", "alerts_published", "alerts_dropped")} == {
        "alerts_queued": 2, "alerts_published": 7, "alerts_dropped": 1,
    }  # fmt: skip
    assert sample.fields["mqtt_connected"] == 0
    assert b"netpoll_mqtt" not in generate_latest(monitor.registry)  # /metrics reads the publisher live
    monitor.live.mqtt = lambda: mqtt
    exposed = generate_latest(monitor.registry)
    assert b"netpoll_mqtt_queued 2.0" in exposed
    assert b"netpoll_mqtt_published_total 7.0" in exposed


async def _get(port: int, path: str) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = (await reader.read()).decode()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition("\r\n\r\n")
    return head.split("\r\n")[0], body


async def test_http_endpoint() -> None:
    monitor = SelfMonitor("poller1", "0/1")
    async with HttpEndpoint(monitor, "127.0.0.1", 0) as endpoint:
        status, body = await _get(endpoint.port, "/healthz")
        assert status.startswith("HTTP/1.1 503")
        monitor.running = True
        monitor.cycle_sample(CycleStats(polls_ok=3), SinkFigures(0, 0, 1.0, 10), devices=1)
        monitor.live.totals = lambda: CycleStats(polls_ok=3)
        status, body = await _get(endpoint.port, "/healthz")
        assert (status, body) == ("HTTP/1.1 200 OK", "ok\n")
        monitor.cycle_sample(CycleStats(), SinkFigures(0, 0, 1.0, 10, points_dropped=7), devices=1)
        status, body = await _get(endpoint.port, "/metrics")
        assert status == "HTTP/1.1 200 OK"
        assert 'netpoll_polls_total{outcome="ok"} 3.0' in body
        assert "netpoll_points_dropped_total 7.0" in body
        status, _ = await _get(endpoint.port, "/nope")
        assert status.startswith("HTTP/1.1 404")


async def test_healthz_is_degraded_while_polls_are_overloaded() -> None:
    monitor = SelfMonitor("poller1", "0/1")
    monitor.running = True
    cycle = CycleStats(polls_ok=90, polls_failed=2, polls_skipped=3, polls_overloaded=8)
    cycle.overloaded.update(slot_wait=5, skipped=3)
    cycle.start_lags_ms.extend([10.0] * 90 + [40_000.0] * 2)
    record = monitor.cycle_sample(cycle, SinkFigures(0, 0, 1.0, 10), devices=50, loop=LagFigures(0.25, 1.5))
    counts = ("polls_overloaded", "overloaded_slot_wait", "overloaded_loop_lag")
    assert [record.fields[k] for k in counts] == [8, 5, 0]
    assert (record.fields["loop_lag_p99_ms"], record.fields["loop_lag_max_ms"]) == (250.0, 1500.0)
    assert record.fields["poll_lag_p99_ms"] == 40_000.0
    monitor.live.totals = lambda: cycle
    async with HttpEndpoint(monitor, "127.0.0.1", 0) as endpoint:
        status, body = await _get(endpoint.port, "/healthz")
        # Still 200: a liveness probe must not restart a busy poller; the body says degraded and why.
        assert status == "HTTP/1.1 200 OK"
        assert body.startswith(
            "degraded: 8 of 100 polls overloaded in the last cycle (slot_wait 5, skipped 3,"
        )
        assert "poll start lag p99 40.0 s, event-loop lag p99 250 ms" in body
        assert "shard the inventory" in body
        _, metrics = await _get(endpoint.port, "/metrics")
        assert 'netpoll_polls_overloaded_total{reason="slot_wait"} 5.0' in metrics
        assert "netpoll_event_loop_lag_p99_seconds 0.25" in metrics
        assert "netpoll_overloaded_polls_last_cycle 8.0" in metrics
        _, status_json = await _get(endpoint.port, "/api/status")
        status_doc = json.loads(status_json)
        assert status_doc["healthy"] is True
        assert status_doc["health"] == body.strip()
        assert status_doc["last_cycle"]["polls_overloaded"] == 8
        monitor.cycle_sample(CycleStats(polls_ok=100), SinkFigures(0, 0, 1.0, 10), devices=50)
        assert await _get(endpoint.port, "/healthz") == ("HTTP/1.1 200 OK", "ok\n")


@pytest.mark.parametrize(
    ("due", "late", "degraded"),
    [
        (100, 9, False),  # a few late polls (a stall, a reload): not the poller's capacity
        (100, 10, True),
        (20_000, 1_999, False),  # under a tenth
        (20_000, 2_000, True),
        (9, 9, False),  # a small fleet: fewer than 10 late polls never degrade it
    ],
)
def test_healthz_is_degraded_when_many_polls_start_late(due: int, late: int, degraded: bool) -> None:
    monitor = SelfMonitor("poller1", "0/1")
    monitor.running = True
    cycle = CycleStats(polls_ok=due, polls_late=late)
    cycle.start_lags_ms.extend([10.0] * (due - late) + [9_000.0] * late)
    monitor.cycle_sample(cycle, SinkFigures(0, 0, 1.0, 10), devices=due, loop=LagFigures(0.4, 1.0))
    healthy, text = monitor.health()
    assert healthy
    if not degraded:
        assert text == "ok"
        return
    assert text.startswith(f"degraded: {late} of {due} polls started late in the last cycle (none lost); ")
    assert "poll start lag p99 9.0 s, event-loop lag p99 400 ms" in text
    assert "shard the inventory" in text


async def test_http_endpoint_port_taken_is_one_line_error() -> None:
    monitor = SelfMonitor("poller1", "0/1")
    async with HttpEndpoint(monitor, "127.0.0.1", 0) as first:
        with pytest.raises(NetpollError, match=r"cannot serve /metrics on 127\.0\.0\.1:\d+: .*http\.listen"):
            await HttpEndpoint(monitor, "127.0.0.1", first.port).__aenter__()


def test_file_signature_sees_edits_and_new_files(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("devices: []\n")
    before = file_signature([tmp_path])
    inv.write_text("devices: [] # changed\n")
    assert file_signature([tmp_path]) != before
    middle = file_signature([tmp_path])
    (tmp_path / "more.yaml").write_text("x")
    assert file_signature([tmp_path]) != middle


async def test_reload_rejects_broken_inventory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    applied: list[Inventory] = []
    good = Inventory(devices=(Device(name="r1", address="127.0.0.1"),))
    outcome: list[object] = [ConfigError(["inv.yaml:3: device 'r1': unknown key 'adress'"])]

    def loader(paths: object) -> Inventory:
        result = outcome[0]
        if isinstance(result, Exception):
            raise result
        return good

    watcher = InventoryWatcher([tmp_path], loader, applied.append, poll_s=60)
    with caplog.at_level(logging.ERROR):
        assert await watcher.reload() is False
    assert "inventory rejected: inv.yaml:3: device 'r1': unknown key 'adress'" in caplog.text
    assert applied == []
    outcome[0] = None
    assert await watcher.reload() is True
    assert applied == [good]


async def test_watcher_survives_an_apply_that_fails(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inventory = Inventory(devices=(Device(name="r1", address="127.0.0.1"),))
    calls: list[Inventory] = []

    applied = asyncio.Event()

    def apply(new: Inventory) -> None:
        calls.append(new)
        applied.set()  # the watcher counts the outcome before it next yields to the loop
        if len(calls) == 1:
            raise RuntimeError("bug in apply")

    async with InventoryWatcher([tmp_path], lambda _: inventory, apply, poll_s=60) as watcher:
        with caplog.at_level(logging.ERROR):
            watcher.trigger()
            await asyncio.wait_for(applied.wait(), 30)  # a bound against a hang, not a timing
        assert watcher.rejected == 1
        assert "could not be applied" in caplog.text
        applied.clear()
        watcher.trigger()  # the watcher task is still alive: the next reload is applied
        await asyncio.wait_for(applied.wait(), 30)
    assert (watcher.rejected, watcher.reloads, len(calls)) == (1, 1, 2)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("netpoll.daemon", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_log_formats_name_the_device_and_mask_secrets() -> None:
    text = TextFormatter().format(_record("poll of %s slow", "r1", device="r1"))
    assert text.endswith(" WARNING netpoll.daemon [r1] poll of r1 slow")
    data = json.loads(JsonFormatter().format(_record("cut", device="r2")))
    assert data["device"] == "r2"
    assert data["level"] == "WARNING"
    assert data["message"] == "cut"
    record = _record("token is %s", "s3cr3t-token")
    _RedactSecrets(["s3cr3t-token"]).filter(record)
    assert record.getMessage() == "token is ***"


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_secrets_are_masked_in_tracebacks(formatter: logging.Formatter) -> None:
    try:
        raise ValueError("login with s3cr3t-token refused")
    except ValueError:
        record = _record("write failed")
        record.exc_info = sys.exc_info()
    _RedactSecrets(["s3cr3t-token"]).filter(record)
    text = formatter.format(record)
    assert "s3cr3t-token" not in text
    assert "login with *** refused" in text


def test_shard_filter_splits_devices(tmp_path: Path) -> None:
    from netpoll.daemon.app import Daemon, RunSettings

    inventory = Inventory(devices=tuple(Device(name=f"r{i}", address="127.0.0.1") for i in range(50)))
    picked = []
    for index in range(3):
        settings = RunSettings(inventories=(), data_dir=tmp_path, state_dir=tmp_path, shard=(index, 3))
        picked.append({d.name for d in Daemon(settings, loader=lambda _: inventory)._select(inventory)})
    assert set().union(*picked) == {f"r{i}" for i in range(50)}
    assert sum(len(p) for p in picked) == 50
    assert all(picked)
