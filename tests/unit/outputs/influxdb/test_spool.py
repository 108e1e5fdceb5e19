"""Spool bound, order and replay; the InfluxDB writer's delivery rules against a stand-in transport."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from netpoll.outputs.influxdb.spool import Spool
from netpoll.outputs.influxdb.writer import InfluxSettings, InfluxWriter, WriteRejected, backoff_delay
from netpoll.sample import Sample


def batch(n: int, size: int = 10) -> bytes:
    return b"".join(b"m v=%di %d\n" % (n, i) for i in range(size))


def test_spool_keeps_order_and_survives_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for n in range(5):
        spool.append(batch(n))
    assert len(spool) == 5
    reopened = Spool(tmp_path, max_bytes=10_000)
    seen = []
    while (peeked := reopened.peek()) is not None:
        item, data = peeked
        seen.append(data)
        reopened.remove(item)
    assert seen == [batch(n) for n in range(5)]
    assert reopened.size_bytes == 0
    assert not list(tmp_path.glob("*.lp"))


def test_spool_sequence_continues_after_restart(tmp_path: Path) -> None:
    Spool(tmp_path, 10_000).append(batch(1))
    second = Spool(tmp_path, 10_000)
    second.append(batch(2))
    names = sorted(p.name for p in tmp_path.glob("*.lp"))
    assert len(names) == 2
    first = second.peek()
    assert first is not None
    assert first[1] == batch(1)


@pytest.mark.parametrize(
    ("bound_batches", "appended", "kept"),
    [(3, 5, [2, 3, 4]), (1, 3, [2]), (10, 4, [0, 1, 2, 3])],
)
def test_spool_bound_drops_oldest(tmp_path: Path, bound_batches: int, appended: int, kept: list[int]) -> None:
    size = len(batch(0))
    spool = Spool(tmp_path, max_bytes=size * bound_batches)
    for n in range(appended):
        spool.append(batch(n))
    assert spool.size_bytes <= size * bound_batches
    assert spool.dropped_batches == appended - len(kept)
    assert spool.dropped_points == 10 * (appended - len(kept))
    contents = []
    while (peeked := spool.peek()) is not None:
        contents.append(peeked[1])
        spool.remove(peeked[0])
    assert contents == [batch(n) for n in kept]


def test_spool_oversized_batch_is_dropped_alone(tmp_path: Path) -> None:
    size = len(batch(0))
    spool = Spool(tmp_path, max_bytes=size * 3)
    spool.append(batch(0))
    spool.append(batch(1))
    spool.append(batch(2, size=40))  # larger than the whole bound: it can never fit
    assert spool.dropped_batches == 1
    assert spool.dropped_points == 40
    assert len(spool) == 2
    assert spool.size_bytes == 2 * size
    contents = []
    while (peeked := spool.peek()) is not None:
        contents.append(peeked[1])
        spool.remove(peeked[0])
    assert contents == [batch(0), batch(1)]


def test_spool_ignores_partial_files(tmp_path: Path) -> None:
    (tmp_path / "0000000000000007.tmp").write_bytes(b"half")
    spool = Spool(tmp_path, 1000)
    assert len(spool) == 0
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("attempt", [0, 1, 3, 10, 100])
def test_backoff_is_capped_and_jittered(attempt: int) -> None:
    rng = random.Random(1)
    delays = [backoff_delay(attempt, 1.0, 30.0, rng) for _ in range(50)]
    ceiling = min(30.0, 2.0**attempt)
    assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1


class FakeServer:
    """Stand-in transport: scripted failures, records delivered bodies."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.fail_with: Exception | None = None
        self.calls = 0

    def __call__(self, body: bytes) -> None:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.received.append(body)

    def lines(self) -> list[str]:
        return [line for body in self.received for line in body.decode().splitlines()]


def samples(start: int, count: int) -> list[Sample]:
    return [Sample("m", {"device": "d"}, {"v": i}, i) for i in range(start, start + count)]


