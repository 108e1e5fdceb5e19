"""Inventory reload while `netpoll run` polls: devices added, removed and changed within one interval,
counter state of unchanged devices kept (rates on the very next poll), a broken edit (a typo'd key, an
unknown SNMP profile) rejected and logged with the `netpoll check` message while polling goes on, SIGHUP
reloads too."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netpoll.demo.simulator import Simulator
from tests.harness.daemon import start_daemon, stop_daemon
from tests.harness.demo_sim import demo_simulator, running
from tests.harness.waits import wait_until as wait_for

pytestmark = [pytest.mark.network, pytest.mark.slow]

INTERVAL = 2.0
SNMP_A = "127.0.0.51"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with running(demo_simulator(tmp_path_factory.mktemp("reload-sim"), [SNMP_A], INTERVAL)) as simulator:
        yield simulator


def inventory(port: int, devices: dict[str, str], tags: dict[str, str] | None = None) -> str:
    lines = [
        "defaults:",
        f"  snmp: {{interval_s: {INTERVAL}, timeout_s: 1, enabled: false, port: {port}}}",
        f"  ping: {{interval_s: {INTERVAL}, count: 1, timeout_s: 0.5}}",
        "credentials:",
        "  sim: {version: 2c, community_file: community}",
        "devices:",
        f"  - {{name: dev-a, address: {SNMP_A}, snmp: {{enabled: true, credentials: sim}}}}",
    ]
    for name, address in devices.items():
        extra = f", tags: {{rack: {tags[name]}}}" if tags and name in tags else ""
        lines.append(f"  - {{name: {name}, address: {address}{extra}}}")
    return "\n".join(lines) + "\n"


def read_points(data_dir: Path) -> list[tuple[str, dict[str, str], str, float]]:
    """(measurement, tags, fields text, time s) of every line written so far."""
    points = []
    for path in sorted(data_dir.glob("netpoll-*.lp")):
        for line in path.read_text().splitlines():
            # head = up to the first unescaped space; the timestamp is after the last space (string fields
            # such as an alert's message may hold spaces in between)
            try:
                head, rest = re.split(r"(?<!\\) ", line, maxsplit=1)
                fields, stamp = rest.rsplit(" ", 1)
                measurement, *pairs = re.split(r"(?<!\\),", head)
                tags = dict(pair.split("=", 1) for pair in pairs)
                points.append((measurement, tags, fields, int(stamp) / 1e9))
            except ValueError:  # a line being written right now
                continue
    return points


def device_points(points: list, device: str, measurement: str, after: float) -> list:
    return [p for p in points if p[0] == measurement and p[1].get("device") == device and p[3] > after]


def hostile_edits(inv: Path, tmp_path: Path, log_path: Path, data: Path) -> None:
    """Issue 16: hostile edits are each refused in one line, nothing is sent, polling stays on time."""
    good = inv.read_text()
    started = time.time()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.57", 0))
        listener.setblocking(False)
        leak = (
            "  leak: {version: 2c, community: '${NETPOLL_INFLUXDB__TOKEN}'}\n"
            "  environ: {version: 2c, community_file: /proc/self/environ}\n"
        )
        port = listener.getsockname()[1]
        hostile = good.replace("credentials:\n", "credentials:\n" + leak).replace(
            "devices:\n",
            "devices:\n"
            f"  - {{name: leak, address: '127.0.0.57:{port}', snmp: {{enabled: true, credentials: leak}}}}\n"
            f"  - {{name: env, address: '127.0.0.58:{port}',"
            " snmp: {enabled: true, credentials: environ}}\n",
        )
        laughs = ["a0: &a0 [lol]"] + [
            f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)
        ]
        edits = [
            (hostile, "daemon's own configuration secrets"),
            ("\n".join(laughs) + "\n" + good, "once its aliases (*name) are expanded"),
            (None, "is a FIFO"),
        ]
        for text, message in edits:
            inv.unlink()
            if text is None:
                os.mkfifo(inv)
            else:
                inv.write_text(text)
            assert wait_for(lambda message=message: message in log_path.read_text(), 8), message
        time.sleep(INTERVAL)
        with pytest.raises(BlockingIOError):
            listener.recvfrom(65536)  # nothing was sent to the hostile inventory's devices
    inv.unlink()
    inv.write_text(good)
    log = log_path.read_text()
    assert re.search(r"community_file /proc/self/environ.*: secrets are never read from /proc", log)
    assert "Traceback" not in log
    # the healthy devices were polled all along: no gap of three intervals (room for a late poll)
    times = sorted(p[3] for p in device_points(read_points(data), "dev-b", "ping", started))
    gaps = [b - a for a, b in zip([started, *times], times, strict=False)]
    assert times
    assert max(gaps) < 3 * INTERVAL, gaps


def test_reload_add_remove_change_and_reject(tmp_path: Path, sim: Simulator) -> None:
    (tmp_path / "community").write_text("demo-rtr-edge-1\n")
    inv = tmp_path / "inventory.yaml"
    inv.write_text(inventory(sim.port, {"dev-b": "127.0.0.53", "dev-c": "127.0.0.54"}))
    config = tmp_path / "netpoll.yaml"
    config.write_text("inventories: [inventory.yaml]\ndata_dir: data\nstate_dir: state\n")
    data = tmp_path / "data"
    log_path = tmp_path / "netpoll.log"
    proc = start_daemon(config, tmp_path, log_path)
    try:
        assert wait_for(lambda: len(device_points(read_points(data), "dev-a", "interface", 0)) > 0, 15)
        assert wait_for(lambda: device_points(read_points(data), "dev-c", "ping", 0), 10)

        # add dev-d, remove dev-c, change dev-b (a tag); dev-a unchanged
        changed_at = time.time()
        inv.write_text(
            inventory(sim.port, {"dev-b": "127.0.0.53", "dev-d": "127.0.0.55"}, tags={"dev-b": "r9"})
        )
        # Usually in one interval, plus the 2 s file check and the 1 s file flush; bounded for a busy host.
        assert wait_for(lambda: device_points(read_points(data), "dev-d", "ping", changed_at), 15)
        assert wait_for(
            lambda: any(
                p[1].get("rack") == "r9"
                for p in device_points(read_points(data), "dev-b", "ping", changed_at)
            ),
            15,
        )
        # The reload was applied when dev-d was first polled: dev-c, removed by the same edit, not after that.
        applied = min(p[3] for p in device_points(read_points(data), "dev-d", "ping", changed_at))
        time.sleep(INTERVAL + 1.0)
        points = read_points(data)
        assert not device_points(points, "dev-c", "ping", applied), "removed device still polled"
        # dev-a kept its counter state: every interface point after the reload has rates
        after = device_points(points, "dev-a", "interface", changed_at)
        assert after
        assert all("in_bps=" in p[2] for p in after)

        # a broken edit: rejected with the check message, polling goes on with the running inventory
        broken_at = time.time()
        inv.write_text(inv.read_text().replace("address: 127.0.0.55", "adress: 127.0.0.55"))
        assert wait_for(lambda: "inventory rejected" in log_path.read_text(), 6)
        assert re.search(r"inventory rejected: .*inventory\.yaml:\d+: ", log_path.read_text())
        assert wait_for(lambda: device_points(read_points(data), "dev-d", "ping", broken_at + 3), 8)
        # a profile name only `netpoll check` used to verify: rejected on reload as well
        inv.write_text(inv.read_text().replace("credentials: sim}", "credentials: sim, profile: ciscoo}"))
        assert wait_for(lambda: "unknown SNMP profile 'ciscoo'" in log_path.read_text(), 6)
        assert re.search(
            r"inventory rejected: .*inventory\.yaml:7: device 'dev-a': unknown SNMP profile",
            log_path.read_text(),
        )

        hostile_edits(inv, tmp_path, log_path, data)

        # fixed again, and SIGHUP reloads as well
        inv.write_text(inventory(sim.port, {"dev-b": "127.0.0.53", "dev-e": "127.0.0.56"}))
        proc.send_signal(signal.SIGHUP)
        hup_at = time.time()
        assert wait_for(lambda: device_points(read_points(data), "dev-e", "ping", hup_at), INTERVAL + 4)
        assert "SIGHUP: reloading" in log_path.read_text()
    finally:
        log = stop_daemon(proc, log_path)
    assert "demo-rtr-edge-1" not in log  # the community
