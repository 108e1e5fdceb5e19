"""``SnmpPoller``: one poll of one device → ``interface`` and ``snmp`` samples; counter state kept inside.

A poll is: one GET of the profile's scalars (system group, vendor scalars), bulk walks of the interface
counter columns and of the tables the profile's fields read, and now and then of the slow-changing label
columns (ifDescr, ifName, ifAlias, speeds). Then the pure maths in ``metrics`` and ``profiles`` turn it into
samples. A device failure never raises: it becomes an ``snmp`` sample with ``poll_ok=0`` and ``error``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netpoll.errors import SnmpError
from netpoll.inputs.snmp.metrics import (
    IfKey,
    IfState,
    InterfaceRow,
    UptimeState,
    device_uptime,
    if_state_from_json,
    if_state_to_json,
    interface_rows,
    interface_samples,
)
from netpoll.inputs.snmp.profiles import Profile, ProfileSet, Source, WalkRoot
from netpoll.inputs.snmp.types import Oid, SnmpClient, SnmpValue, format_oid, parse_oid
from netpoll.inventory.models import Device
from netpoll.sample import FieldValue, Sample

log = logging.getLogger("netpoll.snmp.poller")

STATE_VERSION = 1
# Label columns are re-read every this many polls (and whenever the interface set changes).
LABEL_EVERY = 10

Columns = dict[str, dict[Oid, SnmpValue]]


@dataclass
class _DeviceState:
    """Everything the poller remembers about one device between polls."""

    profile: str | None = None
    sys_object_id: Oid | None = None
    uptime: UptimeState | None = None
    ifs: dict[IfKey, IfState] = field(default_factory=dict)
    # Not persisted: re-read on the first poll after a restart.
    rows: list[InterfaceRow] | None = None
    base_tags: dict[str, str] = field(default_factory=dict)
    polls_since_labels: int = 0
    if_number: int | None = None
    signature: tuple[frozenset[Oid], ...] | None = None
    fallback: bool = False
    # field → index of the alternative that gave a value on the last full poll
    active: dict[str, int] = field(default_factory=dict)
    full_poll_due: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "sys_object_id": format_oid(self.sys_object_id) if self.sys_object_id else None,
            "uptime": self.uptime.to_json() if self.uptime else None,
            "ifs": if_state_to_json(self.ifs),
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
        return st


class _PollError(Exception):
    """A problem with the device's set-up (no SNMP, unknown profile): reported like an SNMP failure."""


