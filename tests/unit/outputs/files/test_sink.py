"""FileSink: line protocol out, rotation by size, pruning."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest

from netpoll.outputs.files import FileSink
from netpoll.sample import Sample


def files_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("netpoll-*.lp"))


async def test_file_sink_writes_line_protocol(tmp_path: Path) -> None:
    async with FileSink(tmp_path, flush_interval_s=0.01) as sink:
        sink.write([Sample("interface", {"device": "r1", "ifName": "Gi0/1"}, {"in_bps": 1.5}, 123)])
    files = files_in(tmp_path)
    assert len(files) == 1
    assert files[0].read_text() == "interface,device=r1,ifName=Gi0/1 in_bps=1.5 123\n"
    assert sink.points_written == 1


async def test_file_sink_rotates_by_size_and_prunes(tmp_path: Path) -> None:
    async with FileSink(tmp_path, max_bytes=100, keep_files=3, flush_interval_s=60) as sink:
        for n in range(10):
            sink.write([Sample("m", {"device": "d"}, {"v": n, "pad": "x" * 80}, n)])
            sink.flush()
    files = files_in(tmp_path)
    assert len(files) == 3
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert [int(line.rsplit(" ", 1)[1]) for line in lines] == [7, 8, 9]


async def test_file_sink_flusher_writes_every_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    written = asyncio.Event()
    async with FileSink(tmp_path, flush_interval_s=0.01) as sink:
        write_lines = sink._write_lines

        def signalling_write(lines: list[str]) -> None:  # in the flusher's worker thread
            write_lines(lines)
            loop.call_soon_threadsafe(written.set)

        monkeypatch.setattr(sink, "_write_lines", signalling_write)
        for n in range(50):
            sink.write([Sample("m", {"device": "d"}, {"v": n}, n)])
            if n % 10 == 0:
                while sink.points_written != n + 1:  # until the flusher (not the exit) has written this one
                    written.clear()
                    await asyncio.wait_for(written.wait(), 30)  # a bound against a hang, not a timing
    lines = [line for f in files_in(tmp_path) for line in f.read_text().splitlines()]
    assert sorted(int(line.rsplit(" ", 1)[1]) for line in lines) == list(range(50))
    assert sink.points_written == 50


async def test_file_sink_write_error_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "data"
    async with FileSink(directory, max_bytes=10, flush_interval_s=60) as sink:
        sink.write([Sample("m", {"device": "d"}, {"v": 1}, 1)])
        sink.flush()
        shutil.rmtree(directory)  # the next write rotates (size bound) into a directory that is gone
        sink.write([Sample("m", {"device": "d"}, {"v": 2}, 2), Sample("m", {"device": "d"}, {"v": 3}, 3)])
        with caplog.at_level(logging.ERROR):
            sink.flush()
        assert "2 points lost" in caplog.text
        assert sink.points_written == 1
        assert sink.points_dropped == 2
        sink.write([Sample("m", {"device": "d"}, {"v": 4}, 4)])  # the exit's flush fails the same way
    assert sink.points_written == 1
    assert sink.points_dropped == 3
