"""Per-(rule, device, entity) alert state machines, and their JSON persistence.

Threshold (and flapping) rules::

    ok ──breaching──► pending ──held `for`──► breached ──clearing──► clearing ──held `clear_for`──► ok
         (publish nothing)       (publish breach once)                             (publish clear once)

A sample that is not breaching while pending goes back to ``ok``; a sample that is not clearing while
clearing goes back to ``breached`` (hovering between the breach and clear values publishes nothing).
No sample means no step: a missing sample is never a clear.

Event rules publish an event when the condition becomes true and re-arm when it is false again.

Baseline rules feed the threshold machine the ratio of each value to the median of the entity's previous
samples (``baseline_ratio``); every value joins the history, so a level held for more than half the window
becomes the new baseline and the breach clears by itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from netpoll.alerts.rules import Rule
from netpoll.atomic_file import AtomicFile
from netpoll.defaults import STATE_STEP_S
from netpoll.sample import FieldValue

logger = logging.getLogger("netpoll.alerts")

Phase = Literal["ok", "pending", "breached", "clearing"]
Transition = Literal["breach", "clear", "event"]
StateKey = tuple[str, str, str]  # (rule, device, entity)

STATE_FORMAT_VERSION = 1


@dataclass(slots=True)
class RuleState:
    """The mutable state of one rule on one (device, entity)."""

    phase: Phase = "ok"
    count: int = 0  # consecutive samples of the current pending / clearing run
    first_ns: int = 0  # time of the first sample of that run
    since_ns: int = 0  # when the active breach's condition began
    breach_id: str = ""  # id of the published breach (a clear refers to it)
    matched: bool | None = None  # event rules: whether the previous sample met the condition
    last_value: FieldValue | None = None  # flapping rules: the previous value of the field
    # Created at the first value they hold (None: empty): there is a state per interface and event or
    # flapping rule, and two empty lists each were a third of the alert engine's memory.
    changes: list[int] | None = None  # flapping rules: change times (ns) in the window
    history: list[float] | None = None  # baseline rules: the previous values, oldest first

    def is_idle(self) -> bool:
        """True when dropping this state would lose nothing."""
        return (
            self.phase == "ok"
            and self.matched is None
            and self.last_value is None
            and not self.changes
            and not self.history
        )

    def memory(self) -> tuple[object, ...]:
        """What flapping and baseline rules remember of the entity, to tell whether a sample changed it."""
        history = self.history or []
        return (self.last_value, len(self.changes or ()), len(history), history[-1:])

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (only what is not at its default)."""
        data: dict[str, Any] = {"phase": self.phase}
        if self.phase != "ok":
            data.update(count=self.count, first_ns=self.first_ns, since_ns=self.since_ns)
        if self.breach_id:
            data["breach_id"] = self.breach_id
        if self.matched is not None:
            data["matched"] = self.matched
        if self.last_value is not None:
            data["last_value"] = self.last_value
        if self.changes:
            data["changes"] = list(self.changes)
        if self.history:
            data["history"] = list(self.history)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleState:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on a malformed record."""
        phase = data.get("phase", "ok")
        if phase not in ("ok", "pending", "breached", "clearing"):
            raise ValueError(f"unknown phase {phase!r}")
        last_value = data.get("last_value")
        if last_value is not None and not isinstance(last_value, bool | int | float | str):
            raise TypeError("last_value")
        matched = data.get("matched")
        return cls(
            phase=phase,
            count=int(data.get("count", 0)),
            first_ns=int(data.get("first_ns", 0)),
            since_ns=int(data.get("since_ns", 0)),
            breach_id=str(data.get("breach_id", "")),
            matched=None if matched is None else bool(matched),
            last_value=last_value,
            changes=[int(t) for t in data.get("changes") or ()] or None,
            history=[float(v) for v in data.get("history") or ()] or None,
        )


def step_threshold(rule: Rule, state: RuleState, value: FieldValue, now_ns: int) -> Transition | None:
    """Feed one sample value to a threshold (or flapping) state machine; returns what to publish."""
    breaching = rule.breaching(value)
    if state.phase == "ok":
        if not breaching:
            return None
        state.phase, state.count, state.first_ns = "pending", 0, now_ns
    if state.phase == "pending":
        if not breaching:
            state.phase, state.count = "ok", 0
            return None
        state.count += 1
        if rule.hold.satisfied(state.count, state.first_ns, now_ns):
            state.phase, state.since_ns, state.count = "breached", state.first_ns, 0
            return "breach"
        return None
    clearing = rule.clearing(value)
    if state.phase == "breached":
        if not clearing:
            return None
        state.phase, state.count, state.first_ns = "clearing", 0, now_ns
    # clearing
    if not clearing:
        # Back above the clear value (hovering, or breaching again): still the same breach.
        state.phase, state.count = "breached", 0
        return None
    state.count += 1
    if rule.clear_hold.satisfied(state.count, state.first_ns, now_ns):
        state.phase, state.count = "ok", 0
        return "clear"
    return None


def step_event(rule: Rule, state: RuleState, value: FieldValue) -> Transition | None:
    """Feed one sample value to an event rule: an event on each rising edge of the condition."""
    matched = rule.breaching(value)
    previous, state.matched = state.matched, matched
    if not matched or previous is True:
        return None
    if previous is None and rule.trigger == "change":
        # No earlier sample of this entity: a condition that is already true is not a change.
        return None
    return "event"


def at_rest(rule: Rule, state: RuleState, value: FieldValue) -> bool:
    """Whether stepping an event or flapping rule's state with ``value`` would change and publish nothing.

    An event rule's condition that is as it was; a flapping rule's field that did not change, with no change
    in the window. The engine then skips the step, and the scope and ``when`` checks before it.
    """
    if state.phase != "ok":
        return False
    if rule.kind == "event":
        return state.matched is not None and state.matched == rule.breaching(value)
    if rule.kind == "flapping":
        return not state.changes and value == state.last_value and not rule.breaching(0)
    return False


def flap_count(rule: Rule, state: RuleState, value: FieldValue, now_ns: int) -> int:
    """Record one value of a flapping rule's field; the number of changes within the window."""
    if state.last_value is not None and value != state.last_value:
        if state.changes is None:
            state.changes = []
        state.changes.append(now_ns)
    state.last_value = value
    changes = state.changes
    if not changes:
        return 0
    assert rule.window_s is not None
    horizon = now_ns - int(rule.window_s * 1e9)
    while changes and changes[0] <= horizon:
        changes.pop(0)
    if not changes:
        state.changes = None
    return len(changes)


