"""The HTTP endpoint under 5,000 idle connections (issue 16): /healthz answers, polling stays on time, a
malformed or oversized request is answered without a traceback."""

from __future__ import annotations

import contextlib
import itertools
import resource
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from tests.harness.daemon import start_daemon, stop_daemon
from tests.harness.ports import free_port
from tests.harness.waits import wait_until as wait_for

pytestmark = [pytest.mark.network]

INTERVAL = 2.0
IDLE = 5000


def ping_times(data: Path, device: str) -> list[float]:
    times = []
    for path in sorted(data.glob("netpoll-*.lp")):
        for line in path.read_text().splitlines():
            if line.startswith("ping,") and f"device={device}" in line:
                with contextlib.suppress(ValueError):
                    times.append(int(line.rsplit(" ", 1)[1]) / 1e9)
    return sorted(times)


def raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_endpoint_under_idle_connections(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE + 1000), hard))
    port = free_port("tcp")
    (tmp_path / "inventory.yaml").write_text(
        "devices:\n"
        f"  - {{name: lo, address: 127.0.0.1, snmp: {{enabled: false}}, ping: {{interval_s: {INTERVAL},"
        " count: 1, timeout_s: 0.5}}\n"
    )
    (tmp_path / "netpoll.yaml").write_text(
        "inventories: [inventory.yaml]\ndata_dir: data\nstate_dir: state\n"
        f"http: {{listen: '127.0.0.1:{port}'}}\n"
    )
    log_path = tmp_path / "netpoll.log"
    proc = start_daemon(tmp_path / "netpoll.yaml", tmp_path, log_path)
    idle: list[socket.socket] = []
    try:
        assert wait_for(lambda: len(ping_times(tmp_path / "data", "lo")) >= 2, 20), log_path.read_text()
        started = time.time()
        for _ in range(IDLE):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            idle.append(sock)
        opened_s = time.time() - started
        asked = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            assert answer.status == 200
        healthz_s = time.monotonic() - asked
        asked = time.monotonic()  # again, the idle sockets still open on this side
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            assert answer.status == 200
        again_s = time.monotonic() - asked
        assert raw(port, b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n").startswith(
            b"HTTP/1.1 431"
        )
        assert raw(port, b"\x00\xff garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
        time.sleep(2 * INTERVAL)
        times = [t for t in ping_times(tmp_path / "data", "lo") if t >= started - INTERVAL]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        print(f"{IDLE} idle connections opened in {opened_s:.1f} s; /healthz in {healthz_s * 1000:.0f} ms"
              f" (then {again_s * 1000:.0f} ms);"
              f" ping gaps {min(gaps):.2f}-{max(gaps):.2f} s")  # fmt: skip
        assert gaps
        assert max(gaps) < 2 * INTERVAL, gaps  # no ping missed while the endpoint was flooded
    finally:
        for sock in idle:
            sock.close()
        log = stop_daemon(proc, log_path)
    assert "the oldest idle ones are closed" in log
