"""The operator's view of a running daemon, as a person and a Prometheus server see it.

The demo lab (snmpsim on loopback) with one device made to fail (its address moved to one nothing answers
SNMP on), polled by the daemon in this process with its HTTP endpoint on a free port. Debian's chromium,
driven by Playwright, opens the status page: every device is listed, the failing one shows its error, the
filter narrows the list to it and its link opens its page; every request the browser makes stays on
loopback. Then the polls are paused and ``/metrics`` is parsed with prometheus-client's parser: the expected
names (the MQTT publisher's too, connected to a real Mosquitto), ``_total`` counters, no ``_created``, and
``sum(netpoll_polls_total)`` equal to the polls that ran.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netpoll.config import MqttConfig
from netpoll.daemon.app import Daemon, RunSettings
from netpoll.demo.lab import demo_devices, write_lab
from netpoll.demo.simulator import Simulator, free_udp_port
from netpoll.sample import Sample
from tests.harness.process import require_binary

pytestmark = [pytest.mark.network, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROKEN_ADDRESS = "127.0.0.99"  # in the lab's range, but snmpsim does not listen there


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return url.startswith(("data:", "about:"))


def _lab(tmp_path: Path) -> tuple[Path, Path, int, str]:
    port = free_udp_port()
    recordings, inventory = write_lab(tmp_path / "lab", port, 3.0)
    broken = demo_devices()[0]
    text = inventory.read_text()
    assert f"address: {broken.address}\n" in text
    inventory.write_text(text.replace(f"address: {broken.address}\n", f"address: {BROKEN_ADDRESS}\n", 1))
    return recordings, inventory, port, broken.name


class _Polls:
    """Counts the polls that ran, from what they emitted (one snmp or ping record per poll)."""

    def __init__(self, daemon: Daemon) -> None:
        self.count = 0
        self._emit = daemon.emit
        daemon.emit = self  # type: ignore[method-assign]

    def __call__(self, samples: list[Sample]) -> None:
        self.count += sum(1 for s in samples if s.measurement in ("snmp", "ping") and "device" in s.tags)
        self._emit(samples)


async def _until(condition: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
def chromium() -> str:
    return require_binary("/usr/bin/chromium", "the Debian package chromium")


async def test_status_page_and_metrics(tmp_path: Path, chromium: str, mosquitto: Any) -> None:
    from playwright.async_api import Route, async_playwright

    recordings, inventory, port, broken = _lab(tmp_path)
    settings = RunSettings(
        inventories=(inventory,),
        data_dir=tmp_path / "data",
        state_dir=tmp_path / "state",
        http_port=0,
        mqtt=MqttConfig(host=mosquitto.host, port=mosquitto.port, instance="status-page-test"),
        console=False,
        state_save_s=3600,
    )
    devices = demo_devices()
    simulator = Simulator(
        recordings, [d.address for d in devices], port, tmp_path / "lab", devices[1].community
    )
    async with simulator:
        daemon = Daemon(settings)
        polls = _Polls(daemon)
        task = asyncio.create_task(daemon.run())
        try:
            await _until(
                lambda: daemon.http_url and all(d["state"] != "pending" for d in daemon.board.devices()),
                "every device polled",
            )
            url = daemon.http_url
            assert url is not None
            names = {d["name"] for d in daemon.board.devices()}
            left: list[str] = []
            seen: list[str] = []
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = await browser.new_page()

                async def guard(route: Route) -> None:
                    seen.append(route.request.url)
                    if _loopback(route.request.url):
                        await route.continue_()
                    else:
                        left.append(route.request.url)
                        await route.abort()

                await page.route("**/*", guard)
                await page.goto(url)
                shown = await page.locator("#devices tbody tr").evaluate_all(
                    "rows => rows.map(r => r.dataset.device)"
                )
                assert set(shown) == names
                row = page.locator(f'#devices tr[data-device="{broken}"]')
                assert await row.locator("td.state").inner_text() == "failing"
                error = await row.locator("td.error").inner_text()
                assert error.startswith("snmp: "), error
                await page.screenshot(path=str(tmp_path / "status.png"), full_page=True)

                await page.fill('input[name="q"]', broken)
                await page.select_option('select[name="state"]', "failing")
                await page.click('button[type="submit"]')
                await page.wait_for_url("**/?q=*")
                shown = await page.locator("#devices tbody tr").evaluate_all(
                    "rows => rows.map(r => r.dataset.device)"
                )
                assert shown == [broken]

                await page.click(f'#devices a:text-is("{broken}")')
                await page.wait_for_url(f"**/device/{broken}")
                assert broken in await page.locator("h1").inner_text()
                assert error.removeprefix("snmp: ") in await page.locator("#error").inner_text()
                assert await page.locator("h2", has_text="Recent polls").count() == 1
                await page.screenshot(path=str(tmp_path / "device.png"), full_page=True)
                await browser.close()
            assert left == [], f"requests left loopback: {left}"
            assert len(seen) >= 3  # the guard saw the page loads (index, filtered index, device page)

            # Hold the polls, so that the scrape and the count see the same ones.
            scheduler = daemon._scheduler
            assert scheduler is not None
            scheduler._scheduler.pause()
            await _until(lambda: scheduler.in_flight == 0, "polls in flight to end")
            text = await asyncio.to_thread(lambda: urllib.request.urlopen(url + "metrics", timeout=5).read())
        finally:
            daemon.stop_event.set()
            assert await asyncio.wait_for(task, 30) == 0
    _check_metrics(text.decode(), polls.count, names, broken)


def _check_metrics(text: str, polls: int, names: set[str], broken: str) -> None:
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert "_created" not in text
    for name in (
        "netpoll_polls", "netpoll_polls_late", "netpoll_polls_skipped", "netpoll_points_written",
        "netpoll_points_dropped", "netpoll_mqtt_published", "netpoll_mqtt_dropped",
    ):  # fmt: skip
        assert families[name].type == "counter", name
        assert {s.name for s in families[name].samples} == {name + "_total"}, name
    assert sum(s.value for s in families["netpoll_polls"].samples) == polls > 0
    up = {(s.labels["device"], s.labels["kind"]): s.value for s in families["netpoll_device_up"].samples}
    assert up[(broken, "snmp")] == 0.0
    assert up[(broken, "ping")] == 1.0  # the address answers ping; only SNMP is broken
    assert {device for device, _kind in up} == names
    success = families["netpoll_device_last_success_timestamp_seconds"].samples
    assert (broken, "snmp") not in {(s.labels["device"], s.labels["kind"]) for s in success}
    assert families["netpoll_build_info"].samples[0].labels["version"]
    # The alert publisher, connected to a real broker: the failing device's breach went out over MQTT.
    assert families["netpoll_mqtt_connected"].samples[0].value == 1.0
    assert families["netpoll_mqtt_queued"].type == "gauge"
    assert families["netpoll_mqtt_published"].samples[0].value >= 0
    for standard in ("process_cpu_seconds", "process_resident_memory_bytes", "python_info"):
        assert standard in families, standard