class SnmpPoller:
    """Polls devices through an ``SnmpClientPool`` using compiled profiles.

    Args:
        pool: hands out one ``SnmpClient`` per device (``pool.client(device)``).
        profiles: from ``load_profiles()``.
        label_every: re-read the label columns every this many polls.
        deadline_s: hard limit for one poll; default 90 % of the device's interval, at least one full
            timeout-and-retries cycle plus a second.
    """

    def __init__(
        self,
        pool: Any,
        profiles: ProfileSet,
        *,
        label_every: int = LABEL_EVERY,
        deadline_s: float | None = None,
    ) -> None:
        self._pool = pool
        self._profiles = profiles
        self._label_every = max(1, label_every)
        self._deadline_s = deadline_s
        self._state: dict[str, _DeviceState] = {}

    # --- state ---------------------------------------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """Counter and uptime state of every device, JSON-able, for ``import_state`` after a restart."""
        return {"version": STATE_VERSION, "devices": {n: s.to_json() for n, s in self._state.items()}}

    def import_state(self, data: Mapping[str, Any]) -> None:
        """Restore ``export_state()`` output; unknown versions and malformed devices are ignored."""
        if data.get("version") != STATE_VERSION:
            log.warning("SNMP state: unknown version %r, starting afresh", data.get("version"))
            return
        for name, entry in (data.get("devices") or {}).items():
            try:
                self._state[str(name)] = _DeviceState.from_json(entry)
            except (TypeError, ValueError, AttributeError, IndexError):
                log.warning("SNMP state: cannot restore device %s, starting afresh for it", name)

    def forget(self, name: str) -> None:
        """Drop a device's state (removed from the inventory)."""
        self._state.pop(name, None)

    # --- polling -------------------------------------------------------------------------------

    def deadline_for(self, device: Device) -> float:
        """The hard limit for one poll of this device, seconds."""
        if self._deadline_s is not None:
            return self._deadline_s
        s = device.snmp
        if s is None:
            return 10.0
        return max(s.interval_s * 0.9, s.timeout_s * (s.retries + 1) + 1.0)

    async def poll(self, device: Device) -> list[Sample]:
        """Poll one device: ``interface`` samples and one ``snmp`` sample; a device failure never raises."""
        start = time.perf_counter()
        tags = device.output_tags()
        counter = [0]  # varbinds, also on failure
        deadline = self.deadline_for(device)
        try:
            async with asyncio.timeout(deadline):
                return await self._poll(device, tags, start, counter)
        except TimeoutError:
            error = f"poll deadline of {deadline:g}s exceeded"
        except SnmpError as exc:
            # The record already names the device: drop the agent prefix the exception carries.
            error = str(exc).removeprefix(f"{exc.agent}: ")
        except _PollError as exc:
            error = str(exc)
        except Exception as exc:  # a bug must not stop the other devices
            log.exception("%s: SNMP poll failed", device.name)
            error = f"internal error: {type(exc).__name__}: {exc}"
        log.debug("%s: SNMP poll failed: %s", device.name, error)
        fields: dict[str, FieldValue] = {
            "poll_ok": 0,
            "poll_duration_ms": (time.perf_counter() - start) * 1000.0,
            "varbinds": counter[0],
            "error": error,
        }
        return [Sample("snmp", tags, fields, time.time_ns())]

    def _profile(self, device: Device, st: _DeviceState) -> Profile | None:
        assert device.snmp is not None
        name = device.snmp.profile or st.profile
        if name is None:
            return None
        if name not in self._profiles:
            if device.snmp.profile:
                known = ", ".join(sorted(self._profiles.profiles))
                raise _PollError(f"unknown profile {name!r} (known: {known})")
            return None  # a saved pick that no longer exists: pick again
        return self._profiles[name]

    async def _poll(
        self, device: Device, tags: dict[str, str], start: float, counter: list[int]
    ) -> list[Sample]:
        if device.snmp is None:
            raise _PollError("SNMP is not enabled for this device")
        client: SnmpClient = self._pool.client(device)
        st = self._state.get(device.name)
        if st is None:
            st = self._state[device.name] = _DeviceState()

        profile = self._profile(device, st)
        if profile is None:
            # First contact: the default profile's scalars include sysObjectID and sysDescr to pick with.
            profile = self._profiles[self._profiles.default]
        raw_scalars = await client.get(profile.get_oids)
        counter[0] += len(raw_scalars)
        scalars = {n: raw_scalars[o] for n, o in profile.scalars.items() if o in raw_scalars}
        if not scalars:
            raise SnmpError(device.name, "the agent answered none of the system scalars (sysUpTime, ...)")

        sys_oid = _as_oid(scalars.get(profile.system.get("sys_object_id", "")))
        if sys_oid is not None and st.sys_object_id is not None and sys_oid != st.sys_object_id:
            log.info(
                "%s: sysObjectID changed (%s → %s): new device, state reset",
                device.name,
                format_oid(st.sys_object_id),
                format_oid(sys_oid),
            )
            st = self._state[device.name] = _DeviceState()
        st.sys_object_id = sys_oid
        if not device.snmp.profile and st.profile is None:
            descr = _text(scalars.get(profile.system.get("sys_descr", "")))
            picked = self._profiles.pick(sys_oid, descr)
            st.profile = picked.name
            if picked is not profile:
                profile = picked
                missing = [o for o in profile.get_oids if o not in raw_scalars]
                if missing:
                    more = await client.get(missing)
                    counter[0] += len(more)
                    raw_scalars.update(more)
                scalars = {n: raw_scalars[o] for n, o in profile.scalars.items() if o in raw_scalars}
            log.debug("%s: profile %s", device.name, profile.name)
        elif device.snmp.profile:
            st.profile = profile.name

        system = profile.system
        uptime_s, rebooted, uptime_state = device_uptime(
            st.uptime,
            _as_int(scalars.get(system.get("sys_uptime", ""))),
            _as_int(scalars.get(system.get("engine_time", ""))),
            _as_int(scalars.get(system.get("hr_uptime", ""))),
            time.time_ns(),
        )
        if_number = _as_int(scalars.get(system.get("if_number", "")))
        relabel = (
            st.rows is None
            or st.polls_since_labels + 1 >= self._label_every
            or rebooted
            or if_number != st.if_number
            or st.base_tags != tags
        )
        full = relabel or st.full_poll_due

        # Profile tables first, counters last: the counters' arrival time stamps the samples.
        columns: Columns = {}
        field_cols = profile.field_columns(_sources(profile, st.active, full))
        await self._walk(client, profile.walk_plan(field_cols), columns, counter)
        if relabel:
            await self._walk(client, profile.walk_plan(profile.if_labels), columns, counter)
        counter_names = list(profile.if_counters)
        if st.fallback:
            counter_names += profile.if_fallback
        await self._walk(client, profile.walk_plan(counter_names), columns, counter)
        time_ns = time.time_ns()

        signature = _signature(columns, profile.if_counters)
        if not relabel and signature != st.signature:
            # New or renumbered interfaces: the labels we hold are stale, read them now.
            relabel = True
            await self._walk(client, profile.walk_plan(profile.if_labels), columns, counter)
        if relabel:
            st.rows = interface_rows({n: columns.get(n, {}) for n in profile.if_labels}, tags)
            st.base_tags = dict(tags)
            st.polls_since_labels = 0
            st.if_number = if_number
            st.signature = signature
            hc = columns.get("ifHCInOctets", {})
            want_fallback = any((row.index,) not in hc for row in st.rows) and bool(profile.if_fallback)
            if want_fallback and not st.fallback:
                await self._walk(client, profile.walk_plan(profile.if_fallback), columns, counter)
                time_ns = time.time_ns()
            st.fallback = want_fallback
        else:
            st.polls_since_labels += 1
        assert st.rows is not None

        if_samples, st.ifs = interface_samples(st.rows, columns, st.ifs, time_ns, rates=not rebooted)
        st.uptime = uptime_state
        if rebooted:
            log.info("%s: reboot detected (uptime %.0fs)", device.name, uptime_s or 0.0)

        fields: dict[str, FieldValue] = {}
        if uptime_s is not None:
            fields["uptime_s"] = uptime_s
        fields["poll_ok"] = 1
        fields["poll_duration_ms"] = (time.perf_counter() - start) * 1000.0
        fields["varbinds"] = counter[0]
        fields["rebooted"] = 1 if rebooted else 0
        fields["profile"] = profile.name
        fields.update(_evaluate_fields(profile, st, scalars, columns, full))
        st.full_poll_due = False if full else st.full_poll_due
        return [*if_samples, Sample("snmp", tags, fields, time_ns)]

    async def _walk(
        self, client: SnmpClient, plan: Iterable[WalkRoot], columns: Columns, counter: list[int]
    ) -> None:
        for walk_root in plan:
            result = await client.walk(walk_root.root)
            counter[0] += len(result)
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


