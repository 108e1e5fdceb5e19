"""The alert engine: feeds samples to the rule state machines and returns the alerts to publish.

``evaluate`` is synchronous and does no network I/O. It saves the state of every entity that is not ``ok``
right after any breach or clear, so that after a restart — even after SIGKILL — an alert already published
is not published again, and its clear still comes when the condition ends. What event and flapping rules
remember of every ``ok`` entity (one record per interface and rule: hundreds of thousands on a large
network) goes to a sibling ``*.edges.json``, at most every 30 s and at ``save()``. Each is a snapshot
written rarely plus an append-only journal of the records that changed since (``netpoll.alerts.journal``):
once a journal would outgrow its snapshot, a new snapshot replaces both. So a save costs what changed since
the last one, in an alert storm too, and a snapshot's full walk is amortised over as many changes as it
holds records.
"""

from __future__ import annotations

import json
import logging
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netpoll.alerts.alert import Alert, new_alert_id
from netpoll.alerts.journal import Changes, SnapshotJournal
from netpoll.alerts.rules import Hold, Rule, Scope, comparator, usable_value
from netpoll.alerts.state import (
    RuleState,
    StateKey,
    Transition,
    active_journal_line,
    at_rest,
    baseline_ratio,
    dump_edges,
    dump_states,
    edge_journal_line,
    flap_count,
    parse_active_journal,
    parse_edge_journal,
    parse_edges,
    parse_states,
    step_event,
    step_threshold,
)
from netpoll.devicelog import device_log
from netpoll.measurements import MODEL, Model
from netpoll.numbers import human
from netpoll.sample import FieldValue, Sample

__all__ = ["Alert", "AlertEngine"]

logger = logging.getLogger("netpoll.alerts")

# Pending runs and flapping histories are saved at most this often when nothing was published:
# losing them to a crash only delays an alert by a few samples.
IDLE_SAVE_INTERVAL_S = 30.0
# The active journal may grow to the larger of this and its snapshot before a new snapshot replaces both: in
# an alert storm the snapshot then doubles at most every so often, and a save stays one appended line.
ACTIVE_JOURNAL_MIN_BYTES = 1 << 20


