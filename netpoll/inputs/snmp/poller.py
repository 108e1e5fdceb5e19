"""``SnmpPoller``: one poll of one device → ``interface`` and ``snmp`` samples; counter state kept inside.

A poll is: one GET of the profile's scalars (system group, vendor scalars), bulk walks of the tables the
profile's fields read, the interface counters, and now and then walks of the slow-changing label columns
(ifDescr, ifName, ifAlias, speeds): when the interface set changes, and on label polls where ifTableLastChange
does not vouch for the labels held (``relabel``). With the labels come the counters: GETs of the cells of the
rows the labels found where ifNumber vouches for the interface set and that takes fewer requests (a walk costs
one request per column however few interfaces the device has), else walks; in between, the cells the last
label poll found are read with GETs, and a missing cell means a walk again. The profile's own tables (CPU,
memory, sensors) come last and stop shortly before the deadline: a slow device whose poll cannot read them all
still delivers every interface, its ``snmp`` record says ``partial=1``, and tables found empty are remembered
(until a reboot) and not walked again, so the next polls read the rest.
Then the pure maths in ``metrics`` and ``profiles`` turn it into samples. ``run`` returns a ``ProbeResult``; a
device failure never raises: it is a result that is not ok, with an ``snmp`` sample with ``poll_ok=0`` and
``error``.
The poll ends by its budget's deadline, which the caller (the scheduler, ``netpoll poll``) sets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from netpoll.devicelog import DeviceLog, device_log
from netpoll.errors import SnmpAuthError, SnmpError, SnmpTimeout
from netpoll.inputs.snmp.backend_common import MAX_REPETITIONS_CAP, WalkTooLong, walk_repetitions
from netpoll.inputs.snmp.ifselect import ADMIN_DOWN, ADMIN_DROPPED, Decision, Selector, selector
from netpoll.inputs.snmp.metrics import (
    COUNTER_COLUMNS,
    IfCounters,
    InterfaceRow,
    Reading,
    UptimeState,
    counter_rate,
    device_uptime,
    if_state_from_json,
    if_state_to_json,
    interface_rows,
    interface_samples,
    marker_changed,
)
from netpoll.inputs.snmp.profiles import Profile, ProfileSet, Source, WalkRoot
from netpoll.inputs.snmp.relabel import LabelMark, label_walk_reason
from netpoll.inputs.snmp.replies import is_fatal
from netpoll.inputs.snmp.tables import RateState, Table, table_samples
from netpoll.inputs.snmp.types import Oid, SnmpClient, SnmpClients, SnmpValue, format_oid, parse_oid
from netpoll.inventory.models import Device, InterfaceSelection, SnmpSettings
from netpoll.measurements import SNMP
from netpoll.probe import Budget, ProbeResult
from netpoll.restarts import RestartNotices
from netpoll.sample import FieldValue, Sample

log = logging.getLogger("netpoll.snmp.poller")

STATE_VERSION = 1
# Row cap per walked column: ROW_CAP_FACTOR x ifNumber, at least ROW_CAP_MIN (``row_cap``).
ROW_CAP_MIN = 10_000
ROW_CAP_FACTOR = 4
# Every this many polls is a label poll: it walks the label columns, unless ifTableLastChange and ifNumber
# vouch for the labels held (``relabel``); whenever the interface set changes, they are walked at once.
LABEL_EVERY = 10
# An agent whose first GET of a poll takes this long is slow to answer, whatever it is asked: its interface
# walks go with max-repetitions sized to ifNumber, so round trips, not rows, set the poll's length. A quick
# agent keeps the setting: there the agent's work per varbind counts, and larger GETBULKs made snmpsim slower.
# 0.2 s: far above a loaded test machine's snmpsim, below the 0.3 s a request of the slow devices seen.
SLOW_REQUEST_S = 0.2
# A GET of interface cells is packed up to varbinds of about this many bytes in the response (under a
# 1500-byte MTU with the message around them, so not fragmented), each cell reckoned from its OID's BER size
# and the largest value of its column's type (``_cell_bytes``: 26 bytes an ifHCInOctets cell, 21 an
# ifInErrors one); a text column's cell (labels) at COUNTER_VARBIND_BYTES. Never fewer cells than
# max-repetitions, which the agent answers in a GETBULK.
GET_RESPONSE_BYTES = 1400
COUNTER_VARBIND_BYTES = 30
# Largest BER value, tag and length included: Counter64 (9 octets with the sign octet) and 32-bit types
# (Counter32, Gauge32, INTEGER: 5 octets); the varbind's SEQUENCE header.
_VALUE64_BYTES = 11
_VALUE32_BYTES = 7
_VARBIND_HEADER_BYTES = 2
_NUMERIC_COLUMNS = frozenset(
    {*COUNTER_COLUMNS, "ifOperStatus", "ifAdminStatus", "ifHighSpeed", "ifSpeed", "ifType"}
)

Columns = dict[str, dict[Oid, SnmpValue]]
# One GET of known counter cells: the instance OIDs, per column name its instance OIDs and row indexes, and
# the response's varbinds at most, bytes (``_cell_bytes``).
_Chunk = tuple[tuple[Oid, ...], tuple[tuple[str, tuple[Oid, ...], tuple[Oid, ...]], ...], int]
# Distinct cell plans and interface signatures kept shared (``_shared``); past this the table starts afresh.
_SHARED_MAX = 50_000
_SHARED: dict[Any, Any] = {}
# Cell plans by what they are made of (columns, rows, GET size): a fleet of one switch model plans once.
_PLANS: dict[Any, tuple[_Chunk, ...]] = {}
# The OIDs of a scalars' GET with a chunk riding in it, by the chunk's id (``_riding_oids``).
_RIDES: dict[int, tuple[_Chunk, tuple[Oid, ...], tuple[Oid, ...]]] = {}
S = TypeVar("S")


def _shared(value: S) -> S:
    """One copy of an immutable per-device value for every device that has an equal one.

    Devices of the same profile with the same interface indexes (a fleet of one switch model) have equal
    cell plans and signatures: held once, they cost a device a reference instead of ~3 KB per interface.
    """
    hit = _SHARED.get(value)
    if hit is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        hit = _SHARED[value] = value
    return cast("S", hit)


@dataclass(slots=True)
class _DeviceState:
    """Everything the poller remembers about one device between polls.

    Slots, and the sets of names frozen and shared (``_shared``): an empty set was 216 bytes per device.
    """

    profile: str | None = None
    sys_object_id: Oid | None = None
    uptime: UptimeState | None = None
    ifs: IfCounters | None = None
    # Profile fields with ``rate`` / ``changed``: the previous poll's reading, by field name.
    readings: dict[str, Reading] = field(default_factory=dict)
    # Profile table columns a walk found empty: not walked again until a reboot or another profile.
    absent: frozenset[str] = frozenset()
    # Label columns walked by a poll that the deadline then cut before its counters: the next poll takes them
    # instead of walking them again, so a slow device needs only its counters in that poll.
    labels_read: Columns | None = None
    # Not persisted: re-read on the first poll after a restart.
    rows: list[InterfaceRow] | None = None
    base_tags: dict[str, str] = field(default_factory=dict)
    polls_since_labels: int = 0
    if_number: int | None = None
    # ifTableLastChange and ifNumber as the last label walk read them, and when (monotonic seconds).
    label_mark: LabelMark | None = None
    labels_walked_at: float = 0.0
    signature: tuple[frozenset[Oid], ...] | None = None
    fallback: bool = False
    # field → index of the alternative that gave a value on the last full poll
    active: dict[str, int] = field(default_factory=dict)
    full_poll_due: bool = True
    # Counter cells the last walk found, in GET-sized chunks: between walks they are read with GETs of
    # exactly these instances (see ``_Poll.get_cells``). None: walk the counter columns.
    cells: tuple[_Chunk, ...] | None = None
    no_cell_gets: bool = False  # the agent refused such a GET but answered the walk (tooBig, genErr, ...)
    # Interface selection: the compiled selection the rows were chosen with, every interface the labels
    # found with its decision (``netpoll poll --explain``; else the dropped ones), and how many there were.
    selector: Selector | None = None
    decisions: list[Decision] = field(default_factory=list)
    if_count: int = 0
    # Per-row tables (``tables:``): counters for their rates, and tables skipped for having too many rows
    # (until a reboot or another profile). Not persisted: rates come again from the second poll.
    table_rates: RateState = field(default_factory=dict)
    tables_skipped: frozenset[str] = frozenset()

    def note_absent(self, names: Iterable[str]) -> None:
        """Columns a walk found empty join ``absent``."""
        found = frozenset(names)
        if not found <= self.absent:
            self.absent = _shared(self.absent | found)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "sys_object_id": format_oid(self.sys_object_id) if self.sys_object_id else None,
            "uptime": self.uptime.to_json() if self.uptime else None,
            "ifs": if_state_to_json(self.ifs),
            "readings": {name: list(reading) for name, reading in self.readings.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _DeviceState:
        st = cls()
        profile = data.get("profile")
        st.profile = str(profile) if profile else None
        oid = data.get("sys_object_id")
        st.sys_object_id = parse_oid(oid) if isinstance(oid, str) and oid else None
        uptime = data.get("uptime")
        st.uptime = UptimeState.from_json(uptime) if uptime else None
        st.ifs = if_state_from_json(data.get("ifs") or [])
        readings = data.get("readings") or {}
        st.readings = {str(name): (int(t), int(raw)) for name, (t, raw) in readings.items()}
        return st


def row_cap(if_number: int | None) -> tuple[int, str]:
    """Rows per column a walk of this device may return, and why: 4 x ifNumber, at least ROW_CAP_MIN.

    A hostile or broken agent can answer an endless table; without a cap the walk grows until the poll's
    deadline (a 100,000-row table held 362 MB). Interface tables have ifNumber rows; other tables (CPUs,
    sensors, sessions summaries) far fewer; the slack allows for an ifNumber that lags or miscounts.
    """
    if if_number is not None and if_number * ROW_CAP_FACTOR > ROW_CAP_MIN:
        return if_number * ROW_CAP_FACTOR, f"{ROW_CAP_FACTOR} x ifNumber {if_number}"
    return ROW_CAP_MIN, f"at least {ROW_CAP_MIN}, ifNumber {if_number}"


class _PollError(Exception):
    """A problem with the device's set-up (no SNMP, unknown profile): reported like an SNMP failure."""


