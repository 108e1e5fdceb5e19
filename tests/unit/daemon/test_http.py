"""Routes of the daemon's HTTP endpoint: status page (filter, sort, device page), JSON API, metrics; the
endpoint's own thread answering health while the daemon's event loop is blocked."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from netpoll.daemon.http import HttpEndpoint, Routes
from netpoll.daemon.scheduler import CycleStats
from netpoll.daemon.selfmon import SelfMonitor
from netpoll.daemon.status import StatusBoard
from netpoll.inventory.models import Device
from netpoll.probe import ProbeResult
from netpoll.sample import Sample

LONG = "core-router-with-a-rather-long-name.dc1.example"


def _routes() -> Routes:
    board = StatusBoard()
    devices = [
        Device(name="edge-1", address="127.0.0.11", site="ams", role="router"),
        Device(name=LONG, address="::1", site="fra", role="router"),
        Device(name="sw <1>", address="127.0.0.13", site="ams", role="switch"),
        Device(name="old", address="127.0.0.14", enabled=False),
    ]
    board.set_inventory(devices, ["edge-1", LONG, "sw <1>"])
    board.poll_done(
        "snmp", "edge-1", ProbeResult(True, [Sample("snmp", {}, {"poll_ok": 1}, 1)], None, 0.0123)
    )
    error = "no response within 2 s x 2 tries"
    fields = {"poll_ok": 0, "error": error}
    board.poll_done("snmp", LONG, ProbeResult(False, [Sample("snmp", {}, fields, 1)], error, 4.01))
    monitor = SelfMonitor("poller-1", "0/1")
    monitor.live.board = board
    monitor.live.totals = lambda: CycleStats(polls_ok=5, polls_failed=2, polls_late=1, polls_skipped=3)
    monitor.live.mqtt = lambda: {"queued": 1, "published": 4, "dropped": 0, "connected": 1}
    return Routes(monitor, board)


def _rows(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-device="')[1:]]


def test_index_lists_filters_and_sorts() -> None:
    routes = _routes()
    page = routes.answer("/")
    assert page.status == "200 OK"
    assert page.content_type.startswith("text/html")
    html = page.body.decode()
    assert _rows(html)[:1] == [LONG]  # failing first by default
    assert set(_rows(html)) == {"edge-1", LONG, "sw &lt;1&gt;", "old"}
    assert "no response within 2 s x 2 tries" in html
    assert "<script" not in html
    assert "http://" not in html.replace("http://127", "")
    assert _rows(routes.answer("/?state=failing").body.decode()) == [LONG]
    assert _rows(routes.answer("/?q=AMS").body.decode()) == ["edge-1", "sw &lt;1&gt;"]
    assert _rows(routes.answer("/?q=2+tries").body.decode()) == [LONG]
    assert _rows(routes.answer("/?sort=-name").body.decode()) == ["sw &lt;1&gt;", "old", "edge-1", LONG]
    assert _rows(routes.answer("/?sort=bogus&state=bogus").body.decode())[0] == LONG  # defaults


def test_device_page_and_api() -> None:
    routes = _routes()
    page = routes.answer("/device/sw%20%3C1%3E")
    assert page.status == "200 OK"
    assert "sw &lt;1&gt;" in page.body.decode()
    assert routes.answer("/device/nope").status.startswith("404")
    detail = json.loads(routes.answer(f"/api/devices/{LONG}").body)
    assert detail["state"] == "failing"
    assert detail["probes"]["snmp"]["duration_s"] == 4.01
    overview = json.loads(routes.answer("/api/devices").body)
    assert overview["instance"] == "poller-1"
    assert {d["name"]: d["state"] for d in overview["devices"]} == {
        "edge-1": "ok", LONG: "failing", "sw <1>": "pending", "old": "disabled",
    }  # fmt: skip
    assert routes.answer("/nothing").status.startswith("404")


def test_metrics_as_prometheus_users_expect() -> None:
    text = _routes().answer("/metrics").body.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "netpoll_polls", "netpoll_polls_late", "netpoll_polls_skipped", "netpoll_mqtt_published",
        "netpoll_mqtt_dropped", "netpoll_points_written",
    ):  # fmt: skip
        assert families[name].type == "counter", name
        assert all(s.name == name + "_total" for s in families[name].samples), name
    for name in ("netpoll_mqtt_connected", "netpoll_mqtt_queued", "netpoll_device_up"):
        assert families[name].type == "gauge", name
    assert "_created" not in text
    polls = {s.labels["outcome"]: s.value for s in families["netpoll_polls"].samples}
    assert polls == {"ok": 5.0, "failed": 2.0}  # late and skipped are not outcomes: the sum counts polls
    up = {(s.labels["device"], s.labels["kind"]): s.value for s in families["netpoll_device_up"].samples}
    assert up == {("edge-1", "snmp"): 1.0, (LONG, "snmp"): 0.0}
    success = families["netpoll_device_last_success_timestamp_seconds"].samples
    assert [s.labels["device"] for s in success] == ["edge-1"]
    assert families["netpoll_build_info"].samples[0].labels["version"]
    assert "process_cpu_seconds" in families
    assert "python_info" in families


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    return data


async def test_endpoint_methods() -> None:
    routes = _routes()
    async with HttpEndpoint(routes.monitor, "127.0.0.1", 0, board=routes.board) as endpoint:
        assert endpoint.url == f"http://127.0.0.1:{endpoint.port}/"
        head = await _raw(endpoint.port, b"HEAD / HTTP/1.1\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert head.endswith(b"\r\n\r\n")
        post = await _raw(endpoint.port, b"POST / HTTP/1.1\r\n\r\n")
        assert post.startswith(b"HTTP/1.1 405")
        assert (await _raw(endpoint.port, b"\r\n\r\n")).startswith(b"HTTP/1.1 400")


def _blocking_get(url: str) -> tuple[int, bytes]:
    """A GET that blocks its caller: called from a coroutine, the whole event loop."""
    with urllib.request.urlopen(url, timeout=60) as answer:
        return answer.status, answer.read()


async def test_health_answers_while_the_daemon_loop_is_blocked() -> None:
    # An overloaded poller's loop runs seconds behind; a liveness probe must still get its answer. Here the
    # loop is blocked outright, by these very requests made synchronously from it: /healthz and /api/status
    # come from the endpoint's thread (a server on this loop could never answer them).
    routes = _routes()
    routes.monitor.running = True
    assert routes.board is not None
    board_read_in: list[str] = []
    devices = routes.board.devices

    def devices_noting_thread() -> list[dict[str, Any]]:
        board_read_in.append(threading.current_thread().name)
        return devices()

    routes.board.devices = devices_noting_thread  # type: ignore[method-assign]
    async with HttpEndpoint(routes.monitor, "127.0.0.1", 0, board=routes.board) as endpoint:
        assert _blocking_get(f"{endpoint.url}healthz") == (200, b"ok\n")
        code, body = _blocking_get(f"{endpoint.url}api/status")
        status = json.loads(body)
        assert code == 200
        assert (status["healthy"], status["health"], status["instance"]) == (True, "ok", "poller-1")
        # The status board is read where it is written, on the daemon's loop, once that runs again.
        devices_page = await _raw(endpoint.port, b"GET /api/devices HTTP/1.1\r\n\r\n")
        assert devices_page.startswith(b"HTTP/1.1 200 OK")
    assert board_read_in == [threading.current_thread().name]
