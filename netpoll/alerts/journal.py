"""A state file kept as a snapshot written now and then plus a journal of the changes since.

The alert engine keeps two such files: the active states (``alerts.json`` + ``alerts.journal``) and what
event, flapping and baseline rules remember of ``ok`` entities (``alerts.edges.json`` +
``alerts.edges.journal``). A save appends one fsync'd line of what changed; when the journal would grow past
the larger of ``min_journal_bytes`` and the snapshot, a new snapshot (atomic: temporary file, fsync, rename)
replaces both. Journal lines carry the snapshot's ``generation``, so a journal left over from an older
snapshot is never replayed over a newer one; a line torn by a crash is skipped by the parser.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netpoll.alerts.state import (
    RuleState,
    StateKey,
    read_state_file,
    write_state_file,
    write_state_file_in_steps,
)
from netpoll.atomic_file import append_durable

logger = logging.getLogger("netpoll.alerts")

__all__ = ["Changes", "SnapshotJournal"]

Records = list[tuple[StateKey, RuleState]]
JournalParser = Callable[[str, int], Iterator[tuple[StateKey, RuleState | None]]]


@dataclass(slots=True)
class Changes:
    """The keys whose records changed since the last save (what its journal line holds).

    Attributes:
        full: a snapshot is due instead (none written yet, a restart, a failed write, or more changes than
            are worth remembering one by one).
        keys: the changed keys, while not ``full``.
        max_keys: past this many, ``full`` (a set of every interface's key after the first poll of a large
            network would cost more memory than the snapshot costs time).
    """

    full: bool = False
    keys: set[StateKey] = field(default_factory=set)
    max_keys: int = 50_000

    def __bool__(self) -> bool:
        return self.full or bool(self.keys)

    def add(self, key: StateKey) -> None:
        """Note a change of ``key``'s record."""
        if self.full:
            return  # the snapshot due holds it
        self.keys.add(key)
        if len(self.keys) > self.max_keys:
            self.keys.clear()
            self.full = True

    def take(self) -> tuple[bool, set[StateKey]]:
        """``(full, keys)`` for a save, and start afresh."""
        taken = self.full, self.keys
        self.full, self.keys = False, set()
        return taken


@dataclass(slots=True)
class SnapshotJournal:
    """One snapshot file and its journal, and where they stand.

    Attributes:
        snapshot: the snapshot file.
        journal: the journal of changes since.
        min_journal_bytes: the journal may always grow this far before a snapshot is due.
        generation: of the snapshot on disk (0: none written by this process nor read).
        snapshot_bytes: its size.
        journal_bytes: what this process appended since.
    """

    snapshot: Path
    journal: Path
    min_journal_bytes: int = 0
    generation: int = 0
    snapshot_bytes: int = 0
    journal_bytes: int = 0

    def append(self, line_for: Callable[[int], bytes]) -> bool:
        """Append the line ``line_for(generation)`` makes; False when a snapshot is due instead.

        A snapshot is due when there is none yet, when the journal would outgrow its bound, or when the
        append failed (logged).
        """
        if self.generation == 0:
            return False
        line = line_for(self.generation)
        if self.journal_bytes + len(line) > max(self.min_journal_bytes, self.snapshot_bytes):
            return False
        try:
            append_durable(self.journal, line)
        except OSError as exc:
            logger.error("cannot write alert state %s: %s", self.journal, exc)
            return False
        self.journal_bytes += len(line)
        return True

    def write_snapshot(self, document_for: Callable[[int], dict[str, Any]]) -> bool:
        """Write ``document_for(next generation)`` as the snapshot and drop the journal; False if failed."""
        generation = self.generation + 1
        try:
            write_state_file(self.snapshot, document_for(generation))
        except OSError as exc:
            return self._failed(exc)
        self._written(generation)
        return True

    async def write_snapshot_in_steps(
        self, document_for: Callable[[int], dict[str, Any]], deadline: float | None = None
    ) -> bool:
        """``write_snapshot`` from the event loop, encoded in steps between which the loop runs.

        Not done by ``deadline`` (``time.monotonic()``), the write is abandoned: the snapshot and journal on
        disk stay as they were, a consistent older state. A cancellation leaves them so too (and is raised).
        """
        generation = self.generation + 1
        try:
            await write_state_file_in_steps(self.snapshot, document_for(generation), deadline)
        except OSError as exc:
            return self._failed(exc)
        self._written(generation)
        return True

    def _failed(self, exc: OSError) -> bool:
        if isinstance(exc, TimeoutError):
            logger.warning(
                "alert state %s not written: it would have taken longer than the shutdown budget left for it;"
                " the copy on disk stays (the changes since it are not kept)",
                self.snapshot,
            )
        else:
            logger.error("cannot write alert state %s: %s", self.snapshot, exc)
        return False

    def _written(self, generation: int) -> None:
        self.generation = generation
        self.journal_bytes = 0
        try:
            self.snapshot_bytes = self.snapshot.stat().st_size
            # Its lines are of the older generation, which a restore would skip; removed all the same.
            self.journal.unlink(missing_ok=True)
        except OSError as exc:
            logger.error("alert state %s: %s", self.journal, exc)

    def read(
        self, parse: Callable[[Any], Iterator[tuple[StateKey, RuleState]]], parse_journal: JournalParser
    ) -> tuple[Records, bool]:
        """The snapshot's records with the journal replayed over them, and whether there was a journal.

        A damaged snapshot does not stop the daemon: it starts without it, and the file is kept beside as
        ``*.corrupt`` for a post-mortem.
        """
        records = read_records(self.snapshot, parse)
        document = records.document
        generation = document.get("generation") if isinstance(document, dict) else None
        self.generation = generation if isinstance(generation, int) else 0
        with contextlib.suppress(OSError):
            self.snapshot_bytes = self.snapshot.stat().st_size
        merged = dict(records.records)
        try:
            text = self.journal.read_text(encoding="utf-8")
        except FileNotFoundError:
            return list(merged.items()), False
        except OSError as exc:
            logger.error("alert state %s unreadable (%s); starting without it", self.journal, exc)
            text = ""
        for key, state in parse_journal(text, self.generation):
            if state is None:
                merged.pop(key, None)
            else:
                merged[key] = state
        return list(merged.items()), True


@dataclass(frozen=True, slots=True)
class _Read:
    document: Any
    records: Records


def read_records(path: Path, parse: Callable[[Any], Iterator[tuple[StateKey, RuleState]]]) -> _Read:
    """A state file's document and its records; (None, []) when there is none or it is damaged."""
    try:
        document = read_state_file(path)
        return _Read(document, [] if document is None else list(parse(document)))
    except (OSError, ValueError) as exc:
        # A damaged state file must not stop the daemon: start afresh, keep the file for a post-mortem.
        logger.error("alert state %s unreadable (%s); starting without it", path, exc)
        with contextlib.suppress(OSError):
            path.replace(path.with_name(path.name + ".corrupt"))
        return _Read(None, [])
