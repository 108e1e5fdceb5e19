"""Spool bound, order, replay, coalescing and a full disk."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from netpoll.outputs.influxdb import spool as spool_module
from netpoll.outputs.influxdb.spool import Spool


def batch(n: int, size: int = 10) -> bytes:
    return b"".join(b"m v=%di %d\n" % (n, i) for i in range(size))


def test_spool_keeps_order_and_survives_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for n in range(5):
        spool.append(batch(n))
    assert len(spool) == 5
    reopened = Spool(tmp_path, max_bytes=10_000)
    seen = []
    while (peeked := reopened.peek())[0]:
        items, data = peeked
        seen.append(data)
        reopened.remove_many(items)
    assert seen == [batch(n) for n in range(5)]
    assert reopened.size_bytes == 0
    assert not list(tmp_path.glob("*.lp"))


def test_spool_sequence_continues_after_restart(tmp_path: Path) -> None:
    Spool(tmp_path, 10_000).append(batch(1))
    second = Spool(tmp_path, 10_000)
    second.append(batch(2))
    names = sorted(p.name for p in tmp_path.glob("*.lp"))
    assert len(names) == 2
    assert second.peek()[1] == batch(1)


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
    while (peeked := spool.peek())[0]:
        contents.append(peeked[1])
        spool.remove_many(peeked[0])
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
    while (peeked := spool.peek())[0]:
        contents.append(peeked[1])
        spool.remove_many(peeked[0])
    assert contents == [batch(0), batch(1)]


def test_spool_ignores_partial_files(tmp_path: Path) -> None:
    (tmp_path / "0000000000000007.tmp").write_bytes(b"half")
    spool = Spool(tmp_path, 1000)
    assert len(spool) == 0
    assert not list(tmp_path.glob("*.tmp"))


def test_peek_joins_the_oldest_batches_up_to_max_points(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100_000)
    for n in range(5):
        spool.append(batch(n, size=10))
    entries, body = spool.peek(25)  # two whole batches fit, the third would not
    assert body == batch(0) + batch(1)
    spool.remove_many(entries)
    entries, body = spool.peek(5)  # at least one batch, even beyond max_points
    assert body == batch(2)
    spool.remove_many(entries)
    assert spool.peek(1000)[1] == batch(3) + batch(4)


def test_full_disk_drops_oldest_to_keep_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, max_bytes=100_000)
    for n in range(4):
        spool.append(batch(n))
    real = spool_module.write_new
    room = {"batches": 4}

    def disk(path: Path, data: bytes) -> None:
        # A filesystem with room for 4 batches, far below the spool's own bound.
        if len(list(tmp_path.glob("*.lp"))) >= room["batches"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(spool_module, "write_new", disk)
    for n in range(4, 10):
        spool.append(batch(n))
    assert spool.peek(1000)[1] == b"".join(batch(n) for n in range(6, 10))
    assert spool.dropped_points == 60
    assert caplog.text.count("is full") == 1  # once per episode, not per batch
    room["batches"] = 0
    with pytest.raises(OSError, match="No space"):  # nothing left to drop: the caller decides
        Spool(tmp_path / "other", 1000).append(batch(0))
