"""The device status board: what the daemon knows about each device now, for the status page and ``/metrics``.

The scheduler reports every poll's ``ProbeResult`` (``poll_done``) and every poll the poller was too busy for
(``poll_overloaded``, with the reason: a device's state is then ``overloaded``, never ``failing``);
the daemon reports every alert transition (``alert``) and the inventory (``set_inventory``). The board keeps,
per device, the last result of each probe kind, a short history of poll results, the last poll's samples and
the recent alerts, and answers with plain dicts (the JSON of ``/api/...``; the HTML page renders the same).

Memory is bounded per device (``history`` results, ``alert_history`` alerts, one poll's samples per kind), and
a device removed from the inventory is forgotten. At tens of thousands of devices what is kept per device
is most of the daemon's memory, so it is kept packed (tuples, field names shared between samples) and
turned into dicts only when asked for.
"""

from __future__ import annotations

import time
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from netpoll.sample import FieldValue, Sample

if TYPE_CHECKING:
    from netpoll.alerts.alert import Alert
    from netpoll.daemon.overload import Reason
    from netpoll.inventory.models import Device
    from netpoll.probe import ProbeResult

State = Literal["ok", "failing", "overloaded", "disabled", "pending"]
STATES: tuple[State, ...] = ("failing", "overloaded", "ok", "pending", "disabled")


@dataclass(slots=True)
class ProbeStatus:
    """The latest result of one probe kind (``snmp`` or ``ping``) of one device."""

    ok: bool
    error: str
    ended_at: float  # wall-clock seconds
    duration_s: float
    last_success_at: float | None
    polls: int = 1
    failures_in_row: int = 0
    late: bool = False  # started late: the poller, not the device, could not keep up


# One poll result: (kind, time, ok (None: overloaded), duration_s, error, overload reason).
_Result = tuple[str, float, bool | None, float, str, str]
# The last poll's samples of one kind, packed (``_pack``): a dict per sample of ~20 fields costs ~1 KB with
# its number objects. Per sample its measurement, tags, shape (field names and value types, shared by every
# sample of the same shape) and time go into one flat tuple; the values of every sample whose values are all
# numbers that survive a double exactly (ints below 2^53, no NaN) into one array of doubles for the whole
# poll, the others' values stay a tuple. One array and one tuple per poll, not an array and a tuple per
# sample (~2 KB less per device of 21 interfaces).
_Shape = tuple[tuple[str, ...], tuple[type, ...]]
_STRIDE = 5  # measurement, tags, shape, time_ns, the values' tuple (None: in the array)
_Packed = tuple["array[float]", tuple[Any, ...]]
# Each shape once, with whether its values can go into the array (only numbers can).
_SHAPES: dict[_Shape, tuple[_Shape, bool]] = {}
_NUMBERS = frozenset({int, float, bool})
_NO_SAMPLES: _Packed = (array("d"), ())


def _pack(samples: Iterable[Sample]) -> _Packed:
    flat: list[Any] = []
    numbers: list[FieldValue] = []
    for sample in samples:
        fields = sample.fields
        values = tuple(fields.values())
        shape = (tuple(fields), tuple(map(type, values)))
        known = _SHAPES.get(shape)
        if known is None:
            if (
                len(_SHAPES) >= 4096
            ):  # shapes are few (measurements x the fields a device has); a bound anyway
                _SHAPES.clear()
            known = _SHAPES[shape] = (shape, all(kind in _NUMBERS for kind in shape[1]))
        shared, numeric = known
        flat += (sample.measurement, sample.tags, shared, sample.time_ns, None if numeric else values)
        if numeric:
            numbers += values
    packed = array("d", cast("list[float]", numbers))
    if packed.tolist() != numbers:  # a value a double does not hold exactly: that sample keeps its tuple
        return _pack_each(flat, numbers)
    return packed, tuple(flat)


def _pack_each(flat: list[Any], numbers: list[FieldValue]) -> _Packed:
    kept: list[float] = []
    at = 0
    for i in range(0, len(flat), _STRIDE):
        if flat[i + 4] is None:
            values = numbers[at : at + len(flat[i + 2][0])]
            at += len(values)
            exact = array("d", cast("list[float]", values))
            if exact.tolist() == values:
                kept += exact
            else:
                flat[i + 4] = tuple(values)
    return array("d", kept), tuple(flat)


def _unpack(packed: _Packed) -> list[dict[str, Any]]:
    """The samples, in the form of ``Sample.to_dict``."""
    numbers, flat = packed
    out = []
    at = 0
    for i in range(0, len(flat), _STRIDE):
        measurement, tags, (names, types), time_ns, values = flat[i : i + _STRIDE]
        fields: dict[str, FieldValue]
        if values is None:
            fields = {n: t(v) for n, t, v in zip(names, types, numbers[at : at + len(names)], strict=True)}
            at += len(names)
        else:
            fields = dict(zip(names, values, strict=True))
        out.append({"measurement": measurement, "tags": dict(tags), "fields": fields, "time": time_ns})
    return out


