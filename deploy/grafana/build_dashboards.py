#!/usr/bin/env python3
"""Generate netpoll's Grafana dashboards (``dashboards/*.json``) from one description.

Run ``python deploy/grafana/build_dashboards.py`` after editing; the generated JSON is committed so Grafana
provisioning needs no build step. Writing the dashboards here, not by hand, keeps the datasource, the
template-variable filters, units and legends the same on every panel.

Queries are InfluxQL, which InfluxDB 1.x, 2.x (through a DBRP mapping) and 3.x answer. Names follow the
InfluxDB schema in the README: measurements ``interface``, ``snmp``, ``ping``, ``alert``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Fixed uid, set by provisioning/datasources/netpoll.yaml, so dashboards need no datasource variable.
DATASOURCE = {"type": "influxdb", "uid": "netpoll-influxdb"}
SCHEMA_VERSION = 39
OUT_DIR = Path(__file__).resolve().parent / "dashboards"

# Template-variable filters. Grafana's InfluxDB datasource regex-escapes the values and joins several with
# "|", so the group keeps ^...$ anchoring every alternative. "All" is the custom value ".*": with thousands
# of devices a list of every name would make each query huge. A series without the tag (a device with no
# site in the inventory) reads as "" and still matches ".*".
SITE = '"site" =~ /^($site)$/'
ROLE = '"role" =~ /^($role)$/'
DEVICE = '"device" =~ /^($device)$/'
INTERFACE = '"ifName" =~ /^($interface)$/'
# Time series: one series per device, or per device and interface.
PER_DEVICE = 'GROUP BY time($__interval), "device" fill(none)'
PER_INTERFACE = 'GROUP BY time($__interval), "device", "ifName" fill(none)'
SEVERITY = '"severity" =~ /^($severity)$/'
RULE = '"rule" =~ /^($rule)$/'
STATE = '"state" =~ /^($state)$/'

IF_OPER_STATUS = {
    "1": ("up", "green"),
    "2": ("down", "red"),
    "3": ("testing", "blue"),
    "4": ("unknown", "orange"),
    "5": ("dormant", "purple"),
    "6": ("notPresent", "text"),
    "7": ("lowerLayerDown", "dark-red"),
}
IF_ADMIN_STATUS = {"1": ("up", "green"), "2": ("down", "text"), "3": ("testing", "blue")}
UP_DOWN = {"0": ("down", "red"), "1": ("up", "green")}
ALERT_STATE = {"breach": ("breach", "red"), "clear": ("clear", "green"), "event": ("event", "orange")}
POLL_OK = {"0": ("failing", "red"), "1": ("ok", "green")}


def where(*conditions: str) -> str:
    """A WHERE clause: Grafana's time range first, then the template filters."""
    return "WHERE " + " AND ".join(("$timeFilter", *conditions))