class AlertEngine:
    """Evaluates rules over samples, one state machine per (rule, device, entity).

    Args:
        rules: validated rules (``netpoll.alerts.rules.load_rules``).
        state_path: JSON file to persist state to and restore it from; None keeps state in memory only.
        model: the measurements the rules were validated against; their ``subject_tag`` names what a
            record is about (its alerts' ``device``).
    """

    def __init__(
        self, rules: Sequence[Rule], state_path: str | Path | None = None, model: Model = MODEL
    ) -> None:
        self.rules = tuple(rules)
        self.state_path = Path(state_path) if state_path is not None else None
        # Per measurement: the tag naming what a record is about (``device``; ``instance`` for the
        # poller's own ``netpoll`` records) and the rules watching it, compiled once (``_Watch``).
        by_measurement: dict[str, list[Rule]] = {}
        for rule in self.rules:
            by_measurement.setdefault(rule.measurement, []).append(rule)
        self._watches = {
            measurement: _Watch.of(model.subject_tag(measurement), rules)
            for measurement, rules in by_measurement.items()
        }
        # Rules that watch every device and entity: the scope check is skipped (it runs for every sample).
        self._unscoped = frozenset(rule.name for rule in self.rules if rule.scope == Scope())
        self._states: dict[StateKey, RuleState] = {}
        # How many of those states each rule holds: a threshold rule holding none skips every sample that
        # does not breach without looking for its entity's state.
        self._held: dict[str, int] = {}
        # Keys of the states that are not ``ok`` (what the active file holds), in the order they became so.
        self._active: dict[StateKey, None] = {}
        # The two state files, each a snapshot with a journal (``netpoll.alerts.journal``): the states that
        # are not ok, and what event/flapping/baseline rules remember of ok entities (the edges).
        self._active_file: SnapshotJournal | None = None
        self._edges_file: SnapshotJournal | None = None
        if self.state_path is not None:

            def beside(suffix: str) -> Path:
                assert self.state_path is not None
                return self.state_path.with_name(self.state_path.stem + suffix)

            self._active_file = SnapshotJournal(
                self.state_path, beside(".journal"), min_journal_bytes=ACTIVE_JOURNAL_MIN_BYTES
            )
            self._edges_file = SnapshotJournal(beside(".edges.json"), beside(".edges.journal"))
        # What changed since the last write of each file: the active records (a snapshot is due first), and
        # the edge records (event/flapping/baseline memory of ok entities).
        self._active_changes = Changes(full=True)
        self._dirty = False  # active (not ok) states changed since the last write
        self._edge_changes = Changes()
        self._last_save = self._last_edges_save = time.monotonic()
        # Set by an owner that calls ``save_in_steps``: ``evaluate`` then only appends to the edges journal,
        # and leaves a snapshot (seconds of encoding at tens of thousands of devices) to it.
        self.snapshots_in_steps = False
        self._snapshotting = False  # a snapshot of the edges is being written in steps
        if self.state_path is not None:
            self._restore(self.state_path)

    # ----------------------------------------------------------------------------------------------

    def evaluate(self, samples: Iterable[Sample]) -> list[Alert]:
        """Feed samples (any measurements, in time order) and return the alerts to publish, in order."""
        alerts: list[Alert] = []
        watches, held = self._watches, self._held
        for sample in samples:
            watch = watches.get(sample.measurement)
            if watch is None:
                continue
            tags = sample.tags
            device = tags.get(watch.subject, "")
            if not device:
                continue
            for rule in watch.traps:
                alert = _trap_event(rule, device, sample)
                if alert is not None:
                    alerts.append(alert)
            fields = sample.fields
            entity_tag: str | None = _NO_TAG
            entity = ""
            for rule, name, field, breaching in watch.rules:
                value = fields.get(field)
                if value is None:
                    continue  # a missing value is no sample: never a clear
                if breaching is not None and not held.get(name) and not breaching(value):
                    continue  # the common case: a threshold rule, all is well and nothing held
                if rule.entity_tag != entity_tag:  # the rules of a measurement mostly share it
                    entity_tag, entity = rule.entity_tag, rule.entity_of(tags)
                alert = self._evaluate_one(rule, device, entity, sample, value)
                if alert is not None:
                    alerts.append(alert)
        now = time.monotonic()
        for alert in alerts:
            _log(alert)
        # A breach or clear is saved before it is published; an event changes nothing in the active file
        # (event rules stay ``ok``), so a batch of events alone does not rewrite it.
        published_change = any(alert.state != "event" for alert in alerts)
        if self._dirty and (published_change or now - self._last_save >= IDLE_SAVE_INTERVAL_S):
            self._save_active()
        if (
            self._edge_changes
            and now - self._last_edges_save >= IDLE_SAVE_INTERVAL_S
            and not self._snapshotting
        ):
            self._save_edges(append_only=self.snapshots_in_steps)
        return alerts

    def _evaluate_one(
        self, rule: Rule, device: str, entity: str, sample: Sample, value: FieldValue
    ) -> Alert | None:
        if not usable_value(value):
            return None  # NaN: no sample, never a clear
        key = (rule.name, device, entity)
        state = self._states.get(key)
        if state is None:
            if rule.kind == "threshold" and not rule.breaching(value):
                return None  # all is well and nothing to remember (in scope or not)
        elif at_rest(rule, state, value):
            return None  # a step would change nothing (in scope or not): the usual event and flapping case
        if rule.name not in self._unscoped and not rule.scope.matches(sample.tags, entity, device):
            return None
        if rule.when and not rule.applies(sample.fields):
            return None
        now = sample.time_ns
        transition: Transition | None
        if state is None:
            state = self._new_state(key)
        if rule.kind == "event":
            before = state.matched
            transition = step_event(rule, state, value)
            if before != state.matched:
                self._edge_changes.add(key)
        elif rule.kind in ("flapping", "baseline"):
            transition, value = self._step_remembering(rule, key, state, value, now)
        else:
            before_phase = state.phase
            transition = step_threshold(rule, state, value, now)
            if state.phase != before_phase or state.phase in ("pending", "clearing"):
                self._active_changed(key)
                self._track(key, state)
            if state.is_idle():
                self._drop_state(key)
        if transition is None:
            return None
        return self._alert(rule, device, entity, sample, value, state, transition)

    def _new_state(self, key: StateKey) -> RuleState:
        state = self._states[key] = RuleState()
        self._held[key[0]] = self._held.get(key[0], 0) + 1
        return state

    def _drop_state(self, key: StateKey) -> None:
        del self._states[key]
        self._held[key[0]] -= 1

    def _step_remembering(
        self, rule: Rule, key: StateKey, state: RuleState, value: FieldValue, now: int
    ) -> tuple[Transition | None, FieldValue]:
        """Step a flapping or baseline rule, whose state remembers past samples; (transition, alert value)."""
        memory = state.memory()
        before_phase = state.phase
        transition: Transition | None = None
        if rule.kind == "flapping":
            value = flap_count(rule, state, value, now)
            transition = step_threshold(rule, state, value, now)
        else:
            ratio = baseline_ratio(rule, state, value)
            if ratio is not None:
                transition = step_threshold(rule, state, ratio, now)
        remembered = memory != state.memory()
        # An ok entity's memory is in the edges file, any other's in the active file; a change of
        # phase to or from ok moves it from one to the other.
        moved = (before_phase == "ok") != (state.phase == "ok")
        if moved or (remembered and state.phase == "ok"):
            self._edge_changes.add(key)
        if moved:
            self._track(key, state)
        if (
            before_phase != state.phase
            or state.phase in ("pending", "clearing")
            or (remembered and state.phase != "ok")
        ):
            self._active_changed(key)
        return transition, value

    def _track(self, key: StateKey, state: RuleState) -> None:
        """Keep the index of states that are not ``ok`` up to date after a step changed a phase."""
        if state.phase == "ok":
            self._active.pop(key, None)
        else:
            self._active[key] = None

    def _active_changed(self, key: StateKey) -> None:
        self._dirty = True
        self._active_changes.add(key)

    def _alert(
        self,
        rule: Rule,
        device: str,
        entity: str,
        sample: Sample,
        value: FieldValue,
        state: RuleState,
        transition: Transition,
    ) -> Alert:
        now = sample.time_ns
        alert_id = new_alert_id(now)
        breach_id = ""
        if transition == "breach":
            state.breach_id = alert_id
            since = state.since_ns
        elif transition == "clear":
            breach_id, state.breach_id = state.breach_id, ""
            since = state.since_ns
        else:
            since = now
        return Alert(
            id=alert_id,
            state=transition,
            rule=rule.name,
            severity=rule.severity,
            device=device,
            entity=entity,
            measurement=rule.measurement,
            field=rule.field,
            value=value,
            threshold=rule.breach,
            clear_threshold=None if rule.kind == "event" else rule.clear,
            since_ns=since,
            time_ns=now,
            message=_message(rule, device, entity, value, transition, sample.fields),
            breach_id=breach_id,
            tags=dict(sample.tags),
        )

    # ----------------------------------------------------------------------------------------------

    def active(self) -> list[StateKey]:
        """(rule, device, entity) of every breach published and not yet cleared."""
        return [key for key in self._active if self._states[key].phase in ("breached", "clearing")]

    def forget(self, device: str) -> None:
        """Drop all state of a device (removed from the inventory); its breaches will never clear."""
        for key in [key for key in self._states if key[1] == device]:
            self._drop_state(key)
            self._active.pop(key, None)
            self._edge_changes.add(key)  # gone from the edges file
            self._active_changed(key)  # and from the active one

    def save(self) -> None:
        """Write the state files that changed since their last write (no-op without ``state_path``).

        Errors are logged, not raised (the file stays due for the next save).
        """
        if self._dirty:
            self._save_active()
        if self._edge_changes and not self._snapshotting:
            self._save_edges()

    async def save_in_steps(self, deadline: float | None = None) -> None:
        """``save`` for an owner on the event loop: a snapshot of the edges is encoded in steps.

        The loop runs its polls between the steps; a cancellation abandons the snapshot, the files on disk
        staying as they were, and so does ``deadline`` (``time.monotonic()``) passing before it is written
        (one record per interface and rule: seconds at tens of thousands of devices). The active states, few
        and what a restart must not lose, are always written.
        """
        if self._dirty:
            self._save_active()
        files = self._edges_file
        if not self._edge_changes or self._snapshotting:
            return
        if files is None:  # kept in memory only
            self._edge_changes.take()
            return
        full, changes = self._edge_changes.take()  # what changes from now on is recorded afresh
        if not full and files.append(lambda g: edge_journal_line(g, self._changed(changes))):
            self._last_edges_save = time.monotonic()
            return
        self._snapshotting = True  # evaluate() appends nothing meanwhile: this snapshot drops the journal
        try:
            # The keys as they are now; each record is read when its turn comes (gone by then: skipped). A
            # change meanwhile is also in _edge_changes, for the journal of the new snapshot.
            keys = list(self._states)
            live = ((key, state) for key in keys if (state := self._states.get(key)) is not None)
            written = await files.write_snapshot_in_steps(lambda g: dump_edges(live, g), deadline)
        except BaseException:
            self._edge_changes.full = True
            raise
        finally:
            self._snapshotting = False
            self._last_edges_save = time.monotonic()
        if not written:
            self._edge_changes.full = True  # still due, with every change since the last one

    def _save_active(self) -> None:
        """Append the active states that changed to the journal, or write a new snapshot of them all."""
        full, changes = self._active_changes.take()
        files = self._active_file
        if files is not None:
            appended = not full and (
                not changes or files.append(lambda g: active_journal_line(g, self._changed(changes)))
            )
            # The records of a snapshot only when one is written: a save that appended a line costs what
            # changed, not a walk over every active state (3,000 breaches: 1 ms per save, in the event loop).
            active = ((key, self._states[key]) for key in self._active)
            if not appended and not files.write_snapshot(lambda g: dump_states(active, g)):
                self._active_changes.full = True  # still dirty: the next save tries a snapshot again
                return
        self._dirty = False
        self._last_save = time.monotonic()

    def _save_edges(self, append_only: bool = False) -> None:
        """Append what changed to the journal, or write a new snapshot when the journal would outgrow it.

        With ``append_only``, a snapshot due is left for later (to ``save_in_steps``).
        """
        full, changes = self._edge_changes.take()
        files = self._edges_file
        written = True
        if files is not None:
            written = not full and files.append(lambda g: edge_journal_line(g, self._changed(changes)))
            if not written and not append_only:
                written = files.write_snapshot(lambda g: dump_edges(self._states.items(), g))
            # Not written: a snapshot (which holds every change) is due at the next save.
            self._edge_changes.full = self._edge_changes.full or not written
        self._last_edges_save = time.monotonic()

    def _changed(self, keys: set[StateKey]) -> Iterator[tuple[StateKey, RuleState | None]]:
        """The current state of each key, in a stable order (None: gone)."""
        return ((key, self._states.get(key)) for key in sorted(keys))

    def _restore(self, path: Path) -> None:
        # Edges first: an entity that is also in the active file is described by it.
        assert self._active_file is not None
        assert self._edges_file is not None
        edges, journaled = self._edges_file.read(parse_edges, parse_edge_journal)
        # Fold the edges journal into a new snapshot at the first save (a torn last line is never appended
        # to); the active one always is (its changes start ``full``).
        if journaled:
            self._edge_changes.full = True
        records = edges + self._active_file.read(parse_states, parse_active_journal)[0]
        names = {rule.name for rule in self.rules}
        dropped = 0
        for key, state in records:
            if key[0] in names:
                if key not in self._states:
                    self._held[key[0]] = self._held.get(key[0], 0) + 1
                self._states[key] = state
            else:
                dropped += 1
        self._active = {key: None for key, state in self._states.items() if state.phase != "ok"}
        if dropped:
            logger.warning("alert state: dropped %d record(s) of rules that no longer exist", dropped)
            # Rewrite the files without them at the next save.
            self._dirty = self._active_changes.full = self._edge_changes.full = True
        if records:
            logger.info(
                "alert state restored from %s: %d record(s), %d active",
                path,
                len(self._states),
                len(self.active()),
            )