class _History:
    """The last poll results of one device, newest first when read; at most ``size``.

    A ring, not a deque of result tuples: the times and durations in two arrays of doubles, the kind and
    outcome in one number, the error and overload reason (rare: "" for an ok poll) by slot. 30 results took
    ~4.6 KB per device as tuples with their floats, ~0.8 KB so.
    """

    __slots__ = ("_codes", "_durations", "_next", "_texts", "_times")
    _KINDS: ClassVar[dict[str, int]] = {}  # kind → number (a handful: snmp, ping), shared by every device
    _NAMES: ClassVar[list[str]] = []  # number → kind

    def __init__(self, size: int) -> None:
        self._times = array("d", bytes(8 * size))
        self._durations = array("d", bytes(8 * size))
        self._codes = array(
            "H", bytes(2 * size)
        )  # 0: empty; else 1 + 3 x kind + (0 failed, 1 ok, 2 overloaded)
        self._texts: dict[int, tuple[str, str]] | None = None
        self._next = 0

    def add(
        self, kind: str, when: float, ok: bool | None, duration_s: float, error: str, reason: str
    ) -> None:
        """One result (``ok`` None: overloaded); past ``size`` the oldest goes."""
        size = len(self._codes)
        if not size:
            return
        number = self._KINDS.get(kind)
        if number is None:
            number = self._KINDS[kind] = len(self._NAMES)
            self._NAMES.append(kind)
        slot = self._next
        self._next = (slot + 1) % size
        self._times[slot] = when
        self._durations[slot] = duration_s
        self._codes[slot] = 1 + 3 * number + (2 if ok is None else int(ok))
        texts = self._texts
        if error or reason:
            if texts is None:
                texts = self._texts = {}
            texts[slot] = (error, reason)
        elif texts:
            texts.pop(slot, None)

    def __iter__(self) -> Iterator[_Result]:
        size = len(self._codes)
        texts = self._texts or {}
        for back in range(1, size + 1):
            slot = (self._next - back) % size
            code = self._codes[slot]
            if not code:
                return
            number, outcome = divmod(code - 1, 3)
            ok = None if outcome == 2 else bool(outcome)
            error, reason = texts.get(slot, ("", ""))
            yield self._NAMES[number], self._times[slot], ok, self._durations[slot], error, reason


def _result_dict(result: _Result) -> dict[str, Any]:
    kind, when, ok, duration_s, error, reason = result
    if ok is None:
        return {"kind": kind, "time": when, "ok": None, "overloaded": reason, "error": error}
    return {"kind": kind, "time": when, "ok": ok, "duration_s": duration_s, "error": error}


@dataclass(slots=True)
class _Entry:
    device: Device
    scheduled: bool
    history: _History
    probes: dict[str, ProbeStatus] = field(default_factory=dict)
    last_samples: dict[str, _Packed] = field(default_factory=dict)
    alerts: deque[dict[str, Any]] | None = None  # created with the device's first alert
    active_alerts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    overloaded_at: float = 0.0
    overload_reason: str = ""


