#!/usr/bin/env python3
"""Generate netpoll's Grafana dashboards (``dashboards/*.json``) from one description.

Run ``python deploy/grafana/build_dashboards.py`` after editing; the generated JSON is committed so Grafana
provisioning needs no build step. Writing the dashboards here, not by hand, keeps the datasource, the
template-variable filters, units and legends the same on every panel.

Every dashboard is built twice from the same panels: ``dashboards/*.json`` query InfluxDB in InfluxQL (which
InfluxDB 1.x, 2.x through a DBRP mapping, and 3.x answer); ``dashboards/victoriametrics/*.json`` query
VictoriaMetrics (or any Prometheus-compatible store fed netpoll's line protocol) in PromQL, where a field is
the series ``<measurement>_<field>`` and tags are labels. Each panel states both queries side by side (``Q``);
``DIALECT`` picks one while a board is built. Names follow the schema in docs/schema.md: measurements
``interface``, ``snmp``, ``ping``, ``alert``, ``netpoll``.

Why not grafana-foundation-sdk: its typed builders would replace this file's ~200 lines of helpers, but it is
not packaged for Debian, adds a dependency to a build step that now needs only the standard library, and its
Python release line (generated per Grafana version) would tie the repository to one Grafana schema; the tests
already check the output against Grafana's provisioning format and run every query against real databases.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Fixed uids, set by provisioning/datasources/*.yaml, so dashboards need no datasource variable.
DATASOURCES = {
    "influxql": {"type": "influxdb", "uid": "netpoll-influxdb"},
    "promql": {"type": "prometheus", "uid": "netpoll-victoriametrics"},
}
SCHEMA_VERSION = 39
OUT_DIR = Path(__file__).resolve().parent / "dashboards"
OUT_DIRS = {"influxql": OUT_DIR, "promql": OUT_DIR / "victoriametrics"}
DIALECT = "influxql"  # set by render() while it builds one dialect's boards


def datasource() -> dict[str, str]:
    """The datasource of the dialect being built."""
    return DATASOURCES[DIALECT]


@dataclass(frozen=True)
class Q:
    """One panel query in both dialects.

    ``prom`` is a list of (PromQL expression, legend or column name): several where InfluxQL selects several
    fields in one query. ``instant``: PromQL evaluated once at the end of the range (stats, tables).
    """

    influx: str
    alias: str = ""
    prom: tuple[tuple[str, str], ...] = ()
    instant: bool = False


def pq(*pairs: tuple[str, str], instant: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``Q``'s PromQL side: ``Q(influx, alias, **pq((expr, legend), ...))``."""
    return {"prom": pairs, "instant": instant}


# PromQL label filters matching the InfluxQL ones: Grafana writes a multi-value variable as a regex
# alternation for Prometheus; "All" is ".*" as for InfluxDB, which also matches a series without the label.
P_SCOPE = 'site=~"$site", role=~"$role"'
P_DEVICE = 'device=~"$device"'
P_IFS = 'device=~"$device", ifName=~"$interface"'
P_ALERT = 'severity=~"$severity", rule=~"$rule", state=~"$state", device=~"$device"'

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
        "datasource": datasource(),
        "query": query,
        "rawQuery": True,
        "resultFormat": fmt,
    }
    if alias:
        out["alias"] = alias
    return out


def prom_target(expr: str, legend: str, ref: str, *, instant: bool, table: bool) -> dict[str, Any]:
    """One PromQL query of a panel."""
    return {
        "refId": ref,
        "datasource": datasource(),
        "expr": expr,
        "legendFormat": legend,
        "instant": instant,
        "range": not instant,
        "format": "table" if table else "time_series",
    }


def targets(*queries: Q, table: bool = False) -> list[dict[str, Any]]:
    """A panel's targets in the dialect being built, refIds A, B, ..."""
    refs = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if DIALECT == "influxql":
        fmt = "table" if table else "time_series"
        return [target(q.influx, q.alias, next(refs), fmt) for q in queries]
    return [
        prom_target(expr, legend, next(refs), instant=q.instant, table=table)
        for q in queries
        for expr, legend in q.prom
    ]