_NO_TAG = "\0"  # no rule's entity tag: the first rule of a sample always looks its entity up


@dataclass(frozen=True, slots=True)
class _Watch:
    """The rules watching one measurement, compiled for the loop that runs them on every sample.

    Attributes:
        subject: the tag naming what a record is about (its alerts' ``device``).
        traps: trap rules (they match a notification's name, not a field).
        rules: the other rules as (rule, name, field, breaching); ``breaching`` is set for threshold rules,
            which a sample that does not breach cannot move while the rule holds no state.
    """

    subject: str
    traps: tuple[Rule, ...]
    rules: tuple[tuple[Rule, str, str, Callable[[FieldValue], bool] | None], ...]

    @classmethod
    def of(cls, subject: str, rules: Iterable[Rule]) -> _Watch:
        """Compile the rules of one measurement."""
        traps: list[Rule] = []
        fields: list[tuple[Rule, str, str, Callable[[FieldValue], bool] | None]] = []
        for rule in rules:
            if rule.traps:
                traps.append(rule)
            else:
                quick = comparator(rule.comparison, rule.breach) if rule.kind == "threshold" else None
                fields.append((rule, rule.name, rule.field, quick))
        return cls(subject, tuple(traps), tuple(fields))


def _trap_event(rule: Rule, device: str, sample: Sample) -> Alert | None:
    """An event when a ``trap`` record matches a trap rule (no state: every matching notification counts)."""
    name = sample.tags.get("trap", "")
    entity = rule.entity_of(sample.tags)
    if not rule.scope.matches(sample.tags, entity, device):
        return None
    raw = sample.fields.get("varbinds")
    try:
        varbinds = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        varbinds = {}
    if not isinstance(varbinds, dict) or not rule.matches_trap(name, varbinds):
        return None
    where = f"{device} {entity}" if entity else device
    shown = ", ".join(f"{key}={value}" for key, value in list(varbinds.items())[:6])
    return Alert(
        id=new_alert_id(sample.time_ns),
        state="event",
        rule=rule.name,
        severity=rule.severity,
        device=device,
        entity=entity,
        measurement=rule.measurement,
        field="trap",
        value=name,
        threshold=name,
        clear_threshold=None,
        since_ns=sample.time_ns,
        time_ns=sample.time_ns,
        message=f"{where}: {rule.name}: {name}" + (f" ({shown})" if shown else ""),
        tags=dict(sample.tags),
    )