class StatusBoard:
    """Per-device live status, fed by the scheduler and the alert pipeline.

    Args:
        history: poll results kept per device.
        alert_history: alert transitions kept per device.
    """

    def __init__(self, history: int = 30, alert_history: int = 50) -> None:
        self._history = history
        self._alert_history = alert_history
        self._entries: dict[str, _Entry] = {}
        self.started_at = time.time()

    # ---- feeding ----

    def set_inventory(self, devices: Iterable[Device], scheduled: Iterable[str]) -> None:
        """The inventory's devices (disabled ones too) and the names this daemon schedules."""
        on = set(scheduled)
        fresh: dict[str, _Entry] = {}
        for device in devices:
            if not device.enabled or device.name in on:  # another shard's devices are not ours to show
                entry = self._entries.get(device.name) or self._new_entry(device)
                entry.device, entry.scheduled = device, device.name in on
                fresh[device.name] = entry
        self._entries = fresh

    def _new_entry(self, device: Device) -> _Entry:
        return _Entry(device, True, _History(self._history))

    def poll_done(self, kind: str, name: str, result: ProbeResult, *, late: bool = False) -> None:
        """One poll of ``kind`` of device ``name`` came to ``result``.

        ``late``: it started late (waiting for a free slot or for the event loop), a sign of an overloaded
        poller rather than of a failing device.
        """
        entry = self._entries.get(name)
        if entry is None:
            return
        now = time.time()
        ok = result.ok
        error = "" if ok else (result.error or "poll failed")
        duration_s = result.duration_s
        samples = result.samples
        previous = entry.probes.get(kind)
        entry.probes[kind] = ProbeStatus(
            ok=ok,
            error=error,
            ended_at=now,
            duration_s=duration_s,
            last_success_at=now if ok else (previous.last_success_at if previous else None),
            polls=(previous.polls + 1) if previous else 1,
            failures_in_row=0 if ok else (previous.failures_in_row + 1 if previous else 1),
            late=late,
        )
        entry.last_samples[kind] = _pack(samples)
        entry.history.add(kind, now, ok, round(duration_s, 4), error, "")

    def poll_overloaded(self, kind: str, name: str, reason: Reason) -> None:
        """A poll of ``kind`` was the poller's problem (``reason``, see ``netpoll.daemon.overload``)."""
        entry = self._entries.get(name)
        if entry is not None:
            entry.overloaded_at = time.time()
            entry.overload_reason = f"{kind}: {reason}"
            entry.history.add(kind, entry.overloaded_at, None, 0.0, "", reason)

    def alert(self, alert: Alert) -> None:
        """One alert transition (breach, clear or event)."""
        entry = self._entries.get(alert.device)
        if entry is None:
            return
        record = {
            "time": alert.time_ns / 1e9,
            "state": alert.state,
            "rule": alert.rule,
            "severity": alert.severity,
            "entity": alert.entity,
            "message": alert.message,
        }
        if entry.alerts is None:
            entry.alerts = deque(maxlen=self._alert_history)
        entry.alerts.appendleft(record)
        key = (alert.rule, alert.entity)
        if alert.state == "breach":
            entry.active_alerts[key] = record
        elif alert.state == "clear":
            entry.active_alerts.pop(key, None)

    # ---- reading ----

    def probes(self) -> Iterable[tuple[str, str, ProbeStatus]]:
        """(device, kind, status) of every probe that has run, for the per-device metrics."""
        for name, entry in self._entries.items():
            for kind, status in entry.probes.items():
                yield name, kind, status

    def devices(self) -> list[dict[str, Any]]:
        """One summary dict per device (the rows of the status page and of ``/api/devices``)."""
        return [self._summary(entry) for entry in self._entries.values()]

    def device(self, name: str) -> dict[str, Any] | None:
        """Everything about one device: its summary, recent poll results, last samples and alerts."""
        entry = self._entries.get(name)
        if entry is None:
            return None
        detail = self._summary(entry)
        detail["history"] = [_result_dict(result) for result in entry.history]
        detail["alert_history"] = list(entry.alerts or ())
        detail["samples"] = [
            sample for kind in sorted(entry.last_samples) for sample in _unpack(entry.last_samples[kind])
        ]
        return detail

    def _summary(self, entry: _Entry) -> dict[str, Any]:
        device = entry.device
        probes = entry.probes
        state = _state(entry)
        errors = [f"{kind}: {status.error}" for kind, status in sorted(probes.items()) if status.error]
        last = max(probes.values(), key=lambda status: status.ended_at, default=None)
        snmp = entry.last_samples.get("snmp", _NO_SAMPLES)[1]
        return {
            "name": device.name,
            "address": device.address,
            "site": device.site,
            "role": device.role,
            "state": state,
            "error": "; ".join(errors),
            "last_poll": last.ended_at if last else None,
            "last_duration_s": round(last.duration_s, 4) if last else None,
            "interfaces": snmp[::_STRIDE].count("interface"),
            "active_alerts": sorted(entry.active_alerts.values(), key=lambda a: (a["rule"], a["entity"])),
            # The last poll the poller was too busy for (``kind: reason``) and when; "" / None: none yet.
            "overloaded": entry.overload_reason,
            "last_overloaded": entry.overloaded_at or None,
            "probes": {
                kind: {
                    "ok": status.ok,
                    "error": status.error,
                    "last_poll": status.ended_at,
                    "duration_s": round(status.duration_s, 4),
                    "last_success": status.last_success_at,
                    "polls": status.polls,
                    "failures_in_row": status.failures_in_row,
                }
                for kind, status in sorted(probes.items())
            },
        }


def _state(entry: _Entry) -> State:
    if not entry.device.enabled or not entry.scheduled:
        return "disabled"
    if not entry.probes:
        return "overloaded" if entry.overloaded_at else "pending"
    if any(not status.ok for status in entry.probes.values()):
        return "failing"
    last_end = max(status.ended_at for status in entry.probes.values())
    if any(status.late for status in entry.probes.values()) or entry.overloaded_at >= last_end:
        return "overloaded"  # the poller is behind: polls start late, or it had no time for the last one
    return "ok"
