"""The status page's HTML, rendered on the server from the status board's dicts (the JSON of ``/api``).

Self-contained: inline CSS, no script, no font or file from anywhere else, so it works offline and behind any
proxy. Filtering and sorting are query parameters of a plain GET form (``?q=&state=&sort=``), so a filtered
view is a link one can share. Numbers are rounded for reading here; ``/api`` keeps full precision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from netpoll.daemon.status import STATES
from netpoll.numbers import human

# column key → (heading, sort key)
_COLUMNS: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "name": ("device", lambda d: d["name"]),
    "address": ("address", lambda d: d["address"]),
    "site": ("site", lambda d: (d["site"], d["name"])),
    "role": ("role", lambda d: (d["role"], d["name"])),
    "state": ("state", lambda d: (STATES.index(d["state"]), d["name"])),
    "last_poll": ("last poll", lambda d: (d["last_poll"] or 0.0, d["name"])),
    "duration": ("duration", lambda d: (d["last_duration_s"] or 0.0, d["name"])),
    "interfaces": ("interfaces", lambda d: (d["interfaces"], d["name"])),
    "alerts": ("alerts", lambda d: (len(d["active_alerts"]), d["name"])),
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;background:#fff;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top;white-space:nowrap}
td.error,td.wrap{white-space:normal;min-width:12em}
th a{color:inherit}td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{font-weight:600;white-space:nowrap}.ok{color:#1a7f37}.failing{color:#cf222e}
.overloaded{color:#9a6700}.disabled,.pending{color:#6e7781}.error{color:#cf222e}
.counts a{margin-right:1em}form{margin:.8em 0}small{color:#6e7781}
"""


