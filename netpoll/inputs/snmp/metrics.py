"""Rate maths for SNMP polls: interface bps/pps/errors/utilisation, device counters, uptime and reboots.

Pure and synchronous: the poller hands in decoded columns and the previous state, gets back ``Sample``
records and the new state. Everything here runs once per interface per poll, so it avoids per-varbind
work beyond a dict lookup and keeps allocations to the output records themselves.

Counter semantics:

- A rate needs the same interface (same ifIndex *and* same ifName/ifDescr) in the previous poll, a positive
  elapsed time and no reboot in between.
- A counter that went down is a wrap if that is plausible (see ``counter_delta``), otherwise a reset: that
  counter gives no rate for this sample.
- Time is the arrival time of the response, in nanoseconds.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netpoll.inputs.snmp.replies import STATS
from netpoll.inputs.snmp.types import Oid, SnmpValue
from netpoll.measurements import INTERFACE
from netpoll.sample import FieldValue, Sample

MAX32 = 1 << 32
MAX64 = 1 << 64
# sysUpTime is TimeTicks (1/100 s, 32 bits): it wraps after about 497 days.
UPTIME_WRAP_S = MAX32 / 100
# ifSpeed saturates at its maximum for interfaces faster than 4.29 Gbit/s (then ifHighSpeed is the truth).
IF_SPEED_SATURATED = MAX32 - 1
# No interface is faster (1.6 Tbit/s Ethernet, 64-port LAGs of 400G: 25.6 Tbit/s): beyond is a broken agent.
MAX_SPEED_BPS = 100 * 10**12
# Slack on the line-rate plausibility check for wraps: agents refresh counters at their own pace.
LINE_RATE_SLACK = 1.5
# Smallest Ethernet frame on the wire, for the most packets a link can carry per second.
MIN_FRAME_BYTES = 64

# (role, 64-bit column, 32-bit column): the 64-bit one is used when both polls have it.
OCTETS_IN = ("ifHCInOctets", "ifInOctets")
OCTETS_OUT = ("ifHCOutOctets", "ifOutOctets")
PKTS_IN = (
    ("ifHCInUcastPkts", "ifInUcastPkts"),
    ("ifHCInMulticastPkts", "ifInMulticastPkts"),
    ("ifHCInBroadcastPkts", "ifInBroadcastPkts"),
)
PKTS_OUT = (
    ("ifHCOutUcastPkts", "ifOutUcastPkts"),
    ("ifHCOutMulticastPkts", "ifOutMulticastPkts"),
    ("ifHCOutBroadcastPkts", "ifOutBroadcastPkts"),
)
# 32-bit only counters, with their output field.
ERROR_COUNTERS = (
    ("ifInErrors", "in_errors_ps"),
    ("ifOutErrors", "out_errors_ps"),
    ("ifInDiscards", "in_discards_ps"),
    ("ifOutDiscards", "out_discards_ps"),
)
STATUS_COLUMNS = (("ifOperStatus", "oper_status"), ("ifAdminStatus", "admin_status"))

#: Every IF-MIB counter column the maths understands (raw values go out under these names).
COUNTER_COLUMNS: tuple[str, ...] = (
    *OCTETS_IN,
    *OCTETS_OUT,
    *(name for pair in PKTS_IN + PKTS_OUT for name in pair),
    *(name for name, _ in ERROR_COUNTERS),
)

# The counter state of a device's interfaces between polls is one ``IfCounters``: a layout saying which
# interfaces it holds and which counter columns each had, and one array of 8-byte raw values (per interface:
# the time, then its counters). A fleet of one switch model polls the same interfaces with the same columns,
# so the layout is shared between devices (``_layout``) and a device keeps ~8 bytes per counter: a dict of
# (time, tuple of ints) per interface took 16 KB for 21 interfaces of 12 counters, the array takes 2.3 KB.
IfKey = tuple[int, str]
# One interface of a layout: ifIndex, name (the counter state's key) and its counter column names.
_Entry = tuple[int, str, tuple[str, ...]]
_LAYOUTS_MAX = 50_000
_COLUMN_SETS_MAX = 1024


class _Layout:
    """Which interfaces a counter state holds, and where each one's values start (shared, immutable)."""

    __slots__ = ("_index", "entries", "offsets")

    def __init__(self, entries: tuple[_Entry, ...]) -> None:
        self.entries = entries
        offsets: list[int] = []
        at = 0
        for _, _, names in entries:
            offsets.append(at)
            at += 1 + len(names)
        self.offsets = tuple(offsets)
        self._index: dict[IfKey, int] | None = None  # built when a poll's interfaces are not in this order

    def find(self, index: int, name: str) -> int | None:
        """Position of interface (``index``, ``name``) in ``entries``, or None."""
        if self._index is None:
            self._index = {(i, n): pos for pos, (i, n, _) in enumerate(self.entries)}
        return self._index.get((index, name))


