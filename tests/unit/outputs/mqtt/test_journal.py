"""The MQTT queue journal: what was queued and not acknowledged comes back, in order, after a restart."""

from __future__ import annotations

from pathlib import Path

from netpoll.outputs.mqtt import journal as journal_module
from netpoll.outputs.mqtt.journal import Outgoing, QueueJournal


def item(n: int) -> Outgoing:
    return Outgoing(
        f"id{n}", ((f"np/alerts/r{n}/cpu", b"", True), (f"np/alerts/r{n}/cpu", b'{"n":%d}' % n, False))
    )


def test_pending_come_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "state" / "mqtt-queue.jsonl"
    first = QueueJournal(path)
    assert first.open() == []
    for n in range(5):
        first.added(item(n))
    first.removed("id1", queue_empty=False)
    first.removed("id3", queue_empty=False)
    # No close(): as after SIGKILL, the lines are already with the OS.
    second = QueueJournal(path)
    assert second.open() == [item(0), item(2), item(4)]
    # The file was rewritten with only those.
    assert path.read_text().count("\n") == 3
    second.close()
    first.close()


def test_torn_and_damaged_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(item(1).to_line() + "+{not json\n" + item(2).to_line() + '+{"id": "x", "m"')
    journal = QueueJournal(path)
    assert journal.open() == [item(1), item(2)]
    journal.close()


def test_compacts_when_empty(tmp_path: Path) -> None:
    journal_module.COMPACT_AFTER = 3
    try:
        path = tmp_path / "q.jsonl"
        journal = QueueJournal(path)
        journal.open()
        for n in range(3):
            journal.added(item(n))
        for n in range(3):
            journal.removed(f"id{n}", queue_empty=n == 2)
        assert path.read_text() == ""
        journal.added(item(7))
        journal.close()
        again = QueueJournal(path)
        assert again.open() == [item(7)]
        again.close()
    finally:
        journal_module.COMPACT_AFTER = 1000


def test_unwritable_journal_is_off_not_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    journal = QueueJournal(blocker / "q.jsonl")  # a directory that cannot exist
    assert journal.open() == []
    journal.added(item(1))  # silently off
    journal.removed("id1", queue_empty=True)
    journal.close()
