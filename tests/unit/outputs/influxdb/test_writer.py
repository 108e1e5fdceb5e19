"""The InfluxDB writer's delivery rules against a stand-in transport (no server, short intervals)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netpoll.config import InfluxConfig
from netpoll.outputs.influxdb.writer import InfluxWriter, WriteRejected
from netpoll.sample import Sample
from tests.harness.waits import wait_for


class FakeServer:
    """Stand-in transport: scripted failures, records delivered bodies."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.fail_with: Exception | None = None
        self.calls = 0
        self._arrived = threading.Condition()
        self._lines = 0

    def __call__(self, body: bytes) -> None:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        with self._arrived:
            self.received.append(body)
            self._lines += body.count(b"\n")
            self._arrived.notify_all()

    def wait_lines(self, count: int, timeout: float = 10.0) -> bool:
        """Block the calling thread (not yielding to its loop) until ``count`` lines arrived."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self._lines >= count, timeout)

    def lines(self) -> list[str]:
        return [line for body in self.received for line in body.decode().splitlines()]


def samples(start: int, count: int) -> list[Sample]:
    return [Sample("m", {"device": "d"}, {"v": i}, i) for i in range(start, start + count)]


def values(server: FakeServer) -> list[int]:
    return [int(line.rsplit(" ", 1)[1]) for line in server.lines()]


def writer(
    tmp_path: Path, transport: Callable[[bytes], None], shutdown_s: float = 2.0, **kw: Any
) -> InfluxWriter:
    base: dict[str, Any] = {"url": "http://127.0.0.1:1", "batch_size": 5, "flush_interval_s": 0.05}
    config = InfluxConfig(**(base | kw))
    return InfluxWriter(
        config,
        tmp_path / "spool",
        transport=transport,
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
        shutdown_timeout_s=shutdown_s,
    )


async def test_outage_spools_then_replays_in_order(tmp_path: Path) -> None:
    server = FakeServer()
    async with writer(tmp_path, server) as w:
        w.write(samples(0, 7))
        await wait_for(lambda: len(server.lines()) == 7)
        server.fail_with = OSError("connection refused")
        w.write(samples(7, 12))
        # (Written ahead, a batch is in the spool before the failed write says the server is down.)
        await wait_for(lambda: w.spool_bytes > 0 and w.queue_size == 0 and not w.healthy)
        server.fail_with = None
        w.write(samples(19, 3))
        await wait_for(lambda: len(server.lines()) == 22)
    assert values(server) == list(range(22))
    assert w.spool_bytes == 0


async def test_every_batch_is_on_disk_before_the_server_sees_it(tmp_path: Path) -> None:
    # Write-ahead: a SIGKILL while a write is in flight (a server answering in 3 s) loses nothing of that
    # batch; it leaves the spool once acknowledged.
    server = FakeServer()
    on_disk: list[bool] = []

    def checking(body: bytes) -> None:
        spooled = b"".join(path.read_bytes() for path in sorted((tmp_path / "spool").glob("*.lp")))
        on_disk.append(body in spooled)
        server(body)

    async with writer(tmp_path, checking) as w:
        for n in range(4):
            w.write(samples(n * 5, 5))  # batch_size 5: each call seals a batch the sender takes at once
            await wait_for(lambda n=n: len(server.lines()) == (n + 1) * 5)
        await wait_for(lambda: w.spool_bytes == 0)  # removed once acknowledged (just after the server has it)
    assert on_disk == [True] * len(server.received)
    assert values(server) == list(range(20))


async def test_backlog_is_sent_coalesced_up_to_batch_size(tmp_path: Path) -> None:
    server = FakeServer()
    server.fail_with = OSError("down")
    async with writer(tmp_path, server, batch_size=20) as w:
        for n in range(10):  # ten small batches pile up in the spool
            w.write(samples(n * 3, 3))
            await wait_for(lambda n=n: w.queue_size == 0)
        server.fail_with = None
        await wait_for(lambda: len(server.lines()) == 30)
    assert values(server) == list(range(30))
    assert max(body.count(b"\n") for body in server.received) > 3  # joined, not one write per batch
    assert all(body.count(b"\n") <= 20 for body in server.received)


async def test_spools_on_exit_and_replays_after_restart(tmp_path: Path) -> None:
    server = FakeServer()
    server.fail_with = WriteRejected(503, "unavailable")
    async with writer(tmp_path, server, shutdown_s=0.3) as w:
        w.write(samples(0, 8))
        await wait_for(lambda: server.calls >= 1)  # the writer tried, and was refused
        w.write(samples(8, 2))  # still buffered at exit
    assert w.spool_bytes > 0
    assert server.received == []
    server.fail_with = None
    async with writer(tmp_path, server) as w2:
        await wait_for(lambda: len(server.lines()) == 10)
    assert values(server) == list(range(10))
    assert w2.spool_bytes == 0


async def test_drops_batch_on_400_and_moves_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer()
    server.fail_with = WriteRejected(400, "unable to parse 'm v=bad 0'")
    async with writer(tmp_path, server) as w:
        w.write(samples(0, 5))
        await wait_for(lambda: w.points_dropped == 5)
        server.fail_with = None
        w.write(samples(5, 5))
        await wait_for(lambda: len(server.lines()) == 5)
    # A server refusing every line: the batch of 5 is resent in halves down to single lines (9 writes), each
    # line dropped and logged with its device; then the next batch goes out (1 write).
    assert server.calls == 10
    assert "point of device d refused" in caplog.text
    assert "m,device=d v=0i 0" in caplog.text
    assert w.spool_bytes == 0


async def test_auth_error_keeps_spooling_without_storm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer()
    server.fail_with = WriteRejected(401, "unauthorized access")
    attempts: list[float] = []

    def timed(body: bytes) -> None:
        attempts.append(time.monotonic())
        server(body)

    async with writer(tmp_path, timed) as w:
        for n in range(4):
            w.write(samples(n * 5, 5))
            await wait_for(lambda n=n: len(attempts) > n)
        await wait_for(lambda: len(attempts) >= 6)  # retried on and on, while points wait in the spool
        gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
        assert min(gaps) >= 0.02  # paced by the backoff (at least half of its 0.05 s base), not a storm
        assert w.spool_bytes > 0
        server.fail_with = None
        await wait_for(lambda: len(server.lines()) == 20)
    assert caplog.text.count("unauthorized access") == 1
    assert values(server) == list(range(20))


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    server = FakeServer()
    server.fail_with = WriteRejected(429, "slow down", retry_after=0.6)
    calls: list[float] = []
    real = server.__call__

    def timed(body: bytes) -> None:
        calls.append(time.monotonic())
        real(body)

    async with writer(tmp_path, timed) as w:
        w.write(samples(0, 5))
        await wait_for(lambda: len(calls) >= 1)
        server.fail_with = None
        await wait_for(lambda: len(server.lines()) == 5)
    assert calls[1] - calls[0] >= 0.6  # not the 0.05-0.2 s backoff


async def test_write_deadline_frees_the_sender_and_exit(tmp_path: Path) -> None:
    release = threading.Event()
    attempts: list[int] = []

    def trickling(body: bytes) -> None:
        attempts.append(body.count(b"\n"))
        release.wait(10)  # a server that never finishes its answer

    started = time.monotonic()
    async with writer(tmp_path, trickling, shutdown_s=0.5, timeout_s=0.3) as w:
        w.write(samples(0, 5))
        await wait_for(lambda: w.spool_bytes > 0)  # the stuck batch was spooled, not held
        assert w.queue_size == 0
    assert time.monotonic() - started < 3
    assert not w.healthy
    release.set()


async def test_memory_is_bounded_in_points(tmp_path: Path) -> None:
    gate = threading.Event()

    def slow(body: bytes) -> None:
        gate.wait(5)

    async with writer(tmp_path, slow, shutdown_s=0.2, batch_size=1000, queue_max_points=50,
                      flush_interval_s=30) as w:  # fmt: skip
        for n in range(20):
            w.write(samples(n * 10, 10))
            await asyncio.sleep(0)
        await wait_for(lambda: w.queue_size <= 50 and w.spool_bytes > 0)
        gate.set()
    assert w.points_dropped == 0


async def test_never_blocks_while_server_hangs(tmp_path: Path) -> None:
    answer = threading.Event()

    def slow(body: bytes) -> None:
        answer.wait(5)  # a server that has not answered yet

    async with writer(tmp_path, slow, shutdown_s=0.1, timeout_s=1.0) as w:
        started = time.monotonic()
        for n in range(100):
            w.write(samples(n * 5, 5))
        assert time.monotonic() - started < 2.0  # blocked, it would wait out the server's 5 s
    answer.set()
    # Everything not delivered is on disk: 500 points, minus what the slow server took.
    assert w.spool_bytes > 0


def poll_like_an_overloaded_poller(w: InfluxWriter, server: FakeServer, points: int) -> list[int]:
    """Write ``points`` 50 at a time, each batch delivered before the next is written, never yielding."""
    for start in range(0, points, 50):
        w.write(samples(start, min(50, points - start)))
        assert server.wait_lines(min(points, start + 50)), f"{start} of {points} delivered"
    return values(server)


async def test_delivers_while_the_callers_loop_never_yields(tmp_path: Path) -> None:
    # An overloaded poller's loop: from the first write to the last check it never yields once. The output's
    # own thread and loop seal, spool and deliver all the same: full batches at once, the last partial one at
    # its flush tick.
    server = FakeServer()
    async with writer(tmp_path, server, batch_size=50, flush_interval_s=0.05) as w:
        delivered = poll_like_an_overloaded_poller(w, server, 2025)
        held = w.queue_size
    assert delivered == list(range(2025))  # every point, in order, once
    assert held == 0
    assert w.points_written == 2025
    assert w.spool_bytes == 0


async def test_exit_is_bounded_when_the_output_itself_hangs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A disk that hangs the spool's writes holds the output's thread, never the caller's exit.
    server = FakeServer()
    server.fail_with = OSError("down")
    disk = threading.Event()
    async with writer(tmp_path, server, shutdown_s=0.1) as w:
        w.write(samples(0, 5))
        await wait_for(lambda: server.calls >= 1 and w.spool_bytes > 0)
        assert w._spool is not None
        append = w._spool.append

        def hanging(data: bytes) -> Any:
            disk.wait(10)
            return append(data)

        w._spool.append = hanging  # type: ignore[method-assign]
        w.write(samples(5, 5))  # a full batch: its spill hangs on the disk
    assert "did not end within" in caplog.text
    disk.set()
    assert await w._thread.stop(10.0)  # the thread ends, with its log lines, within this test
