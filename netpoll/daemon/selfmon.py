"""Self-monitoring: the ``netpoll`` measurement each cycle, and the Prometheus registry behind ``/metrics``.

Cycle figures (points written, queue, spool, poll start lag, event-loop lag) are set at each cycle's end;
figures that change with every poll (polls by outcome, per-device ``up``, the MQTT publisher's counters) are
read live at scrape time by a collector, so a scrape never lags a cycle behind. The registry also carries
``netpoll_build_info`` and the standard process, platform and GC collectors; no ``_created`` series
(``disable_created_metrics``).
``netpoll.daemon.http`` serves it.

Health (``/healthz``): unhealthy when the scheduler is not running or no cycle ended for three cycle lengths;
*degraded* (still healthy: restarting an overloaded poller helps nobody) when the last cycle had overloaded
polls, or started many of its polls late, with the figures that say how far behind the poller is and what
to do about it.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netpoll import __version__, defaults
from netpoll.daemon.looplag import LagFigures, p99
from netpoll.daemon.overload import REASONS, behind_on_schedule
from netpoll.daemon.scheduler import CycleStats
from netpoll.daemon.status import StatusBoard
from netpoll.inputs.icmp.channel import REFUSED as ICMP_REFUSED
from netpoll.inputs.snmp.replies import STATS, ReplyStats
from netpoll.measurements import NETPOLL
from netpoll.sample import FieldValue, Sample

if TYPE_CHECKING:  # the trap receiver is loaded only when traps: is enabled
    from netpoll.inputs.traps.receiver import TrapStats

# A counter's _created series doubles the series count and no dashboard or alert reads it.
disable_created_metrics()  # type: ignore[no-untyped-call]

log = logging.getLogger("netpoll.daemon.selfmon")


@dataclass(frozen=True, slots=True)
class SinkFigures:
    """What the output reports about itself at the end of a cycle."""

    queue_size: int
    spool_bytes: int
    write_latency_ms: float
    points_written: int
    points_dropped: int = 0  # since start: rejected by the server, pushed out of a full spool, unwritable


class _ReplyCollector(Collector):
    """SNMP replies refused, from ``netpoll.inputs.snmp.replies.STATS`` (process-wide counters)."""

    def __init__(self, stats: ReplyStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        faults = CounterMetricFamily(
            "netpoll_snmp_decoder_faults", "SNMP replies a backend could not decode", labels=["backend"]
        )
        for backend, count in sorted(self._stats.decoder_faults.items()):
            faults.add_metric([backend], count)
        yield faults
        dropped = CounterMetricFamily(
            "netpoll_snmp_replies_dropped",
            "SNMP datagrams dropped unread: no request of theirs was sent to their source",
            labels=["source"],
        )
        for source, count in sorted(self._stats.dropped.items()):
            dropped.add_metric([source], count)
        yield dropped
        refused = CounterMetricFamily(
            "netpoll_snmp_values_refused",
            "SNMP values outside their type (negative counters, oversized gauges), treated as absent",
        )
        refused.add_metric([], self._stats.refused_values)
        yield refused
        icmp = CounterMetricFamily(
            "netpoll_icmp_refused",
            "ICMP packets with netpoll's identifier and sequence that are not the request's answer",
            labels=["kind"],
        )
        for kind in ("stray_reply", "forged_error", "stray_error"):
            icmp.add_metric([kind], ICMP_REFUSED[kind])
        yield icmp


class SelfMonitor:
    """Turns cycle counters into the ``netpoll`` sample and Prometheus metrics.

    Args:
        instance: the ``instance`` tag (host name by default).
        shard: the ``shard`` tag, ``I/N`` or ``0/1``.
    """

    def __init__(self, instance: str, shard: str) -> None:
        self.instance = instance
        self.shard = shard
        self.registry = CollectorRegistry()
        for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            # The default registry's collectors, shared: they read the process, they keep no state.
            self.registry.register(standard)
        Info("netpoll_build", "Version of netpoll and Python", registry=self.registry).info(
            {"version": __version__, "python_version": platform.python_version()}
        )
        self.live = LiveCollector()
        self.registry.register(self.live)
        self._points = Counter(
            "netpoll_points_written", "Points written to the output", registry=self.registry
        )
        self._dropped = Counter(
            "netpoll_points_dropped", "Points the output had to drop", registry=self.registry
        )
        self._lag = Gauge(
            "netpoll_poll_lag_seconds", "Largest poll start lag in the last cycle", registry=self.registry
        )
        # How far behind the poller was in the last cycle (see netpoll.daemon.overload).
        self._behind = {
            name: Gauge(name, text, registry=self.registry)
            for name, text in (
                ("netpoll_poll_lag_p99_seconds", "99th percentile of the poll start lag in the last cycle"),
                ("netpoll_event_loop_lag_p99_seconds", "99th percentile of the event loop's lag, last cycle"),
                ("netpoll_event_loop_lag_max_seconds", "Largest lag of the event loop in the last cycle"),
                ("netpoll_overloaded_polls_last_cycle", "Polls the poller was too busy for, last cycle"),
            )
        }
        self._queue = Gauge("netpoll_queue_points", "Points waiting in memory", registry=self.registry)
        self._spool = Gauge(
            "netpoll_spool_bytes", "Bytes waiting in the on-disk spool", registry=self.registry
        )
        self._latency = Gauge(
            "netpoll_write_latency_seconds", "Latency of the last write", registry=self.registry
        )
        self._devices = Gauge("netpoll_devices", "Devices scheduled", registry=self.registry)
        self._cycle_time = Gauge(
            "netpoll_last_cycle_timestamp_seconds", "When the last cycle ended", registry=self.registry
        )
        self.registry.register(_ReplyCollector(STATS))
        self._last_points_written = 0
        self._last_points_dropped = 0
        # What health() and /api/status read, from the HTTP endpoint's own thread: each attribute is
        # replaced whole by the daemon's loop, never changed in place.
        self.last_cycle_at = 0.0
        self.cycle_interval_s = defaults.INTERVAL_S
        self.running = False
        self.overload = ""  # why the last cycle was degraded; "" when it was not
        self.last_fields: dict[str, FieldValue] = {}  # the last cycle's netpoll record (/api/status)

    def cycle_sample(
        self,
        cycle: CycleStats,
        sink: SinkFigures,
        devices: int,
        mqtt: Mapping[str, int] | None = None,
        loop: LagFigures | None = None,
    ) -> Sample:
        """Record one cycle; returns its ``netpoll`` sample (with the MQTT publisher's counters if any).

        ``loop``: the event loop's lag over the cycle (``LoopLagMonitor.take()``).
        """
        written = max(0, sink.points_written - self._last_points_written)
        self._last_points_written = sink.points_written
        self._points.inc(written)
        dropped = max(0, sink.points_dropped - self._last_points_dropped)
        self._dropped.inc(dropped)
        self._last_points_dropped = sink.points_dropped
        loop = loop or LagFigures()
        lag_p99_ms = p99(cycle.start_lags_ms)
        self._lag.set(cycle.poll_lag_ms_max / 1000.0)
        for name, value in (
            ("netpoll_poll_lag_p99_seconds", lag_p99_ms / 1000.0),
            ("netpoll_event_loop_lag_p99_seconds", loop.p99_s),
            ("netpoll_event_loop_lag_max_seconds", loop.max_s),
            ("netpoll_overloaded_polls_last_cycle", cycle.polls_overloaded),
        ):
            self._behind[name].set(value)
        self.overload = _overload_text(cycle, lag_p99_ms, loop)
        self._queue.set(sink.queue_size)
        self._spool.set(sink.spool_bytes)
        self._latency.set(sink.write_latency_ms / 1000.0)
        self._devices.set(devices)
        self.last_cycle_at = time.time()
        self._cycle_time.set(self.last_cycle_at)
        fields: dict[str, FieldValue] = {
            "polls_ok": cycle.polls_ok,
            "polls_failed": cycle.polls_failed,
            "polls_skipped": cycle.polls_skipped,
            "polls_late": cycle.polls_late,
            "poll_lag_ms": round(cycle.poll_lag_ms_max, 3),
            "poll_lag_p99_ms": round(lag_p99_ms, 3),
            "polls_overloaded": cycle.polls_overloaded,
            "overloaded_slot_wait": cycle.overloaded["slot_wait"],
            "overloaded_loop_lag": cycle.overloaded["loop_lag"],
            "overloaded_queue": cycle.overloaded["queue"],
            "overloaded_shed": cycle.overloaded["shed"],
            "loop_lag_p99_ms": round(loop.p99_s * 1000.0, 3),
            "loop_lag_max_ms": round(loop.max_s * 1000.0, 3),
            "queue_size": sink.queue_size,
            "spool_bytes": sink.spool_bytes,
            "write_latency_ms": round(sink.write_latency_ms, 3),
            "points_written": written,
            "points_dropped": dropped,
            "devices": devices,
            # since start, all devices: see netpoll_snmp_decoder_faults/replies_dropped on /metrics per label
            "snmp_decoder_faults": sum(STATS.decoder_faults.values()),
            "snmp_replies_dropped": sum(STATS.dropped.values()),
        }
        if mqtt is not None:
            # Since start; the queue is what waits for the broker now.
            fields["alerts_queued"] = mqtt["queued"]
            fields["alerts_published"] = mqtt["published"]
            fields["alerts_dropped"] = mqtt["dropped"]
            fields["alerts_refused"] = mqtt.get("refused", 0)
            fields["mqtt_connected"] = mqtt["connected"]
        tags = {"instance": self.instance, "shard": self.shard}
        # Replaced whole, never changed in place: /api/status reads it from the HTTP endpoint's thread.
        self.last_fields = dict(fields)
        return Sample(NETPOLL.name, tags, fields, time.time_ns())

    def health(self) -> tuple[bool, str]:
        """(healthy, reason): ``ok``, ``degraded: ...`` (healthy but overloaded), or why not healthy.

        Answered outside the daemon's event loop (the HTTP endpoint's thread), so a loop that runs seconds
        behind still gets its answer; a loop stuck for good ends no cycle and is unhealthy after three.
        """
        if not self.running:
            return False, "not running"
        if self.last_cycle_at and time.time() - self.last_cycle_at > 3 * self.cycle_interval_s:
            return False, f"no cycle completed for {time.time() - self.last_cycle_at:.0f} s"
        if self.overload:
            return True, f"degraded: {self.overload}"
        return True, "ok"


# What an operator can do about an overloaded poller, in the /healthz text (the alert rule says it too).
ADVICE = (
    "shard the inventory over more processes (--shard I/N), raise the devices' interval_s, or raise "
    "scheduler.max_concurrent_snmp / max_concurrent_icmp if a core is left"
)


def _overload_text(cycle: CycleStats, lag_p99_ms: float, loop: LagFigures) -> str:
    """How far behind the poller was in a cycle, and what to do; "" when it kept up.

    Overloaded polls first (data was lost); else many polls started late (none lost yet, the poller is at
    its capacity: :func:`netpoll.daemon.overload.behind_on_schedule`).
    """
    due = cycle.polls_ok + cycle.polls_failed + cycle.polls_overloaded
    if cycle.polls_overloaded:
        reasons = ", ".join(f"{reason} {cycle.overloaded[reason]}" for reason in REASONS)
        what = f"{cycle.polls_overloaded} of {due} polls overloaded in the last cycle ({reasons})"
    elif behind_on_schedule(cycle.polls_late, due):
        what = f"{cycle.polls_late} of {due} polls started late in the last cycle (none lost)"
    else:
        return ""
    return (
        f"{what}; poll start lag p99 {lag_p99_ms / 1000.0:.1f} s, "
        f"event-loop lag p99 {loop.p99_s * 1000.0:.0f} ms: {ADVICE}"
    )


class LiveCollector(Collector):
    """Metrics read at scrape time: scheduler totals, status board, MQTT publisher, trap receiver.

    Each source is optional (set the attribute once it exists); a missing one adds no series.
    """

    def __init__(self) -> None:
        self.totals: Callable[[], CycleStats] | None = None
        self.board: StatusBoard | None = None
        self.mqtt: Callable[[], Mapping[str, int]] | None = None
        self.in_flight: Callable[[], int] | None = None
        self.traps: Callable[[], TrapStats] | None = None

    def collect(self) -> Iterator[Metric]:
        """The current values (called by the registry on every scrape)."""
        if self.totals is not None:
            yield from _poll_metrics(self.totals())
        if self.in_flight is not None:
            yield GaugeMetricFamily("netpoll_polls_in_flight", "Polls running now", value=self.in_flight())
        if self.board is not None:
            yield from _device_metrics(self.board)
        if self.mqtt is not None:
            yield from _mqtt_metrics(self.mqtt())
        if self.traps is not None:
            yield from _trap_metrics(self.traps())


def _poll_metrics(totals: CycleStats) -> Iterator[Metric]:
    # ok + failed is every poll that ran, so sum(netpoll_polls_total) counts polls. Late and cut polls are
    # among those, and skipped ones never ran: each is its own counter so that no sum counts a poll twice.
    polls = CounterMetricFamily("netpoll_polls", "Polls that ran, by outcome", labels=["outcome"])
    polls.add_metric(["ok"], totals.polls_ok)
    polls.add_metric(["failed"], totals.polls_failed)
    yield polls
    overloaded = CounterMetricFamily(
        "netpoll_polls_overloaded",
        "Polls the poller was too busy for (not the device's failure), by reason",
        labels=["reason"],
    )
    for reason in REASONS:
        overloaded.add_metric([reason], totals.overloaded[reason])
    yield overloaded
    for name, value, text in (
        ("netpoll_polls_late", totals.polls_late, "Polls that started late (a subset of the polls)"),
        ("netpoll_polls_cut", totals.polls_cut, "Polls cut at their deadline (counted as failed too)"),
        (
            "netpoll_polls_skipped",
            totals.polls_skipped,
            "Polls not started: the previous one still ran (overloaded, reason skipped, too)",
        ),
    ):
        yield CounterMetricFamily(name, text, value=value)


def _device_metrics(board: StatusBoard) -> Iterator[Metric]:
    up = GaugeMetricFamily("netpoll_device_up", "1 if the last poll succeeded", labels=["device", "kind"])
    success = GaugeMetricFamily(
        "netpoll_device_last_success_timestamp_seconds",
        "When a poll last succeeded (Unix time)",
        labels=["device", "kind"],
    )
    duration = GaugeMetricFamily(
        "netpoll_device_poll_duration_seconds", "Duration of the last poll", labels=["device", "kind"]
    )
    for name, kind, status in board.probes():
        up.add_metric([name, kind], 1.0 if status.ok else 0.0)
        duration.add_metric([name, kind], status.duration_s)
        if status.last_success_at is not None:
            success.add_metric([name, kind], status.last_success_at)
    yield from (up, success, duration)


def _mqtt_metrics(stats: Mapping[str, int]) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "netpoll_mqtt_connected", "1 while connected to the MQTT broker", value=stats.get("connected", 0)
    )
    yield GaugeMetricFamily(
        "netpoll_mqtt_queued", "Alerts waiting for the MQTT broker", value=stats.get("queued", 0)
    )
    for key, text in (
        ("published", "Alerts the broker acknowledged"),
        ("dropped", "Alerts dropped from a full queue"),
        ("refused", "Alerts the broker refused"),
        ("connects", "Successful connections to the broker"),
        ("connect_failures", "Failed connection attempts to the broker"),
    ):
        if key in stats:
            yield CounterMetricFamily(f"netpoll_mqtt_{key}", text, value=stats[key])


def _trap_metrics(stats: TrapStats) -> Iterator[Metric]:
    for key, text in (
        ("received", "Datagrams the trap receiver read"),
        ("events", "Notifications accepted (trap records, MQTT events)"),
        ("informs_acknowledged", "Informs answered with a Response"),
        ("unknown_source", "Notifications from senders that are no inventory device"),
        ("undecodable", "Datagrams that were no SNMP trap or inform"),
    ):
        yield CounterMetricFamily(f"netpoll_traps_{key}", text, value=getattr(stats, key))
    dropped = CounterMetricFamily(
        "netpoll_traps_dropped", "Datagrams dropped before decoding, by cause", labels=["cause"]
    )
    dropped.add_metric(["queue"], stats.queue_dropped)
    dropped.add_metric(["rate"], stats.rate_dropped)
    dropped.add_metric(["kernel"], stats.kernel_dropped)
    yield dropped
    auth = CounterMetricFamily(
        "netpoll_traps_auth_failures",
        "Notifications with a wrong community or SNMPv3 user or key, by device",
        labels=["device"],
    )
    for device, count in sorted(stats.auth_failures.items()):
        auth.add_metric([device], count)
    yield auth