class SnmpPoller:
    """Polls devices through an ``SnmpClientPool`` (or any ``SnmpClients``) using compiled profiles.

    Args:
        pool: hands out one ``SnmpClient`` per device (``pool.client(device)``).
        profiles: from ``load_profiles()``.
        label_every: every this many polls is a label poll (the labels are walked, or checked: ``relabel``).
        restarts: the coldStart/warmStart traps the trap pipeline noted: a reboot none announced is
            ``unexpected_reboot=1``. None: every reboot is unexpected (no trap intake).
    """

    def __init__(
        self,
        pool: SnmpClients,
        profiles: ProfileSet,
        *,
        label_every: int = LABEL_EVERY,
        restarts: RestartNotices | None = None,
        explain: bool = False,
    ) -> None:
        self._pool = pool
        self._profiles = profiles
        self._restarts = restarts
        self._label_every = max(1, label_every)
        self._explain = explain  # read ifType on every label poll, for ``decisions``
        self._state: dict[str, _DeviceState] = {}
        self._plans: dict[str, tuple[Profile, dict[frozenset[str], tuple[WalkRoot, ...]]]] = {}
        self._columns: dict[tuple[str, tuple[tuple[str, int], ...]], frozenset[str]] = {}
        self._scalar_bytes: dict[str, int] = {}  # by profile: the largest answer to its scalars' GET
        self._scalar_framing: dict[str, dict[Oid, int]] = {}  # by profile: each scalar's varbind, value aside

    # --- state ---------------------------------------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """Counter and uptime state of every device, JSON-able, for ``import_state`` after a restart."""
        return {"version": STATE_VERSION, "devices": dict(self.export_devices())}

    def export_devices(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``export_state()``'s devices one at a time, each as it is when reached.

        The devices are those of the call; a caller may yield to the event loop between two (at thousands
        of devices the whole export takes seconds).
        """
        for name, state in list(self._state.items()):
            yield name, state.to_json()

    def import_state(self, data: Mapping[str, Any]) -> None:
        """Restore ``export_state()`` output; unknown versions and malformed devices are ignored."""
        if data.get("version") != STATE_VERSION:
            log.warning("SNMP state: unknown version %r, starting afresh", data.get("version"))
            return
        for name, entry in (data.get("devices") or {}).items():
            try:
                self._state[str(name)] = _DeviceState.from_json(entry)
            except (TypeError, ValueError, AttributeError, IndexError):
                device_log(log, str(name)).warning("SNMP state: cannot restore it, starting afresh")

    def if_name(self, name: str, if_index: int) -> str:
        """The ifName of ``if_index`` on device ``name`` from the labels last read ("" when not known)."""
        st = self._state.get(name)
        for row in (st.rows if st is not None else None) or ():
            if row.index == if_index:
                return row.tags.get("ifName", row.name)
        return ""

    def forget(self, name: str) -> None:
        """Drop a device's state (removed from the inventory)."""
        self._state.pop(name, None)

    def decisions(self, name: str) -> list[Decision]:
        """Every interface the last label read found, and whether the selection kept it (or why not).

        With ``explain``; otherwise only the interfaces the selection dropped.
        """
        st = self._state.get(name)
        return list(st.decisions) if st is not None else []

    def set_profiles(self, profiles: ProfileSet) -> None:
        """Poll with reloaded profiles from now on.

        Each device's profile is picked again on its next poll, which reads every field and table afresh;
        counter state is kept.
        """
        if profiles == self._profiles:  # an inventory reload that changed no profile
            return
        self._profiles = profiles
        self._plans.clear()
        self._columns.clear()
        self._scalar_bytes.clear()
        self._scalar_framing.clear()
        for st in self._state.values():
            st.profile = None
            st.full_poll_due = True
            st.rows = None
            st.absent = st.tables_skipped = frozenset()
            st.labels_read = None

    # --- polling -------------------------------------------------------------------------------

    async def run(self, device: Device, budget: Budget) -> ProbeResult:
        """Poll one device within ``budget``: ``interface`` samples and one ``snmp`` sample.

        A device failure never raises: the result is not ``ok`` and carries an ``snmp`` sample with
        ``poll_ok=0`` and the error, and ``cut`` when the budget's deadline ended the poll.
        """
        start = time.perf_counter()
        poll = _Poll(device, device.output_tags(), device_log(log, device.name))
        # The profile tables, read last, stop a little before the deadline, so what came is kept.
        poll.tables_by = budget.deadline - min(0.5, budget.seconds * 0.05)
        cut = no_answer = False
        try:
            if budget.remaining() <= 0:
                raise TimeoutError  # a budget spent before it began: not a single request
            async with asyncio.timeout_at(budget.deadline):
                samples = await self._poll(poll, start)
            return ProbeResult(True, samples, None, time.perf_counter() - start)
        except TimeoutError:
            error, cut, no_answer = budget.exceeded, True, True
        except SnmpError as exc:
            # The record already names the device: drop the agent prefix the exception carries.
            error = str(exc).removeprefix(f"{exc.agent}: ")
            no_answer = isinstance(exc, SnmpTimeout)
        except _PollError as exc:
            error = str(exc)
        except BaseException as exc:  # a bug (or a library panic, a BaseException) must not stop the others
            if is_fatal(exc):
                raise
            poll.log.exception("SNMP poll failed")
            error = f"internal error: {type(exc).__name__}: {exc}"
        poll.log.debug("SNMP poll failed: %s", error)
        duration = time.perf_counter() - start
        fields: dict[str, FieldValue] = {
            "poll_ok": 0,
            "poll_duration_ms": duration * 1000.0,
            "varbinds": poll.varbinds,
            "error": error,
        }
        record = Sample(SNMP.name, poll.tags, fields, time.time_ns())
        return ProbeResult(False, [record], error, duration, cut, no_answer)

    def _profile(self, settings: SnmpSettings, st: _DeviceState) -> Profile | None:
        name = settings.profile or st.profile
        if name is None:
            return None
        if name not in self._profiles:
            if settings.profile:
                known = ", ".join(sorted(self._profiles.profiles))
                raise _PollError(f"unknown profile {name!r} (known: {known})")
            st.profile = None  # a saved pick that no longer exists: pick again
            return None
        return self._profiles[name]

    async def _poll(self, poll: _Poll, start: float) -> list[Sample]:
        device = poll.device
        if device.snmp is None:
            raise _PollError("SNMP is not enabled for this device")
        poll.client = self._pool.client(device)
        profile, scalars = await self._identify(poll, device.snmp)
        st = poll.st
        system = profile.system
        uptime_s, rebooted, uptime_state = device_uptime(
            st.uptime,
            _as_int(scalars.get(system.get("sys_uptime", ""))),
            _as_int(scalars.get(system.get("engine_time", ""))),
            _as_int(scalars.get(system.get("hr_uptime", ""))),
            time.time_ns(),
        )
        if_number = _as_int(scalars.get(system.get("if_number", "")))
        poll.row_cap, poll.row_cap_why = row_cap(if_number)
        # The rows the table has (all of them, selected or not): walks are sized to it for a slow agent.
        poll.if_rows = if_number if if_number is not None else (st.if_count if st.rows is not None else None)
        selection = device.snmp.interfaces.over(profile.if_select)
        sel = selector(selection)
        last_change = _as_int(scalars.get(system.get("if_table_last_change", "")))
        labels = self._label_poll(poll, selection, LabelMark(last_change, if_number), rebooted=rebooted)
        relabel = labels == "walk"
        full = labels != "none" or st.full_poll_due
        if rebooted:
            st.absent = st.tables_skipped = frozenset()  # tables can come with a new software or module
            st.labels_read = None
            st.readings.clear()  # counters restarted with the agent: no rate across a reboot
        keep = labels == "keep"
        time_ns = await self._read(poll, profile, sel, relabel=relabel, keep=keep, if_number=if_number)
        assert st.rows is not None
        columns = poll.columns
        rows = st.rows
        if sel.admin_drop:  # a port shut down since the labels were read goes now; one opened, with them
            admin = columns.get("ifAdminStatus", {})
            rows = [row for row in rows if admin.get((row.index,)) != ADMIN_DOWN]
        if_samples, st.ifs = interface_samples(rows, columns, st.ifs, time_ns, rates=not rebooted)
        st.uptime = uptime_state
        if rebooted:
            poll.log.info("reboot detected (uptime %.0fs)", uptime_s or 0.0)

        fields: dict[str, FieldValue] = {}
        if uptime_s is not None:
            fields["uptime_s"] = uptime_s
        fields["poll_ok"] = 1
        fields["rebooted"] = 1 if rebooted else 0
        fields["unexpected_reboot"] = 1 if rebooted and not self._announced(device.name, uptime_s) else 0
        fields["profile"] = profile.name
        partial = await self._read_tables(poll, profile, scalars, full=full)
        fields.update(_evaluate_fields(profile, st, scalars, columns, full, time_ns))
        row_samples: list[Sample] = []
        if profile.tables:  # a profile without tables costs nothing more
            cut, row_samples = await self._read_row_tables(poll, profile.tables, profile, rates=not rebooted)
            partial = partial or cut
        if partial:
            fields["partial"] = 1
        fields["poll_duration_ms"] = (time.perf_counter() - start) * 1000.0  # the tables included
        fields["varbinds"] = poll.varbinds
        # Tables cut short are read on the next poll, which tries every field again.
        st.full_poll_due = partial or (False if full else st.full_poll_due)
        return [*if_samples, *row_samples, Sample(SNMP.name, poll.tags, fields, time_ns)]

    def _label_poll(
        self, poll: _Poll, selection: InterfaceSelection, mark: LabelMark, *, rebooted: bool
    ) -> Literal["walk", "keep", "none"]:
        """Whether this poll walks the label columns, is a label poll that keeps the labels held, or neither.

        The labels are walked at once when there are none, after a reboot, when ifNumber, the device's tags or
        its selection changed, or when a poll the deadline cut had walked them; a label poll (every
        ``label_every``-th) walks them unless ifTableLastChange and ifNumber vouch for them
        (``label_walk_reason``).
        """
        st = poll.st
        poll.mark = mark
        if (
            st.rows is None
            or rebooted
            or mark.if_number != st.if_number
            or st.base_tags != poll.tags
            or st.selector is None
            or st.selector.selection != selection  # equal, not the same: the compiled cache is bounded
            or st.labels_read is not None  # a label poll the deadline cut before its counters
        ):
            return "walk"
        if st.polls_since_labels + 1 < self._label_every:
            return "none"
        assert poll.device.snmp is not None
        reason = label_walk_reason(
            st.label_mark,
            mark,
            rebooted=rebooted,
            age_s=time.monotonic() - st.labels_walked_at,
            max_age_s=poll.device.snmp.labels_max_age_s,
        )
        if reason is None:
            return "keep"
        poll.log.debug("label poll walks the labels: %s", reason)
        return "walk"

    def _announced(self, name: str, uptime_s: float | None) -> bool:
        """Whether the trap pipeline noted a coldStart/warmStart from the device since it booted."""
        if self._restarts is None:
            return False
        boot_ns = time.time_ns() - int((uptime_s or 0.0) * 1e9)
        return self._restarts.announced(name, boot_ns)

    async def _identify(self, poll: _Poll, settings: SnmpSettings) -> tuple[Profile, dict[str, SnmpValue]]:
        """GET the profile's scalars and settle which device (sysObjectID) and which profile this is."""
        name = poll.device.name
        st = self._state.get(name)
        if st is None:
            st = self._state[name] = _DeviceState()
        # First contact: the default profile's scalars include sysObjectID and sysDescr to pick with.
        profile = self._profile(settings, st) or self._profiles[self._profiles.default]
        ride = self._ride(st, profile)
        asked = time.perf_counter()
        raw = await self._get_scalars(poll, profile, ride)
        poll.slow = time.perf_counter() - asked >= SLOW_REQUEST_S
        scalars = _scalars(profile, raw)
        if not scalars:
            raise SnmpError(name, "the agent answered none of the system scalars (sysUpTime, ...)")

        sys_oid = _as_oid(scalars.get(profile.system.get("sys_object_id", "")))
        if sys_oid is not None and st.sys_object_id is not None and sys_oid != st.sys_object_id:
            poll.log.info(
                "sysObjectID changed (%s → %s): new device, state reset",
                format_oid(st.sys_object_id),
                format_oid(sys_oid),
            )
            st = self._state[name] = _DeviceState()
        st.sys_object_id = sys_oid
        poll.st = st
        if settings.profile:
            if st.profile != profile.name:
                # Another profile than the last poll's (inventory changed): the active field alternatives
                # and the known counter cells belong to the old one; read every field and the labels now.
                st.full_poll_due = True
                st.rows = None
                st.absent = st.tables_skipped = frozenset()
                st.labels_read = None
            st.profile = profile.name
        elif st.profile is None:
            profile, scalars = await self._pick(poll, profile, raw, scalars, sys_oid)
        return profile, scalars

    def _ride(self, st: _DeviceState, profile: Profile) -> _Chunk | None:
        """A GET of counter cells that fits in the scalars' GET (its last, the smallest), or None.

        Only for a poll that will GET the counter cells the last label poll found (not a label poll) and only
        where the scalars' answer, as large as the profile's ever was (``_scalar_bytes``), leaves the room.
        """
        cells = st.cells
        if (
            not cells
            or st.profile != profile.name
            or st.rows is None
            or st.labels_read is not None
            or st.polls_since_labels + 1 >= self._label_every
        ):
            return None
        known = self._scalar_bytes.get(profile.name)
        chunk = cells[-1]
        if known is None or known + chunk[2] > GET_RESPONSE_BYTES:
            return None
        return chunk

    async def _get_scalars(self, poll: _Poll, profile: Profile, ride: _Chunk | None) -> dict[Oid, SnmpValue]:
        """GET the profile's scalars, with the counter cells of ``ride`` when given (``poll.ridden``)."""
        if ride is not None:
            try:
                raw = await poll.get(_riding_oids(profile.get_oids, ride))
            except (SnmpTimeout, SnmpAuthError):
                raise
            except SnmpError as exc:  # the cells' GET alone will tell a refusal from the agent (tooBig, ...)
                poll.log.debug("GET of the scalars with counter cells failed: %s", exc)
            else:
                poll.ridden = (ride, raw)
                return raw
        raw = await poll.get(profile.get_oids)
        self._note_scalar_bytes(profile, raw)
        return raw

    def _note_scalar_bytes(self, profile: Profile, raw: Mapping[Oid, SnmpValue]) -> None:
        # The largest answer to the profile's scalars yet, for ``_ride``: one figure a profile, not a device.
        framing = self._scalar_framing.get(profile.name)
        if framing is None:
            framing = {oid: _VARBIND_HEADER_BYTES + 2 + _oid_bytes(oid) for oid in profile.get_oids}
            self._scalar_framing[profile.name] = framing
        size = 0
        for oid, value in raw.items():
            fixed = framing.get(oid)
            if fixed is not None:
                size += fixed + _value_bytes(value)
        if size > self._scalar_bytes.get(profile.name, 0):
            self._scalar_bytes[profile.name] = size

    async def _pick(
        self,
        poll: _Poll,
        profile: Profile,
        raw: dict[Oid, SnmpValue],
        scalars: dict[str, SnmpValue],
        sys_oid: Oid | None,
    ) -> tuple[Profile, dict[str, SnmpValue]]:
        """Pick the profile by sysObjectID and sysDescr; GET the scalars it adds."""
        descr = _text(scalars.get(profile.system.get("sys_descr", "")))
        picked = self._profiles.pick(sys_oid, descr)
        poll.st.profile = picked.name
        if picked is not profile:
            missing = [o for o in picked.get_oids if o not in raw]
            if missing:
                raw.update(await poll.get(missing))
            scalars = _scalars(picked, raw)
            self._note_scalar_bytes(picked, raw)
        poll.log.debug("profile %s", picked.name)
        return picked, scalars

    async def _read(
        self,
        poll: _Poll,
        profile: Profile,
        sel: Selector,
        *,
        relabel: bool,
        keep: bool,
        if_number: int | None,
    ) -> int:
        """Read the interface columns into ``poll.columns`` and keep the labels current.

        ``keep``: a label poll that keeps the labels held, unless the selected rows' own label cells changed.
        The counters' arrival time stamps the samples (returned); the profile tables come after.
        """
        st = poll.st
        if keep and not await self._labels_hold(poll, profile, sel):
            relabel, keep = True, False
        if relabel:
            rest = await self._read_labels(poll, profile, sel)
            self._take_labels(poll, profile, sel, if_number)
            if self._row_gets_pay(poll, profile, if_number):
                time_ns = await self._get_rows(poll, profile, if_number, rest)
                if time_ns is not None:
                    if rest:
                        self._fill_rows(poll, profile)
                    st.labels_read = None  # taken with the counters: the next label poll walks them afresh
                    return time_ns
            if rest:  # no GETs of the selected rows after all: walk these labels too
                await poll.walk(self._plan(profile, rest), sized=True)
                self._fill_rows(poll, profile)
        walked, signature = await self._read_counters(poll, profile, cells=not relabel)
        time_ns = time.time_ns()
        if not relabel and signature != st.signature:
            # New or renumbered interfaces: the labels we hold are stale, read them now.
            relabel = True
            await poll.walk(self._plan(profile, self._label_names(profile, sel)), sized=True)
            self._take_labels(poll, profile, sel, if_number)
        if relabel:
            if await self._relabel(poll, profile, signature):
                time_ns = time.time_ns()  # the fallback counters were read last
        else:
            st.polls_since_labels = 0 if keep else st.polls_since_labels + 1
        if walked:
            cell_names = (*profile.if_counters, *(profile.if_fallback if st.fallback else ()))
            st.cells = _cells(profile, cell_names, st, poll.columns, if_number, self._get_size(poll.device))
        return time_ns

    def _label_names(self, profile: Profile, sel: Selector) -> tuple[str, ...]:
        """The profile's label columns, and what the selection decides on: ifType, ifAdminStatus."""
        extra = []
        if (sel.needs_type or self._explain) and "ifType" in profile.columns:
            extra.append("ifType")
        if sel.admin_drop and "ifAdminStatus" in profile.columns:
            extra.append("ifAdminStatus")
        return (*profile.if_labels, *(name for name in extra if name not in profile.if_labels))

    def _split_labels(
        self, poll: _Poll, profile: Profile, sel: Selector
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The label columns to walk, and those to read for the selected rows only (with their counters).

        Only the columns that find the rows (ifDescr, ifName) and those the selection's rules read are
        walked; the others (speeds, and ifAlias when no rule reads it) matter for the selected rows alone,
        whose counter cells are read with GETs anyway (``_get_rows``): 4 rows' speeds ride in those GETs
        instead of 2 walks of 200 rows, and without a selection 22 rows' speeds and ifAlias in one more GET
        instead of 3 walks. Not for ``--explain`` (which shows every row), nor where such GETs are not made
        (SNMPv1, an agent that refused them; where they would not pay the columns are walked after all).
        """
        names = self._label_names(profile, sel)
        settings = poll.device.snmp
        assert settings is not None
        if self._explain or poll.st.no_cell_gets or settings.credentials.version == "1":
            return names, ()
        walk = {"ifDescr", "ifName", *sel.reads}
        return tuple(n for n in names if n in walk), tuple(n for n in names if n not in walk)

    async def _read_labels(self, poll: _Poll, profile: Profile, sel: Selector) -> tuple[str, ...]:
        """Walk the label columns, or take those an earlier poll walked before its deadline cut it.

        Returns the label columns left for the selected rows (``_split_labels``).
        """
        st = poll.st
        names, rest = self._split_labels(poll, profile, sel)
        if st.labels_read is not None and set(names) <= set(st.labels_read):
            poll.columns.update(st.labels_read)
            return tuple(name for name in rest if name not in st.labels_read)
        await poll.walk(self._plan(profile, names), sized=True)
        st.labels_read = {name: poll.columns.get(name, {}) for name in names}
        return rest

    def _take_labels(self, poll: _Poll, profile: Profile, sel: Selector, if_number: int | None) -> None:
        """The interfaces the labels show, and which of them the selection keeps (``st.rows``)."""
        st = poll.st
        every = interface_rows({n: poll.columns.get(n, {}) for n in profile.if_labels}, poll.tags)
        columns = poll.columns
        decisions = sel.decide(every, columns.get("ifType", {}), columns.get("ifAdminStatus", {}))
        st.rows = [d.row for d in decisions if d.dropped_by is None]
        # Only ``--explain`` shows every row's decision; polling needs those of the dropped rows alone (the
        # admin-down ones are checked on label polls). A decision per interface was ~1.5 KB per device.
        st.decisions = decisions if self._explain else [d for d in decisions if d.dropped_by is not None]
        st.if_count = len(every)
        st.selector = sel
        st.base_tags = dict(poll.tags)
        st.polls_since_labels = 0
        st.if_number = if_number
        st.label_mark = poll.mark
        st.labels_walked_at = time.monotonic()

    async def _labels_hold(self, poll: _Poll, profile: Profile, sel: Selector) -> bool:
        """On a label poll that keeps the labels: GET the selected rows' label cells; False when one changed.

        ifTableLastChange moves only when rows come or go: an ifAlias edit or a renegotiated speed does not
        move it. One GET of the selected rows' labels (and the ifAdminStatus of rows dropped only for being
        admin-down) sees those changes, where it takes fewer requests than a walk of the labels; a change
        means the labels are walked now, and the selection decided again. Rows not selected are seen by the
        walk ``labels_max_age_s`` brings.
        """
        st = poll.st
        assert st.rows is not None
        assert poll.device.snmp is not None
        indexes: list[Oid] = [(row.index,) for row in st.rows]
        cells: dict[str, list[Oid]] = dict.fromkeys(profile.if_labels, indexes)
        if sel.admin_drop and "ifAdminStatus" in profile.columns:
            cells["ifAdminStatus"] = [(d.row.index,) for d in st.decisions if d.dropped_by == ADMIN_DROPPED]
        if poll.device.snmp.credentials.version == "1":
            return True
        chunks = _chunks(profile, cells, cells, self._get_size(poll.device))
        if not self._gets_pay(poll, len(chunks), len(cells)):
            return True
        got = await poll.get_cells(chunks, partial=True)
        columns = {name: poll.columns.pop(name, {}) for name in cells}
        if got != "ok":
            poll.log.debug("GET of the selected interfaces' labels refused: walking them")
            return False
        admin = columns.get("ifAdminStatus", {})
        if any(admin.get(idx) != ADMIN_DOWN for idx in cells.get("ifAdminStatus", ())):
            poll.log.debug("an admin-down interface the selection dropped is up: walking the labels")
            return False
        if interface_rows(columns, poll.tags) != st.rows:
            poll.log.debug("a selected interface's labels changed: walking the labels")
            return False
        return True

    def _gets_pay(self, poll: _Poll, gets: int, columns: int) -> bool:
        """Whether ``gets`` GETs take fewer requests than a walk of ``columns`` interface columns.

        The GETs against the walk's columns x (rows / max-repetitions + 1), with the max-repetitions the walk
        would use (sized to the rows for a slow agent); never for an agent that refused such a GET.
        """
        settings = poll.device.snmp
        assert settings is not None
        if poll.st.no_cell_gets:
            return False
        page = poll._repetitions(1) or min(settings.max_repetitions, MAX_REPETITIONS_CAP)
        walk_pages = poll.st.if_count // max(1, page) + 1
        return gets < columns * walk_pages

    @staticmethod
    def _fill_rows(poll: _Poll, profile: Profile) -> None:
        """Rebuild the selected rows from every label column, now that the columns left out have come.

        The decisions stand: the columns the selection reads were walked (and the counter GETs that brought
        the rest replaced ifAdminStatus with the selected rows' cells alone).
        """
        st = poll.st
        assert st.rows is not None
        every = interface_rows({n: poll.columns.get(n, {}) for n in profile.if_labels}, poll.tags)
        fresh = {row.index: row for row in every}
        st.rows = [fresh.get(row.index, row) for row in st.rows]
        decisions = []
        for d in st.decisions:
            row = fresh.get(d.row.index)
            decisions.append(d if row is None else Decision(row, d.if_type, d.admin_status, d.dropped_by))
        st.decisions = decisions

    def _row_gets_pay(self, poll: _Poll, profile: Profile, if_number: int | None) -> bool:
        """Whether GETs of the selected rows' counters beat a walk of every row (the crossover).

        Only when ifNumber vouches for the interface set (as for GETs between label polls: see ``_cells``),
        the agent takes such GETs and speaks v2c/v3 (a v1 agent fails a whole GET over one missing cell);
        and when they take fewer requests: the GETs of the selected rows' counter cells (``_chunks``) against
        a walk's counter columns x (rows / max-repetitions + 1). With every row selected too: on a small
        table a walk costs a request per column for a few rows each (22 interfaces: 14 walks, 6 GETs).
        """
        st = poll.st
        settings = poll.device.snmp
        assert settings is not None
        assert st.rows is not None
        if if_number != st.if_count or settings.credentials.version == "1":
            return False
        names = (*profile.if_counters, *(profile.if_fallback if st.fallback else ()))
        chunks = _chunks(profile, names, [(row.index,) for row in st.rows], self._get_size(poll.device))
        return self._gets_pay(poll, len(chunks), len(names))

    async def _get_rows(
        self, poll: _Poll, profile: Profile, if_number: int | None, labels: Sequence[str] = ()
    ) -> int | None:
        """GET the counter cells of the selected rows (a label poll); None when the agent refused the GET.

        ``labels``: label columns the walk left out, read in the same GETs. A cell the agent lacks (a row
        without 64-bit counters) is just absent; the 32-bit fallback is read for the selected rows when one of
        them needs it.
        """
        st = poll.st
        assert st.rows is not None
        size = self._get_size(poll.device)
        indexes = [(row.index,) for row in st.rows]
        names = [*profile.if_counters, *(profile.if_fallback if st.fallback else ()), *labels]
        if await poll.get_cells(_chunks(profile, names, indexes, size), partial=True) != "ok":
            poll.log.info("GET of selected interfaces' counters refused, walking them from now on")
            st.no_cell_gets = True
            return None
        time_ns = time.time_ns()
        hc = poll.columns.get("ifHCInOctets", {})
        want_fallback = any(idx not in hc for idx in indexes) and bool(profile.if_fallback)
        if want_fallback and not st.fallback:
            await poll.get_cells(_chunks(profile, profile.if_fallback, indexes, size), partial=True)
            time_ns = time.time_ns()
        st.fallback = want_fallback
        st.signature = None  # no walk saw the whole table: a walk that finds one is a change
        cell_names = (*profile.if_counters, *(profile.if_fallback if st.fallback else ()))
        st.cells = _cells(profile, cell_names, st, poll.columns, if_number, size)
        return time_ns

    async def _read_counters(
        self, poll: _Poll, profile: Profile, *, cells: bool
    ) -> tuple[bool, tuple[frozenset[Oid], ...] | None]:
        """Read the counter columns: GETs of the known cells (``cells``) or a walk.

        Returns whether they were walked, and the interface signature they show.
        """
        st = poll.st
        got = await poll.get_cells(st.cells) if cells and st.cells is not None else "no"
        if got == "ok":
            # Every cell of the last walk answered and ifNumber is unchanged: the same interfaces.
            return False, st.signature
        names = [*profile.if_counters, *(profile.if_fallback if st.fallback else ())]
        await poll.walk(self._plan(profile, names), sized=True)
        if got == "refused":
            # The agent answers the walk but refused the GET (tooBig, genErr, ...): walk from now on.
            poll.log.info("GET of counter cells refused, walking them from now on")
            st.no_cell_gets = True
        return True, _signature(poll.columns, profile.if_counters)

    async def _relabel(
        self, poll: _Poll, profile: Profile, signature: tuple[frozenset[Oid], ...] | None
    ) -> bool:
        """Take the walked counters' signature; True when it walked the fallback counters (selected rows')."""
        st = poll.st
        assert st.rows is not None
        st.labels_read = None  # taken with the counters: the next label poll walks them afresh
        st.signature = signature
        hc = poll.columns.get("ifHCInOctets", {})
        want_fallback = any((row.index,) not in hc for row in st.rows) and bool(profile.if_fallback)
        walk_now = want_fallback and not st.fallback
        if walk_now:
            await poll.walk(self._plan(profile, profile.if_fallback), sized=True)
        st.fallback = want_fallback
        return walk_now

    async def _read_tables(
        self, poll: _Poll, profile: Profile, scalars: Mapping[str, SnmpValue], *, full: bool
    ) -> bool:
        """Walk the profile tables the fields read until ``poll.tables_by``; True when cut short.

        A full poll reads every alternative of a field up to the first that the scalars alone answer: the
        ones after it would never be taken (net-snmp's ssCpuIdle and memAvailReal spare the walks of
        hrProcessorLoad and hrStorage).
        """
        st = poll.st
        names: Set[str]
        if full:
            names = profile.field_columns(_full_sources(profile, scalars)) - st.absent
        else:
            names = self._field_columns(profile, st.active) - st.absent
        if not names:  # the fields read scalars only (or their tables were found empty): nothing to walk
            return False
        walked: set[str] = set()
        try:
            async with asyncio.timeout_at(poll.tables_by):
                await poll.walk(self._plan(profile, names), walked)
        except TimeoutError:
            return True
        finally:
            st.note_absent(name for name in walked if not poll.columns.get(name))
        return False

    async def _read_row_tables(
        self, poll: _Poll, tables: Sequence[Table], profile: Profile, *, rates: bool
    ) -> tuple[bool, list[Sample]]:
        """Walk the columns of the profile's per-row tables until ``poll.tables_by``; their rows as samples.

        Returns whether the deadline cut the walks short. Each table's walk is capped at its ``max_rows``
        rows per column: a longer table is skipped (until a reboot) with one warning, the poll goes on. A
        table ``instead_of`` another is read only when that one has no rows on this device.
        """
        st = poll.st
        samples: list[Sample] = []
        has_rows: set[str] = set()
        for table in tables:  # in order: a table comes after the one it stands in for
            if table.name in st.tables_skipped or table.instead_of in has_rows:
                continue
            # Columns found empty are tried again on label polls: some agents fill a table late (net-snmp's
            # hrProcessorLoad needs a minute of history after a start).
            names = table.columns() - poll.columns.keys() - (st.absent if st.polls_since_labels else set())
            walked: set[str] = set()
            try:
                async with asyncio.timeout_at(poll.tables_by):
                    await poll.walk(self._plan(profile, names), walked, max_rows=table.max_rows)
            except TimeoutError:
                return True, samples
            except WalkTooLong:
                too_long = True
            else:
                # A column the device fields had already walked this poll was capped by the device's row cap.
                too_long = any(len(poll.columns.get(name, ())) > table.max_rows for name in table.columns())
            finally:
                st.note_absent(name for name in walked if not poll.columns.get(name))
            if too_long:
                st.tables_skipped = _shared(st.tables_skipped | {table.name})
                poll.log.warning(
                    "table %s: more than %d rows, skipped until the device reboots (max_rows in profile %s)",
                    table.name,
                    table.max_rows,
                    profile.name,
                )
                continue
            rows = table_samples(table, poll.columns, poll.tags, st.table_rates, time.time_ns(), rates=rates)
            if rows:
                has_rows.add(table.name)
                samples.extend(rows)
        return False, samples

    def _field_columns(self, profile: Profile, active: Mapping[str, int]) -> frozenset[str]:
        # The columns the active alternatives read: the same few on every poll of a profile's devices.
        key = (profile.name, tuple(active.items()))
        names = self._columns.get(key)
        if names is None:
            if len(self._columns) >= _SHARED_MAX:
                self._columns.clear()
            names = self._columns[key] = frozenset(profile.field_columns(_sources(profile, active)))
        return names

    def _plan(self, profile: Profile, names: Iterable[str]) -> tuple[WalkRoot, ...]:
        # Walk plans are a pure function of the profile and the column set: compute each once.
        cached = self._plans.get(profile.name)
        if cached is None or cached[0] is not profile:
            cached = self._plans[profile.name] = (profile, {})
        key = frozenset(names)
        plan = cached[1].get(key)
        if plan is None:
            plan = cached[1][key] = profile.walk_plan(key)
        return plan

    @staticmethod
    def _get_size(device: Device) -> int:
        # Cells per GET at least: a GETBULK page (max-repetitions varbinds, which the agent already answers),
        # more where they fit GET_RESPONSE_BYTES (``_plan_chunks``); a tooBig means walks from then on.
        assert device.snmp is not None
        return max(1, min(device.snmp.max_repetitions, MAX_REPETITIONS_CAP))


@dataclass(slots=True)
class _Poll:
    """One poll of one device in progress: its client, what it read, and how many varbinds that took."""

    device: Device
    tags: dict[str, str]
    log: DeviceLog
    varbinds: int = 0  # also reported when the poll fails
    row_cap: int = ROW_CAP_MIN  # rows per column one walk may return (``row_cap``)
    row_cap_why: str = f"at least {ROW_CAP_MIN}"
    if_rows: int | None = None  # interfaces the agent has (ifNumber, else the last label walk's rows)
    slow: bool = False  # the first GET took SLOW_REQUEST_S or more
    tables_by: float = float("inf")  # event-loop time the profile tables' walks end by
    columns: Columns = field(default_factory=dict)
    mark: LabelMark | None = None  # ifTableLastChange and ifNumber as this poll read them
    # A GET of counter cells that rode in the scalars' GET (``_ride``), and that GET's answer.
    ridden: tuple[_Chunk, dict[Oid, SnmpValue]] | None = None
    client: SnmpClient = field(init=False)
    st: _DeviceState = field(init=False)

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        result = await self.client.get(oids)
        self.varbinds += len(result)
        return result

    async def get_cells(
        self, chunks: Iterable[_Chunk], *, partial: bool = False
    ) -> Literal["ok", "changed", "refused"]:
        """GET the counter cells the last walk found; ``columns`` gets them only when all answered (``ok``).

        ``changed``: a cell is missing; ``refused``: the agent answered the GET with an error. ``partial``:
        cells no walk has seen (the selected rows' on a label poll): a missing one is just absent.

        Between label polls, a walk of each counter column costs one request per column even on a device
        with two interfaces (and its last response carries the next column's rows for nothing); GETs of the
        known instances carry only what is wanted, max-repetitions varbinds at a time. A cell that no longer
        answers means the interface set changed: the caller walks instead, which also finds new rows.
        """
        got: Columns = {}
        for chunk in chunks:
            oids, groups, _ = chunk
            if self.ridden is not None and chunk is self.ridden[0]:
                result = self.ridden[1]  # these cells came with the scalars
            else:
                try:
                    result = await self.get(oids)
                except (SnmpTimeout, SnmpAuthError):
                    raise
                except SnmpError as exc:
                    self.log.debug("GET of counter cells failed: %s", exc)
                    return "refused"
            for name, cell_oids, idxs in groups:
                values = list(map(result.get, cell_oids))
                col = got.get(name)
                if col is None:
                    col = got[name] = {}
                if None not in values:
                    col.update(zip(idxs, cast("list[SnmpValue]", values), strict=True))
                elif partial:  # a cell the agent lacks (a row without 64-bit counters): just absent
                    col.update((idx, v) for idx, v in zip(idxs, values, strict=True) if v is not None)
                else:  # a cell the agent no longer has
                    return "changed"
        self.columns.update(got)
        return "ok"

    async def walk(
        self,
        plan: Iterable[WalkRoot],
        walked: set[str] | None = None,
        *,
        sized: bool = False,
        max_rows: int | None = None,
    ) -> None:
        """Walk each root of ``plan`` and sort the rows into their columns (by instance).

        ``walked`` gets the names of the columns whose walk finished. ``sized``: interface columns, walked
        with max-repetitions sized to the interface count (``_repetitions``). ``max_rows``: rows per column
        for a per-row table, ``WalkTooLong`` past it (None: the device's ``row_cap``, ``SnmpError`` past it).
        """
        columns = self.columns
        for walk_root in plan:
            cap = (self.row_cap if max_rows is None else max_rows) * len(walk_root.columns)
            try:
                with walk_repetitions(self._repetitions(len(walk_root.columns)) if sized else None):
                    result = await self.client.walk(walk_root.root, max_rows=cap)
            except WalkTooLong as exc:
                if max_rows is not None:
                    raise
                names = ", ".join(name for name, _ in walk_root.columns)
                raise SnmpError(
                    self.device.name,
                    f"table {names} ({format_oid(exc.root)}): more than {cap} rows, the cap for this device "
                    f"({self.row_cap} per column: {self.row_cap_why}); the agent's table is endless or far "
                    "larger than its interface count",
                ) from exc
            self.varbinds += len(result)
            if walked is not None:
                walked.update(name for name, _ in walk_root.columns)
            if len(walk_root.columns) == 1:
                name, oid = walk_root.columns[0]
                n = len(oid)
                columns[name] = {o[n:]: v for o, v in result}
                continue
            by_oid = {oid: name for name, oid in walk_root.columns}
            lengths = sorted({len(oid) for oid in by_oid})
            for name, _ in walk_root.columns:
                columns.setdefault(name, {})
            for o, v in result:
                for n in lengths:
                    col_name = by_oid.get(o[:n])
                    if col_name is not None:
                        columns[col_name][o[n:]] = v
                        break

    def _repetitions(self, n_columns: int) -> int | None:
        """Max-repetitions that read ``n_columns`` interface columns in one request, or None: the setting's.

        One GETBULK per column, however many interfaces (up to the cap), instead of one per 25 rows: on an
        agent that takes 0.3 s a request, the requests of a poll decide whether it fits its interval. +1 so
        the reply also shows the column's end. Only for a slow agent (``SLOW_REQUEST_S``), never below the
        setting, and not at all when the inventory sets ``max_repetitions`` (an agent that needs a small
        value).
        """
        settings = self.device.snmp
        if not self.slow or self.if_rows is None or settings is None:
            return None
        if "max_repetitions" in settings.model_fields_set:
            return None
        # Past the cap, requests of equal size: 135 varbinds as 2 x 68, not 100 + 35 with 65 of the next
        # column that the agent works out for nothing.
        wanted = self.if_rows * n_columns + 1
        requests = -(-wanted // MAX_REPETITIONS_CAP)
        return max(settings.max_repetitions, -(-wanted // requests))


def _scalars(profile: Profile, raw: Mapping[Oid, SnmpValue]) -> dict[str, SnmpValue]:
    return {n: raw[o] for n, o in profile.scalars.items() if o in raw}


def _sources(profile: Profile, active: Mapping[str, int]) -> list[Source]:
    return [
        profile.fields[f][i] for f, i in active.items() if f in profile.fields and i < len(profile.fields[f])
    ]


def _full_sources(profile: Profile, scalars: Mapping[str, SnmpValue]) -> list[Source]:
    """Every field's alternatives in order, up to the first that reads scalars only and has a value."""
    sources = []
    for alts in profile.fields.values():
        for src in alts:
            sources.append(src)
            if not profile.field_columns((src,)) and src.evaluate(scalars, {}) is not None:
                break
    return sources


def _evaluate_fields(
    profile: Profile,
    st: _DeviceState,
    scalars: Mapping[str, SnmpValue],
    columns: Columns,
    full: bool,
    time_ns: int,
) -> dict[str, FieldValue]:
    out: dict[str, FieldValue] = {}
    if full:
        st.active = {}
        for name, alts in profile.fields.items():
            for i, src in enumerate(alts):
                value = src.evaluate(scalars, columns)
                if value is not None:
                    st.active[name] = i
                    _put(out, st, name, src, value, time_ns)
                    break
        return out
    for name, i in st.active.items():
        alts = profile.fields.get(name, ())
        value = alts[i].evaluate(scalars, columns) if i < len(alts) else None
        if value is None:
            st.full_poll_due = True  # the source went away: try every alternative next time
        else:
            _put(out, st, name, alts[i], value, time_ns)
    return out


def _put(
    out: dict[str, FieldValue], st: _DeviceState, name: str, src: Source, value: FieldValue, time_ns: int
) -> None:
    """Add a field's value; a ``rate`` or ``changed`` field compares the raw reading with the last poll's."""
    if not src.stateful:
        out[name] = value
        return
    if not isinstance(value, int):
        return
    previous = st.readings.get(name)
    st.readings[name] = (time_ns, value)
    result: FieldValue | None
    if src.op == "rate":
        rate = counter_rate(previous, value, time_ns)
        result = None if rate is None else rate * src.scale + src.offset
    else:
        result = marker_changed(previous, value)
    if result is not None:
        out[name] = result


def _cells(
    profile: Profile,
    names: Iterable[str],
    st: _DeviceState,
    columns: Columns,
    if_number: int | None,
    size: int,
) -> tuple[_Chunk, ...] | None:
    """The selected rows' counter cells a walk (or GET) found, in GETs of ``size``; None: GETs could miss one.

    GETs see only known rows, so they are used only where ifNumber vouches for the interface set: it is
    read every poll, an added or removed interface changes it (and a change means a walk and new labels),
    and here it must equal the number of interfaces the labels found, or the agent's ifNumber is not to be
    trusted for that.
    """
    assert st.rows is not None
    if st.no_cell_gets or if_number is None or if_number != st.if_count:
        return None
    rows = [(row.index,) for row in st.rows]
    selected = set(rows)
    found: dict[str, Sequence[Oid]] = {}
    for name in names:
        col = columns.get(name, {})
        found[name] = rows if selected <= col.keys() else [idx for idx in col if idx in selected]
    if all(found[name] is rows for name in names):
        return _chunks(profile, names, rows, size)  # every column has every row: the plan's key is short
    return _chunks(profile, names, found, size)


def _chunks(
    profile: Profile, names: Iterable[str], indexes: Sequence[Oid] | Mapping[str, Sequence[Oid]], size: int
) -> tuple[_Chunk, ...]:
    """GETs of every column of ``names`` at ``indexes`` (or each column's own), planned once per distinct set.

    Each GET takes the cells that fit GET_RESPONSE_BYTES (``_cell_bytes``), never fewer than ``size``.
    """
    columns = tuple((name, profile.columns[name]) for name in names)
    if isinstance(indexes, Mapping):
        key: tuple[Any, ...] = (columns, tuple(tuple(indexes[name]) for name, _ in columns), size)
    else:
        key = (columns, tuple(indexes), size)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _SHARED_MAX:
            _PLANS.clear()
        plan = _PLANS[key] = _plan_chunks(columns, indexes, size)
    return plan


def _plan_chunks(
    columns: Sequence[tuple[str, Oid]], indexes: Sequence[Oid] | Mapping[str, Sequence[Oid]], size: int
) -> tuple[_Chunk, ...]:
    cells = [
        (name, (*column, *idx), idx)
        for name, column in columns
        for idx in (indexes[name] if isinstance(indexes, Mapping) else indexes)
    ]
    parts: list[list[tuple[str, Oid, Oid]]] = []
    part: list[tuple[str, Oid, Oid]] = []
    used = 0
    for cell in cells:
        need = _cell_bytes(cell[0], cell[1])
        if part and len(part) >= size and used + need > GET_RESPONSE_BYTES:
            parts.append(part)
            part, used = [], 0
        part.append(cell)
        used += need
    if part:
        parts.append(part)
    chunks: list[_Chunk] = []
    for part in parts:
        size_bytes = sum(_cell_bytes(name, oid) for name, oid, _ in part)
        groups: dict[str, tuple[list[Oid], list[Oid]]] = {}
        for name, oid, idx in part:
            group = groups.get(name)
            if group is None:
                group = groups[name] = ([], [])
            group[0].append(oid)
            group[1].append(idx)
        chunks.append(
            (
                tuple(oid for _, oid, _ in part),
                tuple((name, tuple(oids), tuple(idxs)) for name, (oids, idxs) in groups.items()),
                size_bytes,
            )
        )
    return tuple(chunks)


def _riding_oids(scalars: tuple[Oid, ...], chunk: _Chunk) -> tuple[Oid, ...]:
    """The scalars' OIDs and the chunk's, as one tuple kept for the pair: the same object every poll.

    The gufo client finds a kept tuple's OID names by identity; a tuple made afresh each poll would be hashed
    and then held by that cache until it filled.
    """
    kept = _RIDES.get(id(chunk))
    if kept is not None and kept[0] is chunk and kept[1] is scalars:
        return kept[2]
    if len(_RIDES) >= _SHARED_MAX:
        _RIDES.clear()
    oids = (*scalars, *chunk[0])
    _RIDES[id(chunk)] = (chunk, scalars, oids)  # the chunk held, so its id is no other object's
    return oids


def _cell_bytes(name: str, oid: Oid) -> int:
    """A GET response's varbind for this cell, BER bytes at most: its OID and its type's largest value."""
    if name not in _NUMERIC_COLUMNS:
        return COUNTER_VARBIND_BYTES  # text: labels are short, mostly; the old flat reckoning
    value = _VALUE64_BYTES if name.startswith("ifHC") else _VALUE32_BYTES
    return _VARBIND_HEADER_BYTES + 2 + _oid_bytes(oid) + value


def _value_bytes(value: SnmpValue) -> int:
    """A value's BER bytes, tag and length included."""
    if isinstance(value, int):
        content = value.bit_length() // 8 + 1
    elif isinstance(value, tuple):
        content = _oid_bytes(value)
    else:
        content = len(value)
    return content + (2 if content < 128 else 3 if content < 256 else 4)


def _oid_bytes(oid: Oid) -> int:
    """An OID's BER content octets: the first two arcs in one, then 7 bits an octet."""
    return 1 + sum((arc.bit_length() + 6) // 7 or 1 for arc in oid[2:])


def _signature(columns: Columns, counter_names: Iterable[str]) -> tuple[frozenset[Oid], ...]:
    # The row sets of the status and 64-bit octet columns: a change means interfaces came, went or moved.
    return _shared(
        tuple(frozenset(columns.get(n, ())) for n in ("ifOperStatus", "ifHCInOctets") if n in counter_names)
    )


def _as_int(value: SnmpValue | None) -> int | None:
    return value if isinstance(value, int) else None


def _as_oid(value: SnmpValue | None) -> Oid | None:
    return value if isinstance(value, tuple) and value else None


def _text(value: SnmpValue | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)