def baseline_ratio(rule: Rule, state: RuleState, value: FieldValue) -> float | None:
    """Record one value of a baseline rule's field; its ratio to the median of the previous ones.

    None while fewer than ``rule.warmup`` values came before it (no judgement yet) and for text. A value
    under ``rule.minimum`` gives 0.0 (never a breach, always a clear). The median is taken as at least 1, so
    a baseline of zero sessions still gives a finite ratio.
    """
    if isinstance(value, str):
        return None
    current = float(value)
    ratio: float | None = None
    history = state.history
    if history is None:
        history = state.history = []
    if len(history) >= rule.warmup:
        base = max(statistics.median(history), 1.0)
        ratio = current / base if current >= rule.minimum else 0.0
    history.append(current)
    del history[: -rule.baseline_samples]
    return ratio


# --------------------------------------------------------------------------------------------------
# persistence


def dump_states(states: Iterable[tuple[StateKey, RuleState]], generation: int = 0) -> dict[str, Any]:
    """The JSON document of the active state file: every state that is not ``ok``.

    Like the edges file it is a snapshot with a journal of the changes since (``active_journal_line``): an
    alert storm (a site going dark: thousands of breaches, each saved before it is published) must not
    rewrite every active state per breach.
    """
    return {
        "version": STATE_FORMAT_VERSION,
        "generation": generation,
        "states": [active_record(key, state) for key, state in states if state.phase != "ok"],
    }


def active_record(key: StateKey, state: RuleState) -> dict[str, Any]:
    """The active-file record of one state that is not ``ok``."""
    rule, device, entity = key
    return {"rule": rule, "device": device, "entity": entity, **state.to_json()}


