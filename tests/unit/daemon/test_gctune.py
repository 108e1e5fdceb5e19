"""The daemon's garbage-collector settings: thresholds raised, start-up's objects frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from netpoll.daemon import gctune


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


@pytest.mark.usefixtures("restore_gc")
def test_tune_and_freeze() -> None:
    gctune.tune()
    assert gc.get_threshold() == gctune.THRESHOLDS
    kept = [[] for _ in range(3)]  # containers the collector tracks, alive at the freeze
    gctune.freeze_startup()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.isenabled()  # cycles are still collected, only less often
