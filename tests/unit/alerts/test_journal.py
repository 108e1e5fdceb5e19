"""SnapshotJournal: when a save is a journal line and when a snapshot, and what a restore replays."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from netpoll.alerts.journal import Changes, SnapshotJournal
from netpoll.alerts.state import (
    RuleState,
    active_journal_line,
    dump_edges,
    dump_states,
    edge_journal_line,
    parse_active_journal,
    parse_edge_journal,
    parse_edges,
    parse_states,
)

A = ("cpu", "r1", "")
B = ("cpu", "r2", "")


def breached() -> RuleState:
    state = RuleState()
    state.phase = "breached"
    return state


def flapped() -> RuleState:
    """An ``ok`` state that remembers an edge: a record of the edges file."""
    state = RuleState()
    state.matched = True
    return state


def test_no_line_before_a_snapshot_then_lines_until_the_bound(tmp_path: Path) -> None:
    files = SnapshotJournal(tmp_path / "a.json", tmp_path / "a.journal", min_journal_bytes=400)
    line = lambda g: active_journal_line(g, [(A, breached())])  # noqa: E731 - a line per call
    assert not files.append(line)  # no snapshot yet: a snapshot is due
    assert files.write_snapshot(lambda g: dump_states([(A, breached())], g))
    assert files.generation == 1
    appended = 0
    while files.append(line):
        appended += 1
    assert 1 <= appended < 10  # up to the bound (400 B here), then a snapshot is due again
    assert files.journal_bytes <= 400
    assert files.write_snapshot(lambda g: dump_states([], g))
    assert (files.generation, files.journal_bytes) == (2, 0)
    assert not (tmp_path / "a.journal").exists()


def test_read_replays_the_journal_of_its_generation_only(tmp_path: Path) -> None:
    files = SnapshotJournal(tmp_path / "a.json", tmp_path / "a.journal")
    assert files.write_snapshot(lambda g: dump_states([(A, breached())], g))
    journal = tmp_path / "a.journal"
    journal.write_bytes(
        active_journal_line(0, [(B, breached())])  # an older generation's line: skipped
        + active_journal_line(1, [(B, breached()), (A, None)])
        + b'{"generation": 1, "sta'  # torn by a crash: skipped
    )
    records, journaled = SnapshotJournal(tmp_path / "a.json", journal).read(
        parse_states, parse_active_journal
    )
    assert journaled
    assert [key for key, _ in records] == [B]


def test_a_damaged_snapshot_is_kept_aside_and_reading_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{not json")
    files = SnapshotJournal(tmp_path / "a.json", tmp_path / "a.journal")
    assert files.read(parse_states, parse_active_journal) == ([], False)
    assert (tmp_path / "a.json.corrupt").exists()
    assert files.generation == 0


def test_a_failed_snapshot_leaves_the_generation(tmp_path: Path) -> None:
    files = SnapshotJournal(tmp_path / "missing" / "deeper" / "a.json", tmp_path / "a.journal")
    (tmp_path / "missing").write_text("a file where a directory should be")
    assert not files.write_snapshot(lambda g: {"version": 1, "generation": g, "states": []})
    assert files.generation == 0


def test_changes_are_kept_one_by_one_until_a_snapshot_is_cheaper() -> None:
    changes = Changes(max_keys=2)
    assert not changes
    changes.add(A)
    assert changes
    assert changes.take() == (False, {A})
    assert not changes
    for key in (A, B, ("cpu", "r3", "")):
        changes.add(key)
    assert changes.take() == (True, set())  # past max_keys: a snapshot is due, no keys kept


def test_a_snapshot_past_its_deadline_leaves_the_files_on_disk_as_they_were(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = SnapshotJournal(tmp_path / "a.edges.json", tmp_path / "a.journal")
    assert files.write_snapshot(lambda g: dump_edges(iter([(A, flapped())]), g))
    assert files.append(lambda g: edge_journal_line(g, [(B, flapped())]))
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    late = time.monotonic() - 1.0  # a shutdown with nothing left of its budget
    document = lambda g: dump_edges(iter([(A, flapped()), (B, flapped())]), g)  # noqa: E731 - one call
    assert not asyncio.run(files.write_snapshot_in_steps(document, late))
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before  # no temporary left
    assert (files.generation, files.journal_bytes) == (1, len(before["a.journal"]))
    assert "the copy on disk stays" in caplog.text
    records, _ = SnapshotJournal(tmp_path / "a.edges.json", tmp_path / "a.journal").read(
        parse_edges, parse_edge_journal
    )
    assert sorted(key for key, _ in records) == [A, B]