def settings(tmp_path: Path, **kw: object) -> InfluxSettings:
    base: dict[str, object] = {
        "url": "http://127.0.0.1:1",
        "bucket": "b",
        "spool_dir": tmp_path / "spool",
        "batch_size": 5,
        "flush_interval_s": 0.05,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
        "shutdown_timeout_s": 2.0,
    }
    base.update(kw)
    return InfluxSettings(**base)  # type: ignore[arg-type]


async def wait_for(predicate: object, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_writer_outage_spools_then_replays_in_order(tmp_path: Path) -> None:
    server = FakeServer()
    async with InfluxWriter(settings(tmp_path), transport=server) as writer:
        writer.write(samples(0, 7))
        await wait_for(lambda: len(server.lines()) == 7)
        server.fail_with = OSError("connection refused")
        writer.write(samples(7, 12))
        await wait_for(lambda: writer.spool_bytes > 0 and writer.queue_size == 0)
        assert not writer.healthy
        server.fail_with = None
        writer.write(samples(19, 3))
        await wait_for(lambda: len(server.lines()) == 22)
    values = [int(line.rsplit(" ", 1)[1]) for line in server.lines()]
    assert values == list(range(22))
    assert writer.spool_bytes == 0


async def test_writer_spools_on_exit_and_replays_after_restart(tmp_path: Path) -> None:
    server = FakeServer()
    server.fail_with = WriteRejected(503, "unavailable")
    async with InfluxWriter(settings(tmp_path, shutdown_timeout_s=0.3), transport=server) as writer:
        writer.write(samples(0, 8))
        await asyncio.sleep(0.1)
        writer.write(samples(8, 2))  # still buffered at exit
    assert writer.spool_bytes > 0
    assert server.received == []
    server.fail_with = None
    async with InfluxWriter(settings(tmp_path), transport=server) as writer2:
        await wait_for(lambda: len(server.lines()) == 10)
    values = [int(line.rsplit(" ", 1)[1]) for line in server.lines()]
    assert values == list(range(10))
    assert writer2.spool_bytes == 0


async def test_writer_drops_batch_on_400_and_moves_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer()
    server.fail_with = WriteRejected(400, "unable to parse 'm v=bad 0'")
    async with InfluxWriter(settings(tmp_path), transport=server) as writer:
        writer.write(samples(0, 5))
        await wait_for(lambda: writer.stats.points_dropped == 5)
        server.fail_with = None
        writer.write(samples(5, 5))
        await wait_for(lambda: len(server.lines()) == 5)
    assert server.calls == 2  # no retry of the rejected batch
    assert writer.points_dropped == 5
    assert "First line of the batch: m,device=d v=0i 0" in caplog.text
    assert writer.spool_bytes == 0


async def test_writer_auth_error_keeps_spooling_without_storm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer()
    server.fail_with = WriteRejected(401, "unauthorized access")
    async with InfluxWriter(settings(tmp_path, backoff_max_s=0.5), transport=server) as writer:
        for n in range(4):
            writer.write(samples(n * 5, 5))
            await asyncio.sleep(0.25)
        assert server.calls <= 4  # one attempt per max-backoff period, not a storm
        assert writer.spool_bytes > 0
        server.fail_with = None
        await wait_for(lambda: len(server.lines()) == 20)
    assert caplog.text.count("check the token, org and bucket") == 1
    values = [int(line.rsplit(" ", 1)[1]) for line in server.lines()]
    assert values == list(range(20))


async def test_writer_never_blocks_while_server_hangs(tmp_path: Path) -> None:
    import time

    def slow(body: bytes) -> None:
        time.sleep(0.5)

    async with InfluxWriter(settings(tmp_path, shutdown_timeout_s=0.1, timeout_s=1.0), transport=slow) as w:
        started = time.monotonic()
        for n in range(100):
            w.write(samples(n * 5, 5))
        assert time.monotonic() - started < 0.2
    # Everything not delivered is on disk: 500 points, minus what the slow server took.
    assert w.spool_bytes > 0