def mappings(values: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Grafana value mappings: raw number → text and colour."""
    options = {
        raw: {"text": text, "color": color, "index": index}
        for index, (raw, (text, color)) in enumerate(values.items())
    }
    return [{"type": "value", "options": options}]


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    """Absolute thresholds, first step from -infinity."""
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


GREEN = thresholds((None, "green"))
BAD_ABOVE_ZERO = thresholds((None, "green"), (1, "red"))
GOOD_FROM_ONE = thresholds((None, "red"), (1, "green"))
UTIL = thresholds((None, "green"), (70, "orange"), (90, "red"))
LOSS = thresholds((None, "green"), (1, "orange"), (20, "red"))
RTT = thresholds((None, "green"), (50, "orange"), (200, "red"))


def target(query: str, alias: str = "", ref: str = "A", fmt: str = "time_series") -> dict[str, Any]:
    """One raw InfluxQL query of a panel."""
    out: dict[str, Any] = {
        "refId": ref,
        "datasource": DATASOURCE,
        "query": query,
        "rawQuery": True,
        "resultFormat": fmt,
    }
    if alias:
        out["alias"] = alias
    return out


def query_var(
    name: str, label: str, query: str, *, multi: bool = True, include_all: bool = True
) -> dict[str, Any]:
    """A template variable filled by an InfluxQL ``SHOW TAG VALUES`` query, refreshed on time change."""
    var: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "regex": "",
        "hide": 0,
        "multi": multi,
        "includeAll": include_all,
        "options": [],
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if include_all else {},
    }
    if include_all:
        var["allValue"] = ".*"
    return var


def alert_annotation(*conditions: str) -> dict[str, Any]:
    """Alert transitions (breach, clear, event) from measurement ``alert`` as annotations on time series."""
    return {
        "name": "Alerts",
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "query": 'SELECT "message", "device", "rule", "severity", "state", "entity" FROM "alert" '
        + where(*conditions),
        "textColumn": "message",
        "tagsColumn": "device,rule,severity,state",
        "titleColumn": "",
    }


BUILTIN_ANNOTATION = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


@dataclass
class Board:
    """Collects panels, laying them out left to right in rows 24 units wide."""

    uid: str
    title: str
    description: str
    variables: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    panels: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self._x + w > 24:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": h, "w": w, "x": self._x, "y": self._y}
        self.panels.append(panel)
        self._x += w
        self._row_h = max(self._row_h, h)

    def row(self, title: str) -> None:
        """A (non-collapsible) row header across the full width."""
        if self._x:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        self.add({"type": "row", "title": title, "collapsed": False, "panels": []}, 24, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["netpoll"],
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": "1m",
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "links": self.links,
            "templating": {"list": self.variables},
            "annotations": {"list": [BUILTIN_ANNOTATION, *self.annotations]},
            "panels": self.panels,
        }


def _panel(
    kind: str, title: str, targets: list[dict[str, Any]], unit: str, description: str
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }


def timeseries(
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    description: str = "",
    *,
    negative_y: str = "",
    bars: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    mapping: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """A time-series graph; ``negative_y`` is a regex of series drawn below the axis (outbound)."""
    panel = _panel("timeseries", title, targets, unit, description)
    defaults = panel["fieldConfig"]["defaults"]
    defaults["custom"] = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if bars else "none", "group": "A"},
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if mapping:
        defaults["mappings"] = mappings(mapping)
    if negative_y:
        panel["fieldConfig"]["overrides"].append(
            {
                "matcher": {"id": "byRegexp", "options": negative_y},
                "properties": [{"id": "custom.transform", "value": "negative-Y"}],
            }
        )
    panel["options"] = {
        "legend": {
            "displayMode": "table",
            "placement": "bottom",
            "showLegend": True,
            "calcs": ["mean", "max", "lastNotNull"],
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def stat(
    title: str,
    query: str,
    unit: str,
    description: str = "",
    *,
    steps: dict[str, Any] = GREEN,
    mapping: dict[str, tuple[str, str]] | None = None,
    alias: str = "",
) -> dict[str, Any]:
    """A single number (the last value of the query)."""
    panel = _panel("stat", title, [target(query, alias)], unit, description)
    panel["fieldConfig"]["defaults"]["thresholds"] = steps
    panel["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
    if mapping:
        panel["fieldConfig"]["defaults"]["mappings"] = mappings(mapping)
    panel["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "textMode": "auto",
        "orientation": "auto",
    }
    return panel


def gauge(title: str, query: str, description: str = "") -> dict[str, Any]:
    """A 0-100 % gauge."""
    panel = _panel("gauge", title, [target(query)], "percent", description)
    defaults = panel["fieldConfig"]["defaults"]
    defaults.update({"min": 0, "max": 100, "thresholds": UTIL, "color": {"mode": "thresholds"}})
    panel["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "showThresholdMarkers": True,
        "showThresholdLabels": False,
    }
    return panel


def table(
    title: str,
    query: str,
    description: str = "",
    *,
    units: dict[str, str] | None = None,
    mapping_by_column: dict[str, dict[str, tuple[str, str]]] | None = None,
    transformations: list[dict[str, Any]] | None = None,
    sort: tuple[str, bool] | None = None,
) -> dict[str, Any]:
    """A table (InfluxQL table format: one row per series, tags as columns)."""
    panel = _panel("table", title, [target(query, fmt="table")], "none", description)
    overrides = panel["fieldConfig"]["overrides"]
    for column, unit in (units or {}).items():
        overrides.append(
            {"matcher": {"id": "byName", "options": column}, "properties": [{"id": "unit", "value": unit}]}
        )
    for column, values in (mapping_by_column or {}).items():
        overrides.append(
            {
                "matcher": {"id": "byName", "options": column},
                "properties": [
                    {"id": "mappings", "value": mappings(values)},
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                ],
            }
        )
    # Grafana may return one frame per series (GROUP BY tags): merge them into one table before sorting
    # and limiting, so "top 10" is over every interface, not within each.
    panel["transformations"] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": True}}},
    ]
    panel["transformations"].extend(transformations or [])
    panel["options"] = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    if sort:
        panel["options"]["sortBy"] = [{"displayName": sort[0], "desc": sort[1]}]
    return panel


def top(column: str, reducer: str, columns: list[str], limit: int = 10) -> list[dict[str, Any]]:
    """Transformations: a per-row ``reducer`` of ``columns`` named ``column``, sorted descending, top N."""
    return [
        {
            "id": "calculateField",
            "options": {
                "mode": "reduceRow",
                "reduce": {"reducer": reducer, "include": columns},
                "alias": column,
            },
        },
        {"id": "sortBy", "options": {"sort": [{"field": column, "desc": True}]}},
        {"id": "limit", "options": {"limitField": limit}},
    ]


def state_timeline(
    title: str, query: str, alias: str, mapping: dict[str, tuple[str, str]], description: str = ""
) -> dict[str, Any]:
    """A coloured band per series: up/down history."""
    panel = _panel("state-timeline", title, [target(query, alias)], "none", description)
    panel["fieldConfig"]["defaults"]["mappings"] = mappings(mapping)
    panel["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
    panel["fieldConfig"]["defaults"]["thresholds"] = GREEN
    panel["options"] = {
        "showValue": "never",
        "mergeValues": True,
        "rowHeight": 0.9,
        "legend": {"showLegend": False},
    }
    return panel


DEVICE_LINK = {
    "title": "Device view",
    "type": "link",
    "url": "/d/netpoll-device/netpoll-device?var-device=${__data.fields.device}&${__url_time_range}",
}


def link_device_column(panel: dict[str, Any]) -> dict[str, Any]:
    """Make the ``device`` column of a table open the device dashboard."""
    panel["fieldConfig"]["overrides"].append(
        {
            "matcher": {"id": "byName", "options": "device"},
            "properties": [{"id": "links", "value": [DEVICE_LINK]}],
        }
    )
    return panel


def overview() -> Board:
    """The NOC view: who is down, latency and loss, busiest and noisiest interfaces, reboots."""
    board = Board(
        uid="netpoll-overview",
        title="netpoll / Network overview",
        description="Reachability, latency, loss, devices down, top interfaces and reboots across the fleet.",
    )
    board.variables = [
        query_var("site", "Site", 'SHOW TAG VALUES WITH KEY = "site"'),
        query_var("role", "Role", f'SHOW TAG VALUES WITH KEY = "role" WHERE {SITE}'),
    ]
    board.annotations = [alert_annotation()]
    scope = (SITE, ROLE)
    last_reach = f'SELECT last("reachable") AS "r" FROM "ping" {where(*scope)} GROUP BY "device"'
    last_poll = f'SELECT last("poll_ok") AS "ok" FROM "snmp" {where(*scope)} GROUP BY "device"'

    board.row("Fleet")
    board.add(
        stat(
            "Devices probed",
            f'SELECT count("r") AS "devices" FROM ({last_reach})',
            "none",
            "Devices with at least one ICMP probe in the time range.",
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Devices down",
            f'SELECT count("r") - sum("r") AS "down" FROM ({last_reach})',
            "none",
            "Devices whose latest ICMP probe got no answer.",
            steps=BAD_ABOVE_ZERO,
        ),
        4,
        4,
    )
    board.add(
        stat(
            "SNMP polls failing",
            f'SELECT count("ok") - sum("ok") AS "failing" FROM ({last_poll})',
            "none",
            "Devices whose latest SNMP poll failed (timeout, authentication, agent error).",
            steps=BAD_ABOVE_ZERO,
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Reachability",
            f'SELECT mean("reachable") * 100 FROM "ping" {where(*scope)}',
            "percent",
            "Share of ICMP probes answered over the time range.",
            steps=thresholds((None, "red"), (99, "orange"), (99.9, "green")),
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Median RTT",
            f'SELECT median("average_response_ms") FROM "ping" {where(*scope)}',
            "ms",
            "Median of the per-probe average round-trip times.",
            steps=RTT,
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Reboots",
            f'SELECT sum("rebooted") FROM "snmp" {where(*scope)}',
            "none",
            "Reboots detected (sysUpTime went backwards) in the time range.",
            steps=BAD_ABOVE_ZERO,
        ),
        4,
        4,
    )

    board.row("Reachability, latency and loss (ICMP)")
    board.add(
        state_timeline(
            "Reachability by device",
            f'SELECT last("reachable") FROM "ping" {where(*scope)} GROUP BY time($__interval), "device" '
            "fill(null)",
            "$tag_device",
            UP_DOWN,
            "Green: answered; red: no echo reply.",
        ),
        24,
        8,
    )
    board.add(
        timeseries(
            "Latency (average RTT)",
            [
                target(
                    f'SELECT mean("average_response_ms") FROM "ping" {where(*scope)} {PER_DEVICE}',
                    "$tag_device",
                )
            ],
            "ms",
            "Average echo round-trip time per device.",
            minimum=0,
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Packet loss",
            [
                target(
                    f'SELECT mean("percent_packet_loss") FROM "ping" {where(*scope)} {PER_DEVICE}',
                    "$tag_device",
                )
            ],
            "percent",
            "Share of echo requests without a reply.",
            minimum=0,
            maximum=100,
        ),
        12,
        8,
    )
    board.add(
        link_device_column(
            table(
                "Devices, worst first",
                'SELECT last("reachable") AS "reachable", last("percent_packet_loss") AS "loss", '
                'last("average_response_ms") AS "rtt", last("jitter_ms") AS "jitter" '
                f'FROM "ping" {where(*scope)} GROUP BY "device"',
                "Latest ICMP result per device; unreachable devices first.",
                units={"loss": "percent", "rtt": "ms", "jitter": "ms"},
                mapping_by_column={"reachable": UP_DOWN},
                sort=("reachable", False),
            )
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "Jitter",
            [
                target(
                    f'SELECT mean("jitter_ms") FROM "ping" {where(*scope)} {PER_DEVICE}',
                    "$tag_device",
                )
            ],
            "ms",
            "Mean difference between consecutive round-trip times.",
            minimum=0,
        ),
        12,
        8,
    )

    board.row("Interfaces (SNMP)")
    board.add(
        link_device_column(
            table(
                "Top interfaces by utilisation",
                'SELECT max("in_util_pct") AS "in", max("out_util_pct") AS "out" '
                f'FROM "interface" {where(*scope)} GROUP BY "device", "ifName"',
                "Peak utilisation over the time range, in or out, busiest 10.",
                units={"in": "percent", "out": "percent", "peak": "percent"},
                transformations=top("peak", "max", ["in", "out"]),
            )
        ),
        12,
        9,
    )
    board.add(
        link_device_column(
            table(
                "Top interfaces by errors and discards",
                'SELECT max("in_errors_ps") AS "in errors", max("out_errors_ps") AS "out errors", '
                'max("in_discards_ps") AS "in discards", max("out_discards_ps") AS "out discards" '
                f'FROM "interface" {where(*scope)} GROUP BY "device", "ifName"',
                "Peak error and discard rates over the time range, worst 10.",
                units={
                    "in errors": "pps",
                    "out errors": "pps",
                    "in discards": "pps",
                    "out discards": "pps",
                    "total": "pps",
                },
                transformations=top(
                    "total", "sum", ["in errors", "out errors", "in discards", "out discards"]
                ),
            )
        ),
        12,
        9,
    )

    board.row("Devices (SNMP)")
    board.add(
        timeseries(
            "Reboots",
            [
                target(
                    f'SELECT sum("rebooted") FROM "snmp" {where(*scope)} {PER_DEVICE}',
                    "$tag_device",
                )
            ],
            "none",
            "Reboots detected per device (sysUpTime went backwards between two polls).",
            bars=True,
            minimum=0,
        ),
        12,
        8,
    )
    board.add(
        link_device_column(
            table(
                "Uptime and SNMP health",
                'SELECT last("uptime_s") AS "uptime", sum("rebooted") AS "reboots", '
                'last("poll_ok") AS "poll", last("poll_duration_ms") AS "poll time" '
                f'FROM "snmp" {where(*scope)} GROUP BY "device"',
                "Shortest uptime first: recently rebooted devices on top.",
                units={"uptime": "s", "poll time": "ms"},
                mapping_by_column={"poll": POLL_OK},
                sort=("uptime", False),
            )
        ),
        12,
        8,
    )
    board.add(
        timeseries(
            "SNMP poll duration",
            [
                target(
                    f'SELECT mean("poll_duration_ms") FROM "snmp" {where(*scope)} {PER_DEVICE}',
                    "$tag_device",
                )
            ],
            "ms",
            "Time to walk each device; a slow agent shows here before it times out.",
            minimum=0,
        ),
        24,
        8,
    )

    # The pollers themselves (measurement netpoll): one series per instance and shard, so a stopped or
    # overloaded shard stands out after scaling out.
    board.row("Pollers (self-monitoring, per shard)")
    shard_series = 'GROUP BY time($__interval), "instance", "shard" fill(none)'
    board.add(
        timeseries(
            "Polls per shard",
            [
                target(
                    'SELECT sum("polls_ok") AS "ok", sum("polls_failed") AS "failed", '
                    f'sum("polls_skipped") AS "skipped" FROM "netpoll" {where()} {shard_series}',
                    "$tag_shard $tag_instance $col",
                )
            ],
            "none",
            "Polls per interval: failed ones are devices not answering; skipped ones mean the poller could"
            " not keep up (a poll still running when the next was due).",
            bars=True,
            minimum=0,
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Poll lag",
            [
                target(
                    f'SELECT max("poll_lag_ms") FROM "netpoll" {where()} {shard_series}',
                    "$tag_shard $tag_instance",
                )
            ],
            "ms",
            "How late polls start against their schedule; growing lag means the shard needs help.",
            minimum=0,
        ),
        8,
        8,
    )
    board.add(
        table(
            "Pollers",
            'SELECT last("devices") AS "devices", last("polls_ok") AS "ok", '
            'last("polls_failed") AS "failed", last("polls_skipped") AS "skipped", '
            'last("poll_lag_ms") AS "lag", '
            'last("queue_size") AS "queue", last("spool_bytes") AS "spool", '
            'last("write_latency_ms") AS "write latency", sum("points_written") AS "points" '
            f'FROM "netpoll" {where()} GROUP BY "instance", "shard"',
            "Latest cycle of every poller: devices it polls, polls, lag, output; a shard missing here is not"
            " running.",
            units={"lag": "ms", "spool": "decbytes", "write latency": "ms"},
            sort=("shard", False),
        ),
        8,
        8,
    )
    return board


def device() -> Board:
    """One device: bandwidth, utilisation, errors, status, uptime, CPU, memory, latency."""
    board = Board(
        uid="netpoll-device",
        title="netpoll / Device",
        description="One device in detail: interfaces, health and reachability.",
        links=[
            {
                "title": "Network overview",
                "type": "link",
                "url": "/d/netpoll-overview/netpoll-network-overview?${__url_time_range}",
                "icon": "dashboard",
            }
        ],
    )
    board.variables = [
        query_var("site", "Site", 'SHOW TAG VALUES WITH KEY = "site"'),
        query_var(
            "device",
            "Device",
            f'SHOW TAG VALUES WITH KEY = "device" WHERE {SITE}',
            multi=False,
            include_all=False,
        ),
        query_var(
            "interface",
            "Interface",
            f'SHOW TAG VALUES FROM "interface" WITH KEY = "ifName" WHERE {DEVICE}',
        ),
    ]
    board.annotations = [alert_annotation(DEVICE)]
    dev = where(DEVICE)
    ifs = where(DEVICE, INTERFACE)

    board.row("Health")
    board.add(
        stat(
            "Reachable",
            f'SELECT last("reachable") FROM "ping" {dev}',
            "none",
            "Latest ICMP probe.",
            steps=GOOD_FROM_ONE,
            mapping=UP_DOWN,
        ),
        3,
        4,
    )
    board.add(
        stat(
            "RTT",
            f'SELECT last("average_response_ms") FROM "ping" {dev}',
            "ms",
            "Latest average round-trip time.",
            steps=RTT,
        ),
        3,
        4,
    )
    board.add(
        stat(
            "Loss",
            f'SELECT last("percent_packet_loss") FROM "ping" {dev}',
            "percent",
            "Latest packet loss.",
            steps=LOSS,
        ),
        3,
        4,
    )
    board.add(
        stat(
            "SNMP",
            f'SELECT last("poll_ok") FROM "snmp" {dev}',
            "none",
            "Latest SNMP poll.",
            steps=GOOD_FROM_ONE,
            mapping=POLL_OK,
        ),
        3,
        4,
    )
    board.add(
        stat(
            "Uptime",
            f'SELECT last("uptime_s") FROM "snmp" {dev}',
            "s",
            "sysUpTime at the latest poll.",
            steps=thresholds((None, "orange"), (3600, "green")),
        ),
        4,
        4,
    )
    board.add(gauge("CPU", f'SELECT last("cpu_pct") FROM "snmp" {dev}', "Latest CPU load."), 4, 4)
    board.add(gauge("Memory", f'SELECT last("mem_used_pct") FROM "snmp" {dev}', "Latest memory use."), 4, 4)

    board.row("Interfaces")
    board.add(
        timeseries(
            "Bandwidth in / out",
            [
                target(
                    'SELECT mean("in_bps") AS "in", mean("out_bps") AS "out" '
                    f'FROM "interface" {ifs} {PER_INTERFACE}',
                    "$tag_ifName $col",
                )
            ],
            "bps",
            "Bits per second; outbound drawn below the axis.",
            negative_y=".* out$",
        ),
        12,
        9,
    )
    board.add(
        timeseries(
            "Utilisation",
            [
                target(
                    'SELECT mean("in_util_pct") AS "in", mean("out_util_pct") AS "out" '
                    f'FROM "interface" {ifs} {PER_INTERFACE}',
                    "$tag_ifName $col",
                )
            ],
            "percent",
            "Rate over interface speed (ifHighSpeed); outbound drawn below the axis.",
            negative_y=".* out$",
        ),
        12,
        9,
    )
    board.add(
        timeseries(
            "Errors and discards",
            [
                target(
                    'SELECT mean("in_errors_ps") AS "in errors", mean("out_errors_ps") AS "out errors", '
                    'mean("in_discards_ps") AS "in discards", mean("out_discards_ps") AS "out discards" '
                    f'FROM "interface" {ifs} {PER_INTERFACE}',
                    "$tag_ifName $col",
                )
            ],
            "pps",
            "Packets per second dropped with errors or discarded; outbound drawn below the axis.",
            negative_y=".* out (errors|discards)$",
        ),
        12,
        9,
    )
    board.add(
        timeseries(
            "Packets in / out",
            [
                target(
                    'SELECT mean("in_pps") AS "in", mean("out_pps") AS "out" '
                    f'FROM "interface" {ifs} {PER_INTERFACE}',
                    "$tag_ifName $col",
                )
            ],
            "pps",
            "Unicast, multicast and broadcast packets per second; outbound drawn below the axis.",
            negative_y=".* out$",
        ),
        12,
        9,
    )
    board.add(
        state_timeline(
            "Operational status",
            f'SELECT last("oper_status") FROM "interface" {ifs} '
            'GROUP BY time($__interval), "device", "ifName" fill(null)',
            "$tag_ifName",
            IF_OPER_STATUS,
            "ifOperStatus over time.",
        ),
        12,
        9,
    )
    board.add(
        table(
            "Interface status",
            'SELECT last("oper_status") AS "oper", last("admin_status") AS "admin", '
            'last("speed_bps") AS "speed", last("in_bps") AS "in", last("out_bps") AS "out", '
            'last("in_error_pct") AS "in errors", last("out_error_pct") AS "out errors" '
            f'FROM "interface" {ifs} GROUP BY "ifName", "ifAlias"',
            "Latest status, speed and rates of each interface.",
            units={
                "speed": "bps",
                "in": "bps",
                "out": "bps",
                "in errors": "percent",
                "out errors": "percent",
            },
            mapping_by_column={"oper": IF_OPER_STATUS, "admin": IF_ADMIN_STATUS},
            sort=("oper", True),
        ),
        12,
        9,
    )

    board.row("System")
    board.add(
        timeseries(
            "CPU and memory",
            [
                target(
                    'SELECT mean("cpu_pct") AS "cpu", mean("mem_used_pct") AS "memory" '
                    f'FROM "snmp" {dev} {PER_DEVICE}',
                    "$col",
                )
            ],
            "percent",
            "CPU load and memory in use, from the device profile's objects.",
            minimum=0,
            maximum=100,
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Uptime",
            [
                target(
                    f'SELECT last("uptime_s") FROM "snmp" {dev} {PER_DEVICE}',
                    "$tag_device uptime",
                )
            ],
            "s",
            "sysUpTime; a drop to zero is a reboot.",
            minimum=0,
        ),
        8,
        8,
    )
    board.add(
        timeseries(
            "Latency and loss",
            [
                target(
                    f'SELECT mean("average_response_ms") AS "rtt", max("maximum_response_ms") AS "max rtt" '
                    f'FROM "ping" {dev} {PER_DEVICE}',
                    "$col",
                ),
                target(
                    f'SELECT mean("percent_packet_loss") AS "loss" FROM "ping" {dev} {PER_DEVICE}',
                    "$col",
                    ref="B",
                ),
            ],
            "ms",
            "Round-trip time (left axis) and packet loss (right axis).",
            minimum=0,
        ),
        8,
        8,
    )
    # Loss is a percentage on its own axis.
    board.panels[-1]["fieldConfig"]["overrides"].append(
        {
            "matcher": {"id": "byName", "options": "loss"},
            "properties": [
                {"id": "unit", "value": "percent"},
                {"id": "custom.axisPlacement", "value": "right"},
                {"id": "max", "value": 100},
            ],
        }
    )
    board.add(
        timeseries(
            "Temperature",
            [
                target(
                    f'SELECT mean("temperature_c") FROM "snmp" {dev} {PER_DEVICE}',
                    "$tag_device",
                )
            ],
            "celsius",
            "Highest temperature sensor of the device, where its profile has one.",
        ),
        24,
        7,
    )
    return board


def alerts() -> Board:
    """Threshold alert events written by the alert engine (measurement ``alert``)."""
    board = Board(
        uid="netpoll-alerts",
        title="netpoll / Alerts",
        description="Threshold breaches and their clearing, as written to measurement alert.",
    )
    board.variables = [
        query_var("severity", "Severity", 'SHOW TAG VALUES FROM "alert" WITH KEY = "severity"'),
        query_var("rule", "Rule", 'SHOW TAG VALUES FROM "alert" WITH KEY = "rule"'),
        query_var("state", "State", 'SHOW TAG VALUES FROM "alert" WITH KEY = "state"'),
        query_var(
            "device",
            "Device",
            f'SHOW TAG VALUES FROM "alert" WITH KEY = "device" WHERE {SEVERITY} AND {RULE}',
        ),
    ]
    scope = (SEVERITY, RULE, STATE, DEVICE)
    board.annotations = [alert_annotation(*scope)]
    board.add(
        stat(
            "Alert events",
            f'SELECT count("id") AS "events" FROM "alert" {where(*scope)}',
            "none",
            "Breaches, clears and events in the time range.",
        ),
        6,
        8,
    )
    board.add(
        timeseries(
            "Alert events by severity and state",
            [
                target(
                    f'SELECT count("id") FROM "alert" {where(*scope)} '
                    'GROUP BY time($__interval), "severity", "state" fill(none)',
                    "$tag_severity $tag_state",
                )
            ],
            "none",
            "Number of alert transitions per interval.",
            bars=True,
            minimum=0,
        ),
        18,
        8,
    )
    board.add(
        link_device_column(
            table(
                "Latest state of each alert",
                'SELECT last("message") AS "message", "state", "severity", "value", "threshold" '
                f'FROM "alert" {where(*scope)} GROUP BY "device", "rule", "entity"',
                "The most recent transition of each (device, rule, entity).",
                mapping_by_column={"state": ALERT_STATE},
                sort=("severity", False),
            )
        ),
        24,
        9,
    )
    board.add(
        link_device_column(
            table(
                "Alert log",
                'SELECT "state", "severity", "device", "rule", "entity", '
                '"value", "threshold", "message", "id" '
                f'FROM "alert" {where(*scope)} ORDER BY time DESC LIMIT 1000',
                "Every breach, clear and event, newest first (at most 1,000).",
                mapping_by_column={"state": ALERT_STATE},
            )
        ),
        24,
        12,
    )
    # The log needs its time column, which the generic table hides.
    board.panels[-1]["transformations"] = [{"id": "merge", "options": {}}]
    return board


BOARDS = {"network-overview.json": overview, "device.json": device, "alerts.json": alerts}


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {name: json.dumps(build().to_json(), indent=2) + "\n" for name, build in BOARDS.items()}


def main() -> int:
    """Write the dashboards; with ``--check``, fail if the committed JSON is out of date."""
    check = "--check" in sys.argv[1:]
    stale = []
    for name, text in render().items():
        path = OUT_DIR / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date, run {__file__}: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
