"""Signals from the first line of `netpoll run` to its exit: SIGHUP during start-up, while running, in a storm
of 20 a second for 30 s with a broken inventory, and during shutdown after a SIGTERM. The daemon lives
through all of them, polls on without a gap, logs the broken inventory once, and ends with exit 0 and its
counter state saved."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netpoll.demo.simulator import Simulator
from tests.harness.demo_sim import demo_simulator, running
from tests.integration.test_daemon_reload import read_points, wait_for

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(180)]

INTERVAL = 1.0
SNMP_A = "127.0.0.61"
PEER = "127.0.0.62"
STORM_S = 30.0
STORM_HZ = 20


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with running(demo_simulator(tmp_path_factory.mktemp("signals-sim"), [SNMP_A], INTERVAL)) as simulator:
        yield simulator


def inventory(port: int) -> str:
    return (
        "\n".join(
            [
                "defaults:",
                f"  snmp: {{interval_s: {INTERVAL}, timeout_s: 0.5, port: {port}}}",
                f"  ping: {{interval_s: {INTERVAL}, count: 1, timeout_s: 0.5}}",
                "credentials:",
                "  sim: {version: 2c, community_file: community}",
                "devices:",
                f"  - {{name: dev-a, address: {SNMP_A}, snmp: {{credentials: sim}}}}",
                f"  - {{name: peer, address: {PEER}, snmp: {{enabled: false}}}}",
            ]
        )
        + "\n"
    )


def gaps(stamps: list[float], limit: float) -> list[tuple[float, float]]:
    return [(a, b) for a, b in itertools.pairwise(stamps) if b - a > limit]


def test_sighup_never_kills_and_sigterm_always_saves(tmp_path: Path, sim: Simulator) -> None:
    (tmp_path / "community").write_text("demo-rtr-edge-1\n")
    inv = tmp_path / "inventory.yaml"
    inv.write_text(inventory(sim.port))
    (tmp_path / "netpoll.yaml").write_text(
        "inventories: [inventory.yaml]\ndata_dir: data\nstate_dir: state\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")}
    log_path = tmp_path / "netpoll.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "netpoll", "run", "--config", "netpoll.yaml"],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    log = lambda: log_path.read_text(errors="replace")  # noqa: E731
    try:
        # Start-up: the inventory is loaded, nothing listens for SIGHUP yet in the old code.
        assert wait_for(lambda: "netpoll starting" in log(), 20), log()
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.05)
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "cycle 1:" in log(), 10), log()
        assert proc.poll() is None, log()

        # Running: a SIGHUP reloads.
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: log().count("reloading the inventory") >= 1, 5), log()

        # A broken inventory and a storm of SIGHUPs: alive, polling on, the problem logged once.
        inv.write_text(inv.read_text().replace("address: 127.0.0.62", "adress: 127.0.0.62"))
        storm_end = time.monotonic() + STORM_S
        sent, due = 0, time.monotonic()
        while time.monotonic() < storm_end:
            proc.send_signal(signal.SIGHUP)
            sent += 1
            due += 1 / STORM_HZ  # paced to the clock: a late wake-up is caught up, not lost
            time.sleep(max(0.0, due - time.monotonic()))
        assert proc.poll() is None, log()
        assert sent >= STORM_S * STORM_HZ * 0.8

        # SIGTERM, then SIGHUPs all through the shutdown.
        term_at = time.time()
        proc.send_signal(signal.SIGTERM)
        for _ in range(200):
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.05)
        assert proc.wait(timeout=30) == 0, log()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    text = log()
    assert "Traceback" not in text
    problem_lines = [line for line in text.splitlines() if "inventory rejected:" in line]
    assert len(problem_lines) == 1, problem_lines
    assert "adress" in problem_lines[0]
    reloads = text.count("reloading the inventory")
    assert reloads <= STORM_S * 1.2 + 5, f"{reloads} reloads for {sent} SIGHUPs: not coalesced"
    print(f"figures: {sent} SIGHUPs in the storm, {reloads} reloads, {len(problem_lines)} problem line(s)")
    counters = tmp_path / "state" / "counters.json"
    assert counters.stat().st_mtime >= term_at, "counter state not saved at the end"

    points = read_points(tmp_path / "data")
    for measurement, device in (("snmp", "dev-a"), ("ping", "dev-a"), ("ping", "peer")):
        stamps = sorted(p[3] for p in points if p[0] == measurement and p[1].get("device") == device)
        assert len(stamps) >= STORM_S / INTERVAL, (measurement, device, len(stamps))
        assert not gaps(stamps, 3.5 * INTERVAL), (measurement, device, gaps(stamps, 3.5 * INTERVAL))
        assert stamps[-1] >= term_at - 2 * INTERVAL, (measurement, device, term_at - stamps[-1])