def query_var(
    name: str, label: str, query: str, prom: str, *, multi: bool = True, include_all: bool = True
) -> dict[str, Any]:
    """A template variable filled by ``SHOW TAG VALUES`` (InfluxQL) or ``label_values`` (PromQL).

    Refreshed when the time range changes.
    """
    text = query if DIALECT == "influxql" else prom
    var: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource(),
        "query": text if DIALECT == "influxql" else {"query": text, "refId": f"{name}-values"},
        "definition": text,
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


def alert_annotation(*conditions: str, prom: str = "") -> dict[str, Any]:
    """Alert transitions (breach, clear, event) from measurement ``alert`` as annotations on time series.

    PromQL has no text values (VictoriaMetrics keeps numeric fields only): the annotation's title and text
    come from the labels instead of the message.
    """
    common = {"name": "Alerts", "datasource": datasource(), "enable": True, "hide": False, "iconColor": "red"}
    if DIALECT == "promql":
        return {
            **common,
            "expr": f"alert_value{{{prom}}}",
            "step": "$__interval",
            "titleFormat": "{{rule}} {{state}}",
            "textFormat": "{{device}} {{entity}}",
            "tagKeys": "device,rule,severity,state",
            "useValueForTime": False,
        }
    return {
        **common,
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
    kind: str, title: str, panel_targets: list[dict[str, Any]], unit: str, description: str
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource(),
        "targets": panel_targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }


def timeseries(
    title: str,
    queries: list[Q],
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
    panel = _panel("timeseries", title, targets(*queries), unit, description)
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
    query: Q,
    unit: str,
    description: str = "",
    *,
    steps: dict[str, Any] = GREEN,
    mapping: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """A single number (the last value of the query)."""
    panel = _panel("stat", title, targets(query), unit, description)
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


def gauge(title: str, query: Q, description: str = "") -> dict[str, Any]:
    """A 0-100 % gauge."""
    panel = _panel("gauge", title, targets(query), "percent", description)
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
    query: Q,
    description: str = "",
    *,
    units: dict[str, str] | None = None,
    mapping_by_column: dict[str, dict[str, tuple[str, str]]] | None = None,
    transformations: list[dict[str, Any]] | None = None,
    sort: tuple[str, bool] | None = None,
) -> dict[str, Any]:
    """A table: one row per series, tags as columns, one column per field.

    PromQL: one instant query per column, joined on their labels; ``Value #A``... are renamed to the
    columns' names, so units, mappings and sorting apply to both dialects alike.
    """
    panel = _panel("table", title, targets(query, table=True), "none", description)
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
    renames = {}
    if DIALECT == "promql":
        renames = {f"Value #{tgt['refId']}": tgt["legendFormat"] for tgt in panel["targets"]}
    organize: dict[str, Any] = {"excludeByName": {"Time": True}}
    if renames:
        organize["renameByName"] = renames
    panel["transformations"] = [{"id": "merge", "options": {}}, {"id": "organize", "options": organize}]
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
    title: str, query: Q, mapping: dict[str, tuple[str, str]], description: str = ""
) -> dict[str, Any]:
    """A coloured band per series: up/down history."""
    panel = _panel("state-timeline", title, targets(query), "none", description)
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


def _last(metric: str, scope: str, by: str = "device") -> str:
    """PromQL: the latest value of ``metric`` per ``by`` within the dashboard's time range."""
    return f"max by ({by}) (last_over_time({metric}{{{scope}}}[$__range]))"