_LAYOUTS: dict[tuple[_Entry, ...], _Layout] = {}
_COLUMN_SETS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _layout(entries: tuple[_Entry, ...], prev: IfCounters | None) -> _Layout:
    """The shared layout of ``entries``: the previous poll's when they are the same interfaces."""
    if prev is not None and prev.layout.entries == entries:
        return prev.layout
    layout = _LAYOUTS.get(entries)
    if layout is None:
        if len(_LAYOUTS) >= _LAYOUTS_MAX:  # a bound: devices keep theirs, only the sharing starts afresh
            _LAYOUTS.clear()
        if len(_COLUMN_SETS) >= _COLUMN_SETS_MAX:  # column sets are few (profiles x fallbacks)
            _COLUMN_SETS.clear()
        shared = tuple((i, n, _COLUMN_SETS.setdefault(names, names)) for i, n, names in entries)
        layout = _LAYOUTS[entries] = _Layout(shared)
    return layout


class IfCounters:
    """The raw counters of a device's interfaces at their last poll, for the next poll's rates.

    Built by ``interface_samples`` (and ``if_state_from_json``); immutable once built.
    """

    __slots__ = ("layout", "values")

    def __init__(self, layout: _Layout, values: array[int]) -> None:
        self.layout = layout
        self.values = values

    def __len__(self) -> int:
        return len(self.layout.entries)

    def items(self) -> Iterator[tuple[IfKey, tuple[int, dict[str, int]]]]:
        """((ifIndex, name), (time_ns, {column: raw value})) of every interface held."""
        values = self.values
        for (index, name, names), at in zip(self.layout.entries, self.layout.offsets, strict=True):
            yield (
                (index, name),
                (values[at], dict(zip(names, values[at + 1 : at + 1 + len(names)], strict=True))),
            )


def _if_counters(entries: list[_Entry], values: list[int], prev: IfCounters | None) -> IfCounters | None:
    if not entries:
        return None
    return IfCounters(_layout(tuple(entries), prev), array("Q", values))


@dataclass(frozen=True, slots=True)
class InterfaceRow:
    """One interface's slow-changing labels, re-read only now and then.

    Attributes:
        index: ifIndex (the row index of the IF-MIB tables).
        name: ifName, else ifDescr, else the ifIndex: with ``index`` it keys the counter state, so a
            renumbered interface never gets a rate against another interface's counters.
        tags: the complete tag set of its ``interface`` records (device tags included).
        speed_bps: from ifHighSpeed (else ifSpeed); None when unknown, 0 when the agent says 0.
    """

    index: int
    name: str
    tags: Mapping[str, str]
    speed_bps: int | None


