"""The inventory watcher never dies and never lets a broken reload through (issue 16)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from netpoll.daemon import reload
from netpoll.daemon.reload import InventoryWatcher
from netpoll.errors import ConfigError
from netpoll.inventory.models import Inventory

GOOD = Inventory(devices=(), files=("inv.yaml",))


def _loader(outcomes: list[BaseException | Inventory]):  # type: ignore[no-untyped-def]
    def load(_paths: Sequence[Path]) -> Inventory:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return load


async def test_broken_reloads_are_one_line_and_a_later_good_one_is_applied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    applied: list[Inventory] = []
    outcomes: list[BaseException | Inventory] = [
        ConfigError(["inv.yaml:3: nested deeper than 40 levels: is it the right file?"]),
        RecursionError("maximum recursion depth exceeded"),
        MemoryError(),
        GOOD,
    ]
    watcher = InventoryWatcher([tmp_path], _loader(outcomes), applied.append)
    with caplog.at_level(logging.ERROR, "netpoll.daemon.reload"):
        results = [await watcher.reload() for _ in range(4)]
    assert results == [False, False, False, True]
    assert applied == [GOOD]
    assert (watcher.rejected, watcher.reloads) == (3, 1)
    assert "Traceback" not in caplog.text
    assert not any(record.exc_info for record in caplog.records)
    assert "inventory reload rejected (RecursionError); the running inventory is kept" in caplog.text
    assert "inventory reload rejected (MemoryError); the running inventory is kept" in caplog.text


async def test_a_slow_reload_is_given_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stuck(_paths: Sequence[Path]) -> Inventory:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        return GOOD

    watcher = InventoryWatcher([tmp_path], stuck, lambda _inventory: None)
    watcher.load_timeout_s = 0.0
    with caplog.at_level(logging.ERROR, "netpoll.daemon.reload"):
        assert await watcher.reload() is False
    release.set()
    assert "inventory reload took longer than 0 s; the running inventory is kept" in caplog.text


async def test_the_watcher_loop_survives_a_failing_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    checked = [asyncio.Event(), asyncio.Event(), asyncio.Event()]
    calls = 0

    def signature(_paths: Sequence[Path]) -> dict[str, tuple[int, int]]:
        nonlocal calls
        calls += 1
        if calls > 1:  # the first call is the watcher's own, on creation
            loop.call_soon_threadsafe(checked[calls - 2].set)
        if calls == 2:
            raise PermissionError("no access")
        return {"inv.yaml": (calls, 1)}

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(reload, "file_signature", signature)
    watcher = InventoryWatcher(
        [tmp_path], _loader([GOOD, GOOD]), lambda _inventory: None, poll_s=3600, min_interval_s=0
    )
    with caplog.at_level(logging.ERROR, "netpoll.daemon.reload"):
        async with watcher:
            watcher.trigger()
            await checked[0].wait()
            watcher.trigger()
            await checked[1].wait()
            assert watcher._task is not None
            assert not watcher._task.done()
    assert "checking for changes failed; it goes on watching" in caplog.text


async def test_a_broken_profile_is_logged_as_the_profiles_not_the_inventory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    profiles = tmp_path / "profiles"
    outcomes: list[BaseException | Inventory] = [
        ConfigError(
            [f"{profiles}/edge.yaml:4: unknown key 'colums'", "inv.yaml:3: device 'r1': unknown key"]
        ),
    ]
    watcher = InventoryWatcher([tmp_path / "inv.yaml"], _loader(outcomes), lambda _inventory: None)
    watcher.watch_also([profiles])
    with caplog.at_level(logging.ERROR, "netpoll.daemon.reload"):
        assert not await watcher.reload()
    assert f"profiles rejected: {profiles}/edge.yaml:4: unknown key 'colums'" in caplog.text
    assert "inventory rejected: inv.yaml:3: device 'r1': unknown key" in caplog.text