def _message(
    rule: Rule,
    device: str,
    entity: str,
    raw: FieldValue,
    transition: Transition,
    fields: Mapping[str, FieldValue] | None = None,
) -> str:
    where = f"{device} {entity}" if entity else device
    # Four significant digits for people (94.99, not 94.98664567052643); the alert's value keeps them all.
    value = human(raw, 4)
    what = "changes" if rule.kind == "flapping" else rule.field
    if rule.kind == "baseline":
        # The levels are ratios to the entity's own recent median.
        if transition == "clear":
            return f"{where}: {rule.name} cleared: {what}={value} (no longer {rule.clear} x its baseline)"
        return (
            f"{where}: {rule.name} breached: {what}={value}, more than {rule.breach} x its baseline"
            f" (median of the previous {rule.baseline_samples} samples)"
        )
    if transition == "clear":
        return f"{where}: {rule.name} cleared: {what}={value} (no longer {rule.comparison} {rule.clear})"
    if transition == "event":
        return f"{where}: {rule.name}: {what}={value} ({rule.comparison} {rule.breach})"
    hold = f" for {rule.hold.describe()}" if rule.hold != Hold() else ""
    advice = f": {_advice(rule.advice, fields or {})}" if rule.advice else ""
    return f"{where}: {rule.name} breached: {what}={value} {rule.comparison} {rule.breach}{hold}{advice}"


def _advice(text: str, fields: Mapping[str, FieldValue]) -> str:
    """A rule's advice with each ``{field}`` replaced by that field of the sample (``?`` when absent)."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(text):
        parts.append(literal)
        if name is not None:
            parts.append(human(fields[name], 4) if name in fields else "?")
    return "".join(parts)


def _log(alert: Alert) -> None:
    level = logging.INFO if alert.state == "clear" else logging.WARNING
    # The message names the device itself (it is the published one); the record carries it as ``device`` too.
    log = device_log(logger, alert.device)
    log.log(level, "alert %s [%s] %s id=%s", alert.state, alert.severity, alert.message, alert.id)
