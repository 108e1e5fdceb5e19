"""Self-monitoring: the ``netpoll`` measurement each cycle, and ``/metrics`` + ``/healthz`` over HTTP.

The HTTP endpoint is a small asyncio server (no thread): ``GET /metrics`` answers the Prometheus text format
from a private registry, ``GET /healthz`` answers 200 ``ok`` while the scheduler runs and a cycle completed
recently, else 503 with the reason. It listens on loopback by default (``http.listen``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from netpoll import defaults
from netpoll.daemon.scheduler import CycleStats
from netpoll.errors import NetpollError
from netpoll.inputs.icmp.channel import REFUSED as ICMP_REFUSED
from netpoll.inputs.snmp.replies import STATS, ReplyStats
from netpoll.measurements import NETPOLL
from netpoll.sample import FieldValue, Sample

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
        self._polls = Counter("netpoll_polls", "Polls by outcome", ["outcome"], registry=self.registry)
        self._points = Counter(
            "netpoll_points_written", "Points written to the output", registry=self.registry
        )
        self._alerts_queued = Gauge(
            "netpoll_alerts_queued", "Alerts waiting for the MQTT broker", registry=self.registry
        )
        self._dropped = Counter(
            "netpoll_points_dropped", "Points the output had to drop", registry=self.registry
        )
        self._lag = Gauge(
            "netpoll_poll_lag_seconds", "Largest poll start lag in the last cycle", registry=self.registry
        )
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
        self.last_cycle_at = 0.0
        self.cycle_interval_s = defaults.INTERVAL_S
        self.running = False

    def cycle_sample(
        self, cycle: CycleStats, sink: SinkFigures, devices: int, mqtt: Mapping[str, int] | None = None
    ) -> Sample:
        """Record one cycle; returns its ``netpoll`` sample (with the MQTT publisher's counters if any)."""
        written = max(0, sink.points_written - self._last_points_written)
        self._last_points_written = sink.points_written
        self._polls.labels("ok").inc(cycle.polls_ok)
        self._polls.labels("failed").inc(cycle.polls_failed)
        self._polls.labels("skipped").inc(cycle.polls_skipped)
        self._polls.labels("late").inc(cycle.polls_late)
        self._points.inc(written)
        dropped = max(0, sink.points_dropped - self._last_points_dropped)
        self._dropped.inc(dropped)
        self._last_points_dropped = sink.points_dropped
        self._lag.set(cycle.poll_lag_ms_max / 1000.0)
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
            self._alerts_queued.set(mqtt["queued"])
        tags = {"instance": self.instance, "shard": self.shard}
        return Sample(NETPOLL.name, tags, fields, time.time_ns())

    def health(self) -> tuple[bool, str]:
        """(healthy, reason)."""
        if not self.running:
            return False, "not running"
        if self.last_cycle_at and time.time() - self.last_cycle_at > 3 * self.cycle_interval_s:
            return False, f"no cycle completed for {time.time() - self.last_cycle_at:.0f} s"
        return True, "ok"


class HttpEndpoint:
    """Async context manager serving ``/metrics`` and ``/healthz`` on ``host:port``.

    Args:
        monitor: the self-monitor to expose.
        host: listen address.
        port: TCP port; 0 picks a free one (see ``port`` after entering).
    """

    def __init__(self, monitor: SelfMonitor, host: str, port: int) -> None:
        self.monitor = monitor
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:  # port taken, address not local: the user's to fix, one line
            raise NetpollError(
                f"cannot serve /metrics on {self.host}:{self.port}: {exc.strerror or exc}: "
                "free that port or change http.listen in the configuration"
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.host, self.port)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5.0):
                request = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if path == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.monitor.registry)
            elif path == "/healthz":
                healthy, reason = self.monitor.health()
                status = "200 OK" if healthy else "503 Service Unavailable"
                ctype, body = "text/plain; charset=utf-8", (reason + "\n").encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain; charset=utf-8", b"not found\n"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, OSError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
