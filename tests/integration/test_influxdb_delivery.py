"""Delivery of the InfluxDB output where real servers cannot misbehave on demand: small local HTTP stand-ins
(answer late after storing, Retry-After, come back after an outage) in front of VictoriaMetrics, and a spool
on a small tmpfs. The daemon-level cases (a trickling server and SIGTERM, a 3 s server and SIGKILL) are in
``test_influxdb_delivery_daemon.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netpoll.config import InfluxConfig
from netpoll.outputs.influxdb.writer import InfluxWriter
from netpoll.sample import Sample
from tests.harness.http_standin import Behaviour, WriteStandIn
from tests.harness.victoriametrics import VictoriaMetrics
from tests.harness.waits import wait_for

pytestmark = [pytest.mark.network]

T0 = 1_700_000_000_000_000_000


def samples(start: int, count: int, device: str) -> list[Sample]:
    return [
        Sample("delivery", {"device": device}, {"seq": i}, T0 + i * 10**9)
        for i in range(start, start + count)
    ]


def stored(vm: VictoriaMetrics, device: str) -> list[int]:
    """Sorted stored timestamps (ms) of the device's series."""
    rows = vm.export(f'{{__name__="delivery_seq",device="{device}"}}')
    return sorted(t for row in rows for t in row["timestamps"])


@pytest.fixture
def standin(victoriametrics: VictoriaMetrics) -> Iterator[WriteStandIn]:
    server = WriteStandIn(forward_to=victoriametrics.url)
    yield server
    server.stop()


def config(url: str, **kw: Any) -> InfluxConfig:
    return InfluxConfig(**({"url": url, "api": "v2", "flush_interval_s": 0.1, "batch_size": 100} | kw))


async def test_a_write_stored_but_answered_late_is_stored_once(
    standin: WriteStandIn, victoriametrics: VictoriaMetrics, tmp_path: Path
) -> None:
    # The stand-in stores each write in VictoriaMetrics, then answers after the client's 0.5 s deadline:
    # the writer must send it again (it cannot know), and the copy must not be stored twice.
    standin.behaviour = Behaviour(delay_s=1.5)
    writer = InfluxWriter(config(standin.url, timeout_s=0.5), tmp_path / "spool", backoff_base_s=0.2)
    async with writer:
        writer.write(samples(0, 40, "late"))
        await wait_for(lambda: len(standin.writes) >= 2)
        standin.behaviour = Behaviour()
        await wait_for(lambda: writer.points_written == 40)
    assert len(standin.writes) >= 2, "the late write was sent again"
    victoriametrics.flush()
    stamps = stored(victoriametrics, "late")
    assert len(stamps) == 40, f"{len(stamps)} stored for 40 points"
    assert len(set(stamps)) == 40


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_retry_after_is_honoured(standin: WriteStandIn, tmp_path: Path, api: str) -> None:
    standin.behaviour = Behaviour(status=503, headers={"Retry-After": "2"})
    writer = InfluxWriter(
        config(standin.url, api=api), tmp_path / "spool", backoff_base_s=0.1, backoff_cap_s=0.2
    )
    async with writer:
        writer.write(samples(0, 5, f"retry-{api}"))
        await wait_for(lambda: len(standin.writes) >= 1)
        standin.behaviour = Behaviour()
        await wait_for(lambda: writer.points_written == 5)
    first, second = standin.writes[:2]
    assert second - first >= 1.95, f"retried after {second - first:.2f} s, not the 2 s asked"


async def test_a_server_back_from_an_outage_is_found_within_seconds(
    victoriametrics: VictoriaMetrics, tmp_path: Path
) -> None:
    # A port nobody listens on, then a server on it: with the default backoff (cap 5 s) the writer notices
    # within one capped delay, not after a 30 s retry.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    holder.close()
    writer = InfluxWriter(config(f"http://127.0.0.1:{port}"), tmp_path / "spool")
    async with writer:
        writer.write(samples(0, 10, "probe"))
        await asyncio.sleep(8)  # long enough for the backoff to reach its cap
        assert writer.points_written == 0
        server = WriteStandIn(forward_to=victoriametrics.url, port=port)
        back = time.monotonic()
        try:
            await wait_for(lambda: writer.points_written == 10, timeout=10)
            found = time.monotonic() - back
        finally:
            server.stop()
    # One capped delay (5 s) and the write itself; a busy machine gets 3 s more, still far from 30 s.
    assert found <= 8.0, f"found {found:.1f} s after the server came back"


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("mount") is None:
        pytest.skip("mount not found")
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (root needed): {done.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def test_a_spool_on_a_full_small_tmpfs_keeps_the_newest_data(
    small_tmpfs: Path, standin: WriteStandIn, victoriametrics: VictoriaMetrics, tmp_path: Path
) -> None:
    # An outage long enough to fill a 256 KiB filesystem (the spool's own bound, 256 MiB, is far away):
    # the oldest batches must go, the newest stay, and everything kept is delivered once the server is back.
    standin.behaviour = Behaviour(status=503, store=False)
    writer = InfluxWriter(
        config(standin.url, batch_size=200, queue_max_points=400),
        small_tmpfs / "spool",
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
    )
    total = 6000  # ~80 bytes a point: about twice what the tmpfs holds
    async with writer:
        for start in range(0, total, 200):
            writer.write(samples(start, 200, "full"))
            await asyncio.sleep(0.02)
        await wait_for(lambda: writer.queue_size == 0 and writer.points_dropped > 0)
        dropped = writer.points_dropped
        standin.behaviour = Behaviour()
        await wait_for(lambda: writer.points_written + writer.points_dropped >= total, timeout=20)
    victoriametrics.flush()
    seqs = [(t - T0 // 10**6) // 1000 for t in stored(victoriametrics, "full")]
    assert dropped > 0
    assert seqs, "nothing delivered"
    assert seqs[-1] == total - 1, "the newest point was kept"
    assert seqs == list(range(seqs[0], total)), "one contiguous run of the newest points, oldest dropped"
    assert len(seqs) + writer.points_dropped == total