@dataclass(frozen=True, slots=True)
class View:
    """What the reader asked for: a text filter, a state filter and a sort column."""

    q: str = ""
    state: str = ""
    sort: str = "state"

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> View:
        """From parsed query parameters; unknown values fall back to the defaults."""

        def first(key: str) -> str:
            return (query.get(key) or [""])[0].strip()

        state = first("state")
        sort = first("sort")
        return cls(
            q=first("q"),
            state=state if state in STATES else "",
            sort=sort if sort.lstrip("-") in _COLUMNS else "state",
        )

    def link(self, **change: str) -> str:
        """This view's URL with some parameters changed (empty ones are left out)."""
        params = {"q": self.q, "state": self.state, "sort": self.sort, **change}
        if params["sort"] == "state":  # the default order needs no parameter
            del params["sort"]
        text = urlencode({key: value for key, value in params.items() if value})
        return "/?" + text if text else "/"

    def select(self, devices: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The devices this view shows, in its order."""
        needle = self.q.lower()
        rows = [
            d
            for d in devices
            if (not self.state or d["state"] == self.state)
            and (
                not needle
                or any(needle in str(d[key]).lower() for key in ("name", "address", "site", "role", "error"))
            )
        ]
        key = _COLUMNS[self.sort.lstrip("-")][1]
        return sorted(rows, key=key, reverse=self.sort.startswith("-"))


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _when(stamp: float | None, now: float) -> str:
    if stamp is None:
        return "never"
    iso = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
    return f'<time datetime="{iso}" title="{iso}">{_ago(now - stamp)}</time>'


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{human(seconds * 1000)} ms"


def _device_link(name: str) -> str:
    return f'<a href="/device/{quote(name, safe="")}">{escape(name)}</a>'


def index(overview: dict[str, Any], view: View) -> str:
    """The status page: every device, filtered and sorted as ``view`` says."""
    devices: list[dict[str, Any]] = overview["devices"]
    now = time.time()
    counts = {state: sum(1 for d in devices if d["state"] == state) for state in STATES}
    count_links = " ".join(
        f'<a class="{state}" href="{escape(view.link(state=state))}">{counts[state]} {state}</a>'
        for state in STATES
        if counts[state]
    )
    options = "".join(
        f'<option value="{state}"{" selected" if state == view.state else ""}>{state or "any state"}</option>'
        for state in ("", *STATES)
    )
    shown = view.select(devices)
    heads = []
    for key, (heading, _) in _COLUMNS.items():
        order = f"-{key}" if view.sort == key else key
        arrow = " ▲" if view.sort == key else " ▼" if view.sort == f"-{key}" else ""
        heads.append(f'<th><a href="{escape(view.link(sort=order))}">{heading}</a>{arrow}</th>')
    heads.insert(5, "<th>error</th>")
    rows = "\n".join(_row(d, now) for d in shown) or (
        f'<tr><td colspan="{len(heads)}">no device matches</td></tr>'
    )
    health = escape(overview["health"])  # ok, or degraded: how far behind the poller is
    if overview["health"] == "ok":
        health = "healthy"
    elif not overview["healthy"]:
        health = f"not healthy: {health}"
    body = f"""<h1>netpoll status: {escape(overview["instance"])}</h1>
<p><small>shard {escape(overview["shard"])} · {health} · {len(devices)} devices ·
<a href="/api/devices">JSON</a> · <a href="/metrics">metrics</a> · <a href="{escape(view.link())}">refresh</a>
</small></p>
<p class="counts">{count_links}</p>
<form method="get" action="/" role="search">
<input type="search" name="q" value="{escape(view.q)}" placeholder="name, address, site, role or error"
 aria-label="filter" size="40">
<select name="state" aria-label="state">{options}</select>
<input type="hidden" name="sort" value="{escape(view.sort)}">
<button type="submit">Filter</button> <a href="/">clear</a>
</form>
<p><small>{len(shown)} of {len(devices)} shown</small></p>
<table id="devices"><thead><tr>{"".join(heads)}</tr></thead>
<tbody>
{rows}
</tbody></table>"""
    return _page(f"netpoll status: {overview['instance']}", body)


def _row(d: dict[str, Any], now: float) -> str:
    alerts = d["active_alerts"]
    alert_text = ", ".join(escape(f"{a['rule']} {a['entity']}".strip()) for a in alerts)
    return (
        f'<tr data-device="{escape(d["name"])}" data-state="{d["state"]}">'
        f"<td>{_device_link(d['name'])}</td><td>{escape(d['address'])}</td>"
        f"<td>{escape(d['site'])}</td><td>{escape(d['role'])}</td>"
        f'<td class="state {d["state"]}">{d["state"]}</td>'
        f'<td class="error">{escape(d["error"])}</td>'
        f'<td>{_when(d["last_poll"], now)}</td><td class="num">{_ms(d["last_duration_s"])}</td>'
        f'<td class="num">{d["interfaces"]}</td><td class="wrap">{alert_text or "-"}</td></tr>'
    )


def _result(h: dict[str, Any]) -> str:
    """A poll's result cell: ok, failed, or overloaded (the poller had no time for it) with the reason."""
    if h.get("overloaded"):
        return f'<td class="state overloaded">overloaded: {escape(h["overloaded"])}</td>'
    return f'<td class="state {"ok" if h["ok"] else "failing"}">{"ok" if h["ok"] else "failed"}</td>'


def device(detail: dict[str, Any], instance: str) -> str:
    """One device's page: its probes, active alerts, alert history, poll history and last samples."""
    now = time.time()
    name = detail["name"]
    probes = "\n".join(
        f'<tr><td>{kind}</td><td class="state {"ok" if p["ok"] else "failing"}">'
        f'{"ok" if p["ok"] else "failing"}</td><td class="error">{escape(p["error"])}</td>'
        f'<td>{_when(p["last_poll"], now)}</td><td class="num">{_ms(p["duration_s"])}</td>'
        f'<td>{_when(p["last_success"], now)}</td><td class="num">{p["polls"]}</td>'
        f'<td class="num">{p["failures_in_row"]}</td></tr>'
        for kind, p in detail["probes"].items()
    )
    history = "\n".join(
        f"<tr><td>{_when(h['time'], now)}</td><td>{h['kind']}</td>{_result(h)}"
        f'<td class="num">{_ms(h.get("duration_s"))}</td><td class="error">{escape(h["error"])}</td></tr>'
        for h in detail["history"]
    )
    api = f"/api/devices/{quote(name, safe='')}"
    body = f"""<p><small><a href="/">← all devices</a> · <a href="{api}">JSON</a>
 · poller {escape(instance)}</small></p>
<h1>{escape(name)} <span class="state {detail["state"]}">{detail["state"]}</span></h1>
<p>{escape(detail["address"])}{" · site " + escape(detail["site"]) if detail["site"] else ""}
{" · role " + escape(detail["role"]) if detail["role"] else ""} · {detail["interfaces"]} interfaces polled</p>
{f'<p class="error" id="error">{escape(detail["error"])}</p>' if detail["error"] else ""}
<h2>Probes</h2>
{
        _table(
            (
                "probe",
                "state",
                "error",
                "last poll",
                "duration",
                "last success",
                "polls",
                "failures in a row",
            ),
            probes,
            "no poll yet",
        )
    }
<h2>Active alerts</h2>
{_alerts(detail["active_alerts"], now, "none")}
<h2>Alert history</h2>
{_alerts(detail["alert_history"], now, "no alert since the daemon started")}
<h2>Recent polls</h2>
{_table(("time", "probe", "result", "duration", "error"), history, "no poll yet")}
<h2>Last samples</h2>
{_samples(detail["samples"])}"""
    return _page(f"{name}: netpoll", body)


def _table(heads: Iterable[str], rows: str, empty: str) -> str:
    if not rows:
        return f"<p><small>{empty}</small></p>"
    cells = "".join(f"<th>{escape(head)}</th>" for head in heads)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>\n{rows}\n</tbody></table>"


def _alerts(alerts: list[dict[str, Any]], now: float, empty: str) -> str:
    rows = "\n".join(
        f"<tr><td>{_when(a['time'], now)}</td><td>{escape(a['state'])}</td><td>{escape(a['severity'])}</td>"
        f"<td>{escape(a['rule'])}</td><td>{escape(a['entity'])}</td>"
        f'<td class="wrap">{escape(a["message"])}</td></tr>'
        for a in alerts
    )
    return _table(("time", "state", "severity", "rule", "entity", "message"), rows, empty)


_ENTITY_TAGS = ("ifName", "ifIndex", "entity", "url")


def _samples(samples: list[dict[str, Any]]) -> str:
    rows = "\n".join(
        f"<tr><td>{escape(s['measurement'])}</td>"
        f"<td>{escape(' '.join(str(s['tags'][k]) for k in _ENTITY_TAGS if k in s['tags']))}</td>"
        f'<td class="wrap">{escape(", ".join(f"{k}={_value(v)}" for k, v in s["fields"].items()))}</td></tr>'
        for s in samples
    )
    return _table(("measurement", "entity", "fields"), rows, "no sample yet")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return human(value)
    return str(value)


def not_found(name: str) -> str:
    """The page for a device the board does not know."""
    return _page(
        "not found: netpoll",
        f'<p><a href="/">← all devices</a></p><h1>No device {escape(name)!s}</h1>'
        "<p>It is not in this poller's inventory (or not in its shard).</p>",
    )