def overview() -> Board:
    """The NOC view: who is down, latency and loss, busiest and noisiest interfaces, reboots."""
    board = Board(
        uid="netpoll-overview",
        title="netpoll / Network overview",
        description="Reachability, latency, loss, devices down, top interfaces and reboots across the fleet.",
    )
    board.variables = [
        query_var("site", "Site", 'SHOW TAG VALUES WITH KEY = "site"', "label_values(site)"),
        query_var(
            "role",
            "Role",
            f'SHOW TAG VALUES WITH KEY = "role" WHERE {SITE}',
            'label_values({__name__=~"(ping|snmp|interface)_.+", site=~"$site"}, role)',
        ),
    ]
    board.annotations = [alert_annotation(prom="")]
    scope = (SITE, ROLE)
    ps = P_SCOPE
    last_reach = f'SELECT last("reachable") AS "r" FROM "ping" {where(*scope)} GROUP BY "device"'
    last_poll = f'SELECT last("poll_ok") AS "ok" FROM "snmp" {where(*scope)} GROUP BY "device"'

    board.row("Fleet")
    board.add(
        stat(
            "Devices probed",
            Q(
                f'SELECT count("r") AS "devices" FROM ({last_reach})',
                **pq((f"count({_last('ping_reachable', ps)})", "devices"), instant=True),
            ),
            "none",
            "Devices with at least one ICMP probe in the time range.",
        ),
        4,
        4,
    )
    board.add(
        stat(
            "Devices down",
            Q(
                f'SELECT count("r") - sum("r") AS "down" FROM ({last_reach})',
                **pq((f"count({_last('ping_reachable', ps)} == 0) or vector(0)", "down"), instant=True),
            ),
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
            Q(
                f'SELECT count("ok") - sum("ok") AS "failing" FROM ({last_poll})',
                **pq((f"count({_last('snmp_poll_ok', ps)} == 0) or vector(0)", "failing"), instant=True),
            ),
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
            Q(
                f'SELECT mean("reachable") * 100 FROM "ping" {where(*scope)}',
                **pq(
                    (f"avg(avg_over_time(ping_reachable{{{ps}}}[$__range])) * 100", "reachability"),
                    instant=True,
                ),
            ),
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
            Q(
                f'SELECT median("average_response_ms") FROM "ping" {where(*scope)}',
                **pq(
                    (
                        f"quantile(0.5, quantile_over_time(0.5, ping_average_response_ms{{{ps}}}[$__range]))",
                        "rtt",
                    ),
                    instant=True,
                ),
            ),
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
            Q(
                f'SELECT sum("rebooted") FROM "snmp" {where(*scope)}',
                **pq(
                    (f"sum(sum_over_time(snmp_rebooted{{{ps}}}[$__range])) or vector(0)", "reboots"),
                    instant=True,
                ),
            ),
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
            Q(
                f'SELECT last("reachable") FROM "ping" {where(*scope)} GROUP BY time($__interval), "device" '
                "fill(null)",
                "$tag_device",
                **pq((f"max by (device) (ping_reachable{{{ps}}})", "{{device}}")),
            ),
            UP_DOWN,
            "Green: answered; red: no echo reply.",
        ),
        24,
        8,
    )
    for title, name, unit, text, extra in (
        ("Latency (average RTT)", "average_response_ms", "ms", "Average echo round-trip time per device.",
         {}),
        ("Packet loss", "percent_packet_loss", "percent", "Share of echo requests without a reply.",
         {"maximum": 100}),
    ):  # fmt: skip
        board.add(
            timeseries(
                title,
                [
                    Q(
                        f'SELECT mean("{name}") FROM "ping" {where(*scope)} {PER_DEVICE}',
                        "$tag_device",
                        **pq((f"avg by (device) (ping_{name}{{{ps}}})", "{{device}}")),
                    )
                ],
                unit,
                text,
                minimum=0,
                **extra,
            ),
            12,
            8,
        )
    board.add(
        link_device_column(
            table(
                "Devices, worst first",
                Q(
                    'SELECT last("reachable") AS "reachable", last("percent_packet_loss") AS "loss", '
                    'last("average_response_ms") AS "rtt", last("jitter_ms") AS "jitter" '
                    f'FROM "ping" {where(*scope)} GROUP BY "device"',
                    **pq(
                        (_last("ping_reachable", ps), "reachable"),
                        (_last("ping_percent_packet_loss", ps), "loss"),
                        (_last("ping_average_response_ms", ps), "rtt"),
                        (_last("ping_jitter_ms", ps), "jitter"),
                        instant=True,
                    ),
                ),
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
                Q(
                    f'SELECT mean("jitter_ms") FROM "ping" {where(*scope)} {PER_DEVICE}',
                    "$tag_device",
                    **pq((f"avg by (device) (ping_jitter_ms{{{ps}}})", "{{device}}")),
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

    def peak(metric: str) -> str:
        return f"max by (device, ifName) (max_over_time({metric}{{{ps}}}[$__range]))"

    board.add(
        link_device_column(
            table(
                "Top interfaces by utilisation",
                Q(
                    'SELECT max("in_util_pct") AS "in", max("out_util_pct") AS "out" '
                    f'FROM "interface" {where(*scope)} GROUP BY "device", "ifName"',
                    **pq(
                        (peak("interface_in_util_pct"), "in"),
                        (peak("interface_out_util_pct"), "out"),
                        instant=True,
                    ),
                ),
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
                Q(
                    'SELECT max("in_errors_ps") AS "in errors", max("out_errors_ps") AS "out errors", '
                    'max("in_discards_ps") AS "in discards", max("out_discards_ps") AS "out discards" '
                    f'FROM "interface" {where(*scope)} GROUP BY "device", "ifName"',
                    **pq(
                        (peak("interface_in_errors_ps"), "in errors"),
                        (peak("interface_out_errors_ps"), "out errors"),
                        (peak("interface_in_discards_ps"), "in discards"),
                        (peak("interface_out_discards_ps"), "out discards"),
                        instant=True,
                    ),
                ),
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
                Q(
                    f'SELECT sum("rebooted") FROM "snmp" {where(*scope)} {PER_DEVICE}',
                    "$tag_device",
                    **pq(
                        (f"sum by (device) (sum_over_time(snmp_rebooted{{{ps}}}[$__interval]))", "{{device}}")
                    ),
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
                Q(
                    'SELECT last("uptime_s") AS "uptime", sum("rebooted") AS "reboots", '
                    'last("poll_ok") AS "poll", last("poll_duration_ms") AS "poll time" '
                    f'FROM "snmp" {where(*scope)} GROUP BY "device"',
                    **pq(
                        (_last("snmp_uptime_s", ps), "uptime"),
                        (f"sum by (device) (sum_over_time(snmp_rebooted{{{ps}}}[$__range]))", "reboots"),
                        (_last("snmp_poll_ok", ps), "poll"),
                        (_last("snmp_poll_duration_ms", ps), "poll time"),
                        instant=True,
                    ),
                ),
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
                Q(
                    f'SELECT mean("poll_duration_ms") FROM "snmp" {where(*scope)} {PER_DEVICE}',
                    "$tag_device",
                    **pq((f"avg by (device) (snmp_poll_duration_ms{{{ps}}})", "{{device}}")),
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
    per_shard = "by (instance, shard)"
    board.add(
        timeseries(
            "Polls per shard",
            [
                Q(
                    'SELECT sum("polls_ok") AS "ok", sum("polls_failed") AS "failed", '
                    f'sum("polls_overloaded") AS "overloaded" FROM "netpoll" {where()} {shard_series}',
                    "$tag_shard $tag_instance $col",
                    **pq(
                        *(
                            (
                                f"sum {per_shard} (sum_over_time(netpoll_polls_{kind}[$__interval]))",
                                f"{{{{shard}}}} {{{{instance}}}} {kind}",
                            )
                            for kind in ("ok", "failed", "overloaded")
                        )
                    ),
                )
            ],
            "none",
            "Polls per interval: failed ones are devices not answering; overloaded ones are polls the poller"
            " had no time for (no slot before the next was due, skipped, or its event loop stalled): the"
            " poller's problem, never a device's. Shard, raise the interval or the concurrency.",
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
                Q(
                    'SELECT max("poll_lag_p99_ms") AS "start p99", max("loop_lag_p99_ms") AS "loop p99" '
                    f'FROM "netpoll" {where()} {shard_series}',
                    "$tag_shard $tag_instance $col",
                    **pq(
                        (f"max {per_shard} (netpoll_poll_lag_p99_ms)", "{{shard}} {{instance}} start p99"),
                        (f"max {per_shard} (netpoll_loop_lag_p99_ms)", "{{shard}} {{instance}} loop p99"),
                    ),
                )
            ],
            "ms",
            "How late polls start against their schedule (99th percentile, the wait for a slot included), and"
            " how late the event loop runs what is due; growing lag means the shard needs help.",
            minimum=0,
        ),
        8,
        8,
    )
    pollers = {
        "devices": "devices", "ok": "polls_ok", "failed": "polls_failed", "overloaded": "polls_overloaded",
        "lag": "poll_lag_ms", "queue": "queue_size", "spool": "spool_bytes",
        "write latency": "write_latency_ms",
    }  # fmt: skip
    board.add(
        table(
            "Pollers",
            Q(
                'SELECT last("devices") AS "devices", last("polls_ok") AS "ok", '
                'last("polls_failed") AS "failed", last("polls_overloaded") AS "overloaded", '
                'last("poll_lag_ms") AS "lag", '
                'last("queue_size") AS "queue", last("spool_bytes") AS "spool", '
                'last("write_latency_ms") AS "write latency", sum("points_written") AS "points" '
                f'FROM "netpoll" {where()} GROUP BY "instance", "shard"',
                **pq(
                    *(
                        (_last(f"netpoll_{field}", "", "instance, shard"), name)
                        for name, field in pollers.items()
                    ),
                    (f"sum {per_shard} (sum_over_time(netpoll_points_written[$__range]))", "points"),
                    instant=True,
                ),
            ),
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
        query_var("site", "Site", 'SHOW TAG VALUES WITH KEY = "site"', "label_values(site)"),
        query_var(
            "device",
            "Device",
            f'SHOW TAG VALUES WITH KEY = "device" WHERE {SITE}',
            'label_values({__name__=~"(ping|snmp|interface)_.+", site=~"$site"}, device)',
            multi=False,
            include_all=False,
        ),
        query_var(
            "interface",
            "Interface",
            f'SHOW TAG VALUES FROM "interface" WITH KEY = "ifName" WHERE {DEVICE}',
            'label_values(interface_oper_status{device=~"$device"}, ifName)',
        ),
    ]
    board.annotations = [alert_annotation(DEVICE, prom=P_DEVICE)]
    dev = where(DEVICE)
    ifs = where(DEVICE, INTERFACE)
    pd, pi = P_DEVICE, P_IFS

    def last(measurement: str, field: str) -> Q:
        return Q(
            f'SELECT last("{field}") FROM "{measurement}" {dev}',
            **pq((f"last_over_time({measurement}_{field}{{{pd}}}[$__range])", field), instant=True),
        )

    board.row("Health")
    board.add(
        stat(
            "Reachable",
            last("ping", "reachable"),
            "none",
            "Latest ICMP probe.",
            steps=GOOD_FROM_ONE,
            mapping=UP_DOWN,
        ),
        3,
        4,
    )
    board.add(
        stat("RTT", last("ping", "average_response_ms"), "ms", "Latest average round-trip time.", steps=RTT),
        3,
        4,
    )
    board.add(
        stat("Loss", last("ping", "percent_packet_loss"), "percent", "Latest packet loss.", steps=LOSS), 3, 4
    )
    board.add(
        stat(
            "SNMP", last("snmp", "poll_ok"), "none", "Latest SNMP poll.", steps=GOOD_FROM_ONE, mapping=POLL_OK
        ),
        3,
        4,
    )
    board.add(
        stat(
            "Uptime",
            last("snmp", "uptime_s"),
            "s",
            "sysUpTime at the latest poll.",
            steps=thresholds((None, "orange"), (3600, "green")),
        ),
        4,
        4,
    )
    board.add(gauge("CPU", last("snmp", "cpu_pct"), "Latest CPU load."), 4, 4)
    board.add(gauge("Memory", last("snmp", "mem_used_pct"), "Latest memory use."), 4, 4)

    def per_if(*fields: tuple[str, str]) -> Q:
        """InfluxQL: the mean of each field per interface; PromQL: one query per field."""
        selects = ", ".join(f'mean("{field}") AS "{name}"' for field, name in fields)
        return Q(
            f'SELECT {selects} FROM "interface" {ifs} {PER_INTERFACE}',
            "$tag_ifName $col",
            **pq(
                *(
                    (f"avg by (device, ifName) (interface_{field}{{{pi}}})", f"{{{{ifName}}}} {name}")
                    for field, name in fields
                )
            ),
        )

    board.row("Interfaces")
    board.add(
        timeseries(
            "Bandwidth in / out",
            [per_if(("in_bps", "in"), ("out_bps", "out"))],
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
            [per_if(("in_util_pct", "in"), ("out_util_pct", "out"))],
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
                per_if(
                    ("in_errors_ps", "in errors"),
                    ("out_errors_ps", "out errors"),
                    ("in_discards_ps", "in discards"),
                    ("out_discards_ps", "out discards"),
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
            [per_if(("in_pps", "in"), ("out_pps", "out"))],
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
            Q(
                f'SELECT last("oper_status") FROM "interface" {ifs} '
                'GROUP BY time($__interval), "device", "ifName" fill(null)',
                "$tag_ifName",
                **pq((f"max by (device, ifName) (interface_oper_status{{{pi}}})", "{{ifName}}")),
            ),
            IF_OPER_STATUS,
            "ifOperStatus over time.",
        ),
        12,
        9,
    )
    columns = {
        "oper": "oper_status", "admin": "admin_status", "speed": "speed_bps", "in": "in_bps",
        "out": "out_bps", "in errors": "in_error_pct", "out errors": "out_error_pct",
    }  # fmt: skip
    board.add(
        table(
            "Interface status",
            Q(
                'SELECT last("oper_status") AS "oper", last("admin_status") AS "admin", '
                'last("speed_bps") AS "speed", last("in_bps") AS "in", last("out_bps") AS "out", '
                'last("in_error_pct") AS "in errors", last("out_error_pct") AS "out errors" '
                f'FROM "interface" {ifs} GROUP BY "ifName", "ifAlias"',
                **pq(
                    *(
                        (_last(f"interface_{field}", pi, "ifName, ifAlias"), name)
                        for name, field in columns.items()
                    ),
                    instant=True,
                ),
            ),
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
                Q(
                    'SELECT mean("cpu_pct") AS "cpu", mean("mem_used_pct") AS "memory" '
                    f'FROM "snmp" {dev} {PER_DEVICE}',
                    "$col",
                    **pq(
                        (f"avg by (device) (snmp_cpu_pct{{{pd}}})", "cpu"),
                        (f"avg by (device) (snmp_mem_used_pct{{{pd}}})", "memory"),
                    ),
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
                Q(
                    f'SELECT last("uptime_s") FROM "snmp" {dev} {PER_DEVICE}',
                    "$tag_device uptime",
                    **pq((f"max by (device) (snmp_uptime_s{{{pd}}})", "{{device}} uptime")),
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
                Q(
                    f'SELECT mean("average_response_ms") AS "rtt", max("maximum_response_ms") AS "max rtt" '
                    f'FROM "ping" {dev} {PER_DEVICE}',
                    "$col",
                    **pq(
                        (f"avg by (device) (ping_average_response_ms{{{pd}}})", "rtt"),
                        (f"max by (device) (ping_maximum_response_ms{{{pd}}})", "max rtt"),
                    ),
                ),
                Q(
                    f'SELECT mean("percent_packet_loss") AS "loss" FROM "ping" {dev} {PER_DEVICE}',
                    "$col",
                    **pq((f"avg by (device) (ping_percent_packet_loss{{{pd}}})", "loss")),
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
                Q(
                    f'SELECT mean("temperature_c") FROM "snmp" {dev} {PER_DEVICE}',
                    "$tag_device",
                    **pq((f"avg by (device) (snmp_temperature_c{{{pd}}})", "{{device}}")),
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
    """Threshold alert events written by the alert engine (measurement ``alert``).

    PromQL sees the numeric fields only (``alert_value``, ``alert_threshold``): the message and the id are
    text, which VictoriaMetrics does not store; rows carry the labels (device, rule, entity, state, severity).
    """
    board = Board(
        uid="netpoll-alerts",
        title="netpoll / Alerts",
        description="Threshold breaches and their clearing, as written to measurement alert.",
    )
    board.variables = [
        query_var(
            "severity",
            "Severity",
            'SHOW TAG VALUES FROM "alert" WITH KEY = "severity"',
            "label_values(alert_value, severity)",
        ),
        query_var(
            "rule",
            "Rule",
            'SHOW TAG VALUES FROM "alert" WITH KEY = "rule"',
            "label_values(alert_value, rule)",
        ),
        query_var(
            "state",
            "State",
            'SHOW TAG VALUES FROM "alert" WITH KEY = "state"',
            "label_values(alert_value, state)",
        ),
        query_var(
            "device",
            "Device",
            f'SHOW TAG VALUES FROM "alert" WITH KEY = "device" WHERE {SEVERITY} AND {RULE}',
            'label_values(alert_value{severity=~"$severity", rule=~"$rule"}, device)',
        ),
    ]
    scope = (SEVERITY, RULE, STATE, DEVICE)
    pa = P_ALERT
    board.annotations = [alert_annotation(*scope, prom=pa)]
    board.add(
        stat(
            "Alert events",
            Q(
                f'SELECT count("id") AS "events" FROM "alert" {where(*scope)}',
                **pq(
                    (f"sum(count_over_time(alert_value{{{pa}}}[$__range])) or vector(0)", "events"),
                    instant=True,
                ),
            ),
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
                Q(
                    f'SELECT count("id") FROM "alert" {where(*scope)} '
                    'GROUP BY time($__interval), "severity", "state" fill(none)',
                    "$tag_severity $tag_state",
                    **pq(
                        (
                            f"sum by (severity, state) (count_over_time(alert_value{{{pa}}}[$__interval]))",
                            "{{severity}} {{state}}",
                        )
                    ),
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
                Q(
                    'SELECT last("message") AS "message", "state", "severity", "value", "threshold" '
                    f'FROM "alert" {where(*scope)} GROUP BY "device", "rule", "entity"',
                    **pq(
                        (f"last_over_time(alert_value{{{pa}}}[$__range])", "value"),
                        (f"last_over_time(alert_threshold{{{pa}}}[$__range])", "threshold"),
                        instant=True,
                    ),
                ),
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
                Q(
                    'SELECT "state", "severity", "device", "rule", "entity", '
                    '"value", "threshold", "message", "id" '
                    f'FROM "alert" {where(*scope)} ORDER BY time DESC LIMIT 1000',
                    **pq((f"alert_value{{{pa}}}", "value")),
                ),
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


def render() -> dict[Path, str]:
    """Path → JSON text of every dashboard, in both dialects."""
    global DIALECT
    out: dict[Path, str] = {}
    try:
        for dialect, directory in OUT_DIRS.items():
            DIALECT = dialect
            for name, build in BOARDS.items():
                board = build()
                if dialect == "promql":  # beside the InfluxQL ones in the same Grafana: own uids and titles
                    board.uid = board.uid.replace("netpoll-", "netpoll-vm-")
                    board.title = board.title.replace("netpoll /", "netpoll (VictoriaMetrics) /")
                    _relink(board)
                out[directory / name] = json.dumps(board.to_json(), indent=2) + "\n"
    finally:
        DIALECT = "influxql"
    return out


def _relink(board: Board) -> None:
    """Point the links between dashboards at the VictoriaMetrics ones."""
    text = json.dumps([board.panels, board.links])
    text = text.replace("/d/netpoll-device/", "/d/netpoll-vm-device/").replace(
        "/d/netpoll-overview/", "/d/netpoll-vm-overview/"
    )
    board.panels, board.links = json.loads(text)


def main() -> int:
    """Write the dashboards; with ``--check``, fail if the committed JSON is out of date."""
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in render().items():
        name = str(path.relative_to(OUT_DIR))
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