def active_journal_line(generation: int, changes: Iterable[tuple[StateKey, RuleState | None]]) -> bytes:
    """One line of the active journal: the changed records, and the entities no longer active (ok, gone)."""
    states: list[dict[str, Any]] = []
    gone: list[list[str]] = []
    for key, state in changes:
        if state is not None and state.phase != "ok":
            states.append(active_record(key, state))
        else:
            gone.append(list(key))
    line = {"generation": generation, "states": states, "gone": gone}
    return json.dumps(line, separators=(",", ":")).encode("utf-8") + b"\n"


def edge_record(key: StateKey, state: RuleState) -> list[Any]:
    """The edges-file record of one ``ok`` entity's memory (event, flapping and baseline rules)."""
    rule, device, entity = key
    # Baseline rules add their history (a 7th item); the others keep the 6 of earlier versions.
    record: list[Any] = [rule, device, entity, state.matched, state.last_value, state.changes or []]
    if state.history:
        record.append(state.history)
    return record


def has_edge(state: RuleState | None) -> bool:
    """Whether a state belongs in the edges file (an ``ok`` entity that remembers something)."""
    return state is not None and state.phase == "ok" and not state.is_idle()


def dump_edges(states: Iterable[tuple[StateKey, RuleState]], generation: int = 0) -> dict[str, Any]:
    """The JSON document of the edges file: what event and flapping rules remember of ``ok`` entities.

    There is one such record per interface and rule on a large network, so this full snapshot is written
    rarely; the changes since go to a journal beside it (``edge_journal_line``) marked with the snapshot's
    ``generation``, so a journal left over from an older snapshot is never replayed on a newer one.
    """
    return {
        "version": STATE_FORMAT_VERSION,
        "generation": generation,
        "edges": (edge_record(key, state) for key, state in states if has_edge(state)),
    }


def edge_journal_line(generation: int, changes: Iterable[tuple[StateKey, RuleState | None]]) -> bytes:
    """One line of the edges journal: the changed records, and the entities that left the edges file.

    An entity leaves it when its memory is dropped (device forgotten), emptied, or moved to the active
    file (its phase is no longer ``ok``).
    """
    edges: list[list[Any]] = []
    gone: list[list[str]] = []
    for key, state in changes:
        if state is not None and has_edge(state):
            edges.append(edge_record(key, state))
        else:
            gone.append(list(key))
    line = {"generation": generation, "edges": edges, "gone": gone}
    return json.dumps(line, separators=(",", ":")).encode("utf-8") + b"\n"


def parse_states(document: Any) -> Iterator[tuple[StateKey, RuleState]]:
    """Records of an active state file; malformed records are skipped with a warning."""
    if not isinstance(document, dict) or document.get("version") != STATE_FORMAT_VERSION:
        raise ValueError("not a netpoll alert state file of version 1")
    for record in document.get("states", []):
        try:
            key = (str(record["rule"]), str(record["device"]), str(record.get("entity", "")))
            yield key, RuleState.from_json(record)
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("alert state: skipping malformed record %r: %s", record, exc)


def parse_edges(document: Any) -> Iterator[tuple[StateKey, RuleState]]:
    """Records of an edges file; malformed records are skipped with a warning."""
    if not isinstance(document, dict) or document.get("version") != STATE_FORMAT_VERSION:
        raise ValueError("not a netpoll alert edges file of version 1")
    for record in document.get("edges", []):
        parsed = _parse_edge(record)
        if parsed is not None:
            yield parsed


def parse_edge_journal(text: str, generation: int) -> Iterator[tuple[StateKey, RuleState | None]]:
    """The changes an edges journal holds for the snapshot of ``generation``, in order (None: gone).

    Lines of another generation (a journal left over from an older snapshot) and damaged lines (a torn
    last line after a crash) are skipped, the latter with a warning.
    """
    for entry in _journal_entries(text, generation, "edges"):
        for record in entry.get("edges", []):
            parsed = _parse_edge(record)
            if parsed is not None:
                yield parsed
        yield from _gone(entry)