def _sources(profile: Profile, active: Mapping[str, int], full: bool) -> list[Source]:
    if full:
        return [s for alts in profile.fields.values() for s in alts]
    return [
        profile.fields[f][i] for f, i in active.items() if f in profile.fields and i < len(profile.fields[f])
    ]


def _evaluate_fields(
    profile: Profile,
    st: _DeviceState,
    scalars: Mapping[str, SnmpValue],
    columns: Columns,
    full: bool,
) -> dict[str, FieldValue]:
    out: dict[str, FieldValue] = {}
    if full:
        st.active = {}
        for name, alts in profile.fields.items():
            for i, src in enumerate(alts):
                value = src.evaluate(scalars, columns)
                if value is not None:
                    out[name] = value
                    st.active[name] = i
                    break
        return out
    for name, i in st.active.items():
        alts = profile.fields.get(name, ())
        value = alts[i].evaluate(scalars, columns) if i < len(alts) else None
        if value is None:
            st.full_poll_due = True  # the source went away: try every alternative next time
        else:
            out[name] = value
    return out


def _signature(columns: Columns, counter_names: Iterable[str]) -> tuple[frozenset[Oid], ...]:
    # The row sets of the status and 64-bit octet columns: a change means interfaces came, went or moved.
    return tuple(
        frozenset(columns.get(n, ())) for n in ("ifOperStatus", "ifHCInOctets") if n in counter_names
    )


def _as_int(value: SnmpValue | None) -> int | None:
    return value if isinstance(value, int) else None


def _as_oid(value: SnmpValue | None) -> Oid | None:
    return value if isinstance(value, tuple) and value else None


def _text(value: SnmpValue | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)