def text_of(value: SnmpValue | None) -> str:
    """A value as label text: OCTET STRING decoded and trimmed (NULs too), OID dotted, None empty."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00").strip()
    if isinstance(value, tuple):
        return ".".join(map(str, value))
    return str(value)


def _gauge32(value: SnmpValue | None) -> int | None:
    """A Gauge32 as the agent should send it (0 .. 2^32-1); anything else (negative, oversized) is None."""
    if not isinstance(value, int):
        return None
    if 0 <= value < MAX32:
        return value
    STATS.note_refused_value()
    return None


def speed_bps(high_speed: SnmpValue | None, speed: SnmpValue | None) -> int | None:
    """Interface speed: ifHighSpeed (Mbit/s) when it is set, else ifSpeed (bit/s); None when unknown.

    ifHighSpeed is 0 for links under 1 Mbit/s, so a non-saturated ifSpeed wins over a zero ifHighSpeed.
    Values the agent cannot legally send (negative, beyond a Gauge32) or beyond MAX_SPEED_BPS are unknown,
    not a speed: a negative ifSpeed made utilisation -480468 %.
    """
    high = _gauge32(high_speed)
    if high is not None and 0 < high * 1_000_000 <= MAX_SPEED_BPS:
        return high * 1_000_000
    low = _gauge32(speed)
    if low is not None and low != IF_SPEED_SATURATED:
        return low
    if high == 0:
        return 0
    return None


def interface_rows(
    labels: Mapping[str, Mapping[Oid, SnmpValue]], base_tags: Mapping[str, str]
) -> list[InterfaceRow]:
    """Build the interface list from the label columns (ifDescr, ifName, ifAlias, ifHighSpeed, ifSpeed).

    The rows are the union of the ifDescr and ifName indexes: trimmed recordings and some agents lack the
    ifIndex column, and a few rows exist in one table only.
    """
    descr = labels.get("ifDescr", {})
    names = labels.get("ifName", {})
    alias = labels.get("ifAlias", {})
    high = labels.get("ifHighSpeed", {})
    speed = labels.get("ifSpeed", {})
    indexes = sorted(set(descr) | set(names))
    rows: list[InterfaceRow] = []
    for idx in indexes:
        if len(idx) != 1:
            continue  # not an IF-MIB row index
        # Interned: devices of one model repeat the same interface names, held once (and hashed once).
        if_descr = sys.intern(text_of(descr.get(idx)))
        if_name = sys.intern(text_of(names.get(idx))) or if_descr or sys.intern(str(idx[0]))
        tags = dict(base_tags)
        tags["ifName"] = if_name
        tags["ifIndex"] = sys.intern(str(idx[0]))
        tags["ifDescr"] = if_descr
        tags["ifAlias"] = sys.intern(text_of(alias.get(idx)))
        rows.append(InterfaceRow(idx[0], if_name, tags, speed_bps(high.get(idx), speed.get(idx))))
    return rows


def counter_delta(prev: int, cur: int, bits: int, max_delta: float | None) -> int | None:
    """Increase of a counter between two reads, or None when it cannot be trusted.

    Args:
        prev: previous raw value.
        cur: current raw value.
        bits: 32 or 64.
        max_delta: the most the counter can plausibly grow over the interval (from line rate), or None.

    A counter that went down wrapped if the wrapped increase is plausible: within ``max_delta`` when the
    line rate is known; without it, a 32-bit counter is taken to have wrapped (the classic rule, and at
    10 Gbit/s a 32-bit octet counter wraps every 3.4 s) and a 64-bit one only if it was in the top quarter of
    its range (a real 64-bit wrap is decades away; going down is a reset, e.g. ``clear counters``).
    """
    if cur >= prev:
        return cur - prev
    wrapped = cur + (1 << bits) - prev
    if max_delta is not None:
        return wrapped if wrapped <= max_delta else None
    if bits == 32 or wrapped <= (1 << (bits - 2)):
        return wrapped
    return None


def _delta(
    prev: Mapping[str, int], cur: Mapping[str, int], pair: tuple[str, str], max_delta: float | None
) -> int | None:
    # A counter that went up (nearly always) is taken here; only a fall goes through ``counter_delta``.
    hc, low = pair
    if hc in cur and hc in prev:
        now, before = cur[hc], prev[hc]
        return now - before if now >= before else counter_delta(before, now, 64, max_delta)
    if low in cur and low in prev:
        now, before = cur[low], prev[low]
        return now - before if now >= before else counter_delta(before, now, 32, max_delta)
    return None


def interface_samples(
    rows: Sequence[InterfaceRow],
    columns: Mapping[str, Mapping[Oid, SnmpValue]],
    prev: IfCounters | None,
    time_ns: int,
    *,
    rates: bool = True,
) -> tuple[list[Sample], IfCounters | None]:
    """``interface`` records for one poll, and the counter state for the next one.

    Args:
        rows: the interfaces (labels), from ``interface_rows``.
        columns: counter and status columns of this poll, by MIB name, keyed by row index.
        prev: the state this function returned last time (None on the first poll).
        time_ns: arrival time of the response.
        rates: False right after a reboot: no rate is computed across it.
    """
    counter_cols = [(name, columns[name]) for name in COUNTER_COLUMNS if name in columns]
    status_cols = [(field, columns[name]) for name, field in STATUS_COLUMNS if name in columns]
    samples: list[Sample] = []
    entries: list[_Entry] = []
    values: list[int] = []
    before = prev if rates else None
    layout = before.layout if before is not None else None
    known = layout.entries if layout is not None else ()
    # As Python ints at once (one C call), not a slice per interface.
    before_values = before.values.tolist() if before is not None else []
    for row in rows:
        idx = (row.index,)
        raw: dict[str, int] = {}
        for name, col in counter_cols:
            value = col.get(idx)
            if isinstance(value, int):
                if 0 <= value < MAX64:
                    raw[name] = value
                else:  # no Counter32/64 holds it: the agent's (or the decoder's) error, not a count
                    STATS.note_refused_value()
        fields: dict[str, FieldValue] = dict(raw)
        for field, col in status_cols:
            value = col.get(idx)
            if isinstance(value, int):
                fields[field] = value
        if row.speed_bps is not None:
            fields["speed_bps"] = row.speed_bps
        if raw:
            n = len(entries)
            entries.append((row.index, row.name, tuple(raw)))
            values.append(time_ns)
            values.extend(raw.values())
            if layout is not None:
                # The same interfaces in the same order as last time (the common case): no lookup.
                last = known[n] if n < len(known) else None
                same = last is not None and last[0] == row.index and last[1] == row.name
                pos = n if same else layout.find(row.index, row.name)
                if pos is not None:
                    at = layout.offsets[pos]
                    before_ns = before_values[at]
                    if time_ns > before_ns:
                        names = known[pos][2]
                        counters = dict(zip(names, before_values[at + 1 : at + 1 + len(names)], strict=True))
                        _add_rates(fields, counters, raw, (time_ns - before_ns) / 1e9, row.speed_bps)
        samples.append(Sample(INTERFACE.name, row.tags, fields, time_ns))
    return samples, _if_counters(entries, values, prev)


# (octet columns, bps field, utilisation field) and (unicast columns, other packet columns, pps field,
# error column, error % field) in the order ``_add_rates`` takes them.
_OCTET_RATES = ((OCTETS_IN, "in_bps", "in_util_pct"), (OCTETS_OUT, "out_bps", "out_util_pct"))
_PACKET_RATES = (
    (PKTS_IN[0], PKTS_IN[1:], "in_pps", "ifInErrors", "in_error_pct"),
    (PKTS_OUT[0], PKTS_OUT[1:], "out_pps", "ifOutErrors", "out_error_pct"),
)


def _add_rates(
    fields: dict[str, FieldValue],
    prev: Mapping[str, int],
    cur: Mapping[str, int],
    dt: float,
    speed: int | None,
) -> None:
    max_octets = speed / 8 * dt * LINE_RATE_SLACK if speed else None
    max_pkts = max_octets / MIN_FRAME_BYTES if max_octets is not None else None
    for pair, bps_field, util_field in _OCTET_RATES:
        d = _delta(prev, cur, pair, max_octets)
        if d is not None:
            bps = d * 8 / dt
            fields[bps_field] = bps
            if speed:
                fields[util_field] = bps * 100.0 / speed
    errors: dict[str, int] = {}
    for name, field in ERROR_COUNTERS:
        if name in cur and name in prev:
            now, before = cur[name], prev[name]
            d = now - before if now >= before else counter_delta(before, now, 32, max_pkts)
            if d is not None:
                errors[name] = d
                fields[field] = d / dt
    for unicast_pair, other_pairs, pps_field, err_name, pct_field in _PACKET_RATES:
        unicast = _delta(prev, cur, unicast_pair, max_pkts)
        if unicast is None:
            continue  # without unicast packets there is no meaningful packet rate
        total = unicast
        for pair in other_pairs:
            d = _delta(prev, cur, pair, max_pkts)
            if d is not None:
                total += d
        fields[pps_field] = total / dt
        err = errors.get(err_name)
        if err is not None:
            fields[pct_field] = err * 100.0 / (total + err) if total + err else 0.0


# --- device level ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UptimeState:
    """What the uptime logic remembers between polls."""

    time_ns: int
    ticks: int  # raw sysUpTime
    wraps: int  # sysUpTime wraps seen since the last reboot
    uptime_s: float

    def to_json(self) -> list[Any]:
        """JSON-able form."""
        return [self.time_ns, self.ticks, self.wraps, self.uptime_s]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> UptimeState:
        """Inverse of ``to_json``."""
        return cls(int(data[0]), int(data[1]), int(data[2]), float(data[3]))


def device_uptime(
    prev: UptimeState | None,
    sys_uptime: int | None,
    engine_time: int | None,
    hr_uptime: int | None,
    time_ns: int,
) -> tuple[float | None, bool, UptimeState | None]:
    """Uptime in seconds, whether the device rebooted since the last poll, and the new state.

    Args:
        prev: the state from the previous poll (None on the first).
        sys_uptime: SNMPv2-MIB sysUpTime, TimeTicks.
        engine_time: SNMP-FRAMEWORK-MIB snmpEngineTime, seconds (None when absent).
        hr_uptime: HOST-RESOURCES-MIB hrSystemUptime, TimeTicks (used only when sysUpTime is missing).
        time_ns: arrival time of the response.

    sysUpTime wraps after 497 days. Beyond that, snmpEngineTime (seconds, no practical wrap) gives the
    uptime when the agent has it; otherwise wraps are counted from the elapsed wall time, so a wrap is not
    taken for a reboot. A reboot is an uptime that went down by more than a second.
    """
    ticks = sys_uptime if sys_uptime is not None else hr_uptime
    if ticks is None:
        if engine_time is None:
            return None, False, prev
        ticks = engine_time * 100
    wraps = prev.wraps if prev is not None else 0
    if prev is not None and ticks < prev.ticks:
        elapsed_ticks = (time_ns - prev.time_ns) / 1e7
        expected = prev.ticks + elapsed_ticks - MAX32
        tolerance = max(3000.0, elapsed_ticks * 0.1)  # 30 s, or 10 % of the interval
        wraps = wraps + 1 if abs(expected - ticks) <= tolerance else 0
    uptime_s = (ticks + wraps * MAX32) / 100
    if engine_time is not None and engine_time > UPTIME_WRAP_S:
        uptime_s = float(engine_time)
    rebooted = prev is not None and uptime_s < prev.uptime_s - 1.0
    return uptime_s, rebooted, UptimeState(time_ns, ticks, wraps, uptime_s)


# --- device-level counters (profile fields with ``rate`` and ``changed``) ----------------------------

# (time_ns, raw value) of a device-level counter or marker at the previous poll.
Reading = tuple[int, int]


def counter_rate(prev: Reading | None, raw: int, time_ns: int) -> float | None:
    """Per-second increase of a device-level counter since ``prev``, or None when there is none to trust.

    The counter is taken as 32-bit unless a value exceeds that range. A counter that went down wrapped
    only when it was in the top quarter of its range and came back small (a real wrap); anything else is a
    reset (an agent restart, a cleared counter): no rate on that poll. None too on the first poll and for
    a non-positive interval.
    """
    if prev is None or time_ns <= prev[0] or raw < 0:
        return None
    before = prev[1]
    if raw >= before:
        delta = raw - before
    else:
        bits = 64 if before >= MAX32 else 32
        wrapped = raw + (1 << bits) - before
        if wrapped > 1 << (bits - 2):
            return None
        delta = wrapped
    return delta / ((time_ns - prev[0]) / 1e9)


def marker_changed(prev: Reading | None, raw: int) -> int | None:
    """1 when a marker (a last-change time, an index) differs from the previous poll's, 0 when it does not.

    None on the first poll (nothing to compare with).
    """
    if prev is None:
        return None
    return 1 if raw != prev[1] else 0


# --- state persistence --------------------------------------------------------------------------


def if_state_to_json(state: IfCounters | None) -> list[list[Any]]:
    """JSON-able form of the interface counter state: [ifIndex, name, time_ns, {column: raw value}] each."""
    if state is None:
        return []
    return [[index, name, t, raw] for (index, name), (t, raw) in state.items()]


def if_state_from_json(data: Sequence[Sequence[Any]]) -> IfCounters | None:
    """Inverse of ``if_state_to_json``; malformed entries are dropped (they only cost one rate)."""
    found: dict[IfKey, tuple[int, dict[str, int]]] = {}
    for entry in data:
        try:
            index, name, t, raw = entry
            counters = {str(k): int(v) for k, v in raw.items()}
            if not 0 <= int(t) < MAX64 or not all(0 <= v < MAX64 for v in counters.values()):
                continue  # no time or counter is negative or beyond 64 bits: a damaged entry
            found[(int(index), sys.intern(str(name)))] = (int(t), counters)
        except (TypeError, ValueError, AttributeError):
            continue
    entries: list[_Entry] = []
    values: list[int] = []
    for (index, name), (t, counters) in found.items():
        entries.append((index, name, tuple(counters)))
        values.append(t)
        values.extend(counters.values())
    return _if_counters(entries, values, None)