def parse_active_journal(text: str, generation: int) -> Iterator[tuple[StateKey, RuleState | None]]:
    """The changes an active journal holds for the snapshot of ``generation``, in order (None: not active)."""
    for entry in _journal_entries(text, generation, "active"):
        states = entry.get("states")
        if isinstance(states, list):
            yield from parse_states({"version": STATE_FORMAT_VERSION, "states": states})
        yield from _gone(entry)


def _journal_entries(text: str, generation: int, what: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise TypeError("not an object")
        except (TypeError, ValueError):
            logger.warning("alert state: skipping a damaged %s journal line", what)
            continue
        if entry.get("generation") == generation:
            yield entry


def _gone(entry: dict[str, Any]) -> Iterator[tuple[StateKey, None]]:
    gone = entry.get("gone")
    for key in gone if isinstance(gone, list) else ():
        if isinstance(key, list) and len(key) == 3:
            yield (str(key[0]), str(key[1]), str(key[2])), None


def _parse_edge(record: Any) -> tuple[StateKey, RuleState] | None:
    try:
        # Files written before baseline rules have no history (6 items).
        rule, device, entity, matched, last_value, changes, *rest = record
        history = rest[0] if rest else []
        state = RuleState.from_json(
            {"matched": matched, "last_value": last_value, "changes": changes, "history": history}
        )
    except (TypeError, ValueError) as exc:
        logger.warning("alert state: skipping malformed edge %r: %s", record, exc)
        return None
    return (str(rule), str(device), str(entity)), state


def state_file_pieces(document: dict[str, Any]) -> Iterator[bytes]:
    """The compact JSON of a state file's ``document``, in pieces.

    A value that is an iterator (the edges: one record per interface and rule, 840,000 at 20,000 devices) is
    a JSON array of a batch of records per piece, never held whole as a list and a string: the same bytes as
    ``json.dumps`` of the list, at a fixed memory cost instead of a few hundred MB.
    """
    yield b"{"
    for n, (key, value) in enumerate(document.items()):
        yield b"," * bool(n) + _compact(key) + b":"
        if isinstance(value, Iterator):
            yield from _array_pieces(value)
        else:
            yield _compact(value)
    yield b"}"


def write_state_file(path: Path, document: dict[str, Any]) -> None:
    """Write a state file as compact JSON (``state_file_pieces``), atomically (never half a file).

    A crash leaves the old or the new file.
    """
    out = AtomicFile(path)
    try:
        for piece in state_file_pieces(document):
            out.write(piece)
        out.commit()
    except BaseException:
        out.discard()
        raise


async def write_state_file_in_steps(
    path: Path, document: dict[str, Any], deadline: float | None = None, step_s: float = STATE_STEP_S
) -> None:
    """``write_state_file`` from the event loop: encoded in steps, the fsync in a worker thread.

    Steps of ``step_s`` of encoding, between which the loop runs its polls: the edges of tens of thousands
    of devices take seconds to encode, and in one go every poll and timer would wait as long. An iterator in
    ``document`` may read live state; each of its records is consistent in itself.

    Raises:
        TimeoutError: ``deadline`` (``time.monotonic()``) passed before the last piece; the file is left as
            it was, as it is by a cancellation.
    """
    out = AtomicFile(path)
    try:
        resume = time.monotonic() + step_s
        for piece in state_file_pieces(document):
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError
            out.write(piece)
            if time.monotonic() >= resume:
                await asyncio.sleep(0)
                resume = time.monotonic() + step_s
    except BaseException:
        out.discard()
        raise
    await asyncio.to_thread(out.commit)  # a failed commit discards; a cancelled wait leaves it to finish


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _array_pieces(records: Iterator[Any], batch: int = 4096) -> Iterator[bytes]:
    yield b"["
    first = True
    while chunk := list(itertools.islice(records, batch)):
        yield b"," * (not first) + b",".join(map(_compact, chunk))
        first = False
    yield b"]"


def read_state_file(path: Path) -> Any:
    """The parsed JSON of a state file, or None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text)
