"""The shipped Grafana dashboards: valid provisioning JSON, names and types declared in netpoll.measurements,
and every query runs against a real InfluxDB 1.x loaded with line protocol netpoll wrote (checked against the
model too)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netpoll.alerts.engine import AlertEngine
from netpoll.alerts.rules import load_rules
from netpoll.measurements import MODEL, NUMERIC
from netpoll.sample import Sample
from tests.harness.lineprotocol import parse_lines

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE_UID = "netpoll-influxdb"
DB = "netpoll"
INTERVAL = "10s"

# Grafana's own variables; everything else that starts with $ must be a template variable of the dashboard.
_BUILTIN = {"timeFilter", "__interval", "interval", "__interval_ms", "__from", "__to"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
# Characters Grafana's InfluxDB datasource escapes in a template value used inside /regex/; "/" too, which
# would otherwise end the InfluxQL regex literal (interface names like Gi1/0/1).
_REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}/])")


@dataclass(frozen=True)
class Query:
    """One InfluxQL query found in a dashboard, with where it was found (for failure messages)."""

    dashboard: str
    where: str
    text: str


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Panels including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def extract_queries(path: Path) -> list[Query]:
    """Every InfluxQL query of a dashboard: panel targets, query variables and annotations."""
    board = load(path)
    name = path.name
    found = []
    for var in board["templating"]["list"]:
        if var.get("type") == "query":
            query = var["query"] if isinstance(var["query"], str) else var["query"]["query"]
            found.append(Query(name, f"variable {var['name']}", query))
    for ann in board["annotations"]["list"]:
        if not ann.get("builtIn"):
            found.append(Query(name, f"annotation {ann['name']}", ann["query"]))
    for panel in all_panels(board["panels"]):
        for tgt in panel.get("targets", []):
            found.append(Query(name, f"panel {panel['title']!r} target {tgt['refId']}", tgt["query"]))
    return found


def grafana_escape(value: str) -> str:
    return _REGEX_SPECIAL.sub(r"\\\1", value)


def substitute(query: str, values: dict[str, str], start_ns: int, end_ns: int) -> str:
    """Expand the query as Grafana would: time range, interval, and template values (already escaped)."""
    text = query.replace(
        "$timeFilter", f"time >= {start_ns // 1_000_000}ms and time <= {end_ns // 1_000_000}ms"
    )
    return expand_variables(query, text.replace("$__interval", INTERVAL), values)


def expand_variables(query: str, text: str, values: dict[str, str]) -> str:
    """``text`` (``query`` with Grafana's own variables expanded) with the template values put in."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            raise AssertionError(f"{query!r} uses ${name}, which is not a template variable of its dashboard")
        return values[name]

    return _VARIABLE.sub(one, text)


# ---- structure: Grafana's provisioning format -------------------------------------------------------------


def test_generated_json_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(GRAFANA / "build_dashboards.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_three_dashboards_exist() -> None:
    assert {path.name for path in DASHBOARD_FILES} == {"network-overview.json", "device.json", "alerts.json"}


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_has_grafana_provisioning_fields(path: Path) -> None:
    board = load(path)
    for key, kind in {
        "title": str,
        "uid": str,
        "panels": list,
        "schemaVersion": int,
        "templating": dict,
        "annotations": dict,
        "time": dict,
    }.items():
        assert isinstance(board.get(key), kind), f"{path.name}: {key} missing or not {kind.__name__}"
    # Provisioned dashboards must not carry a database id; the uid identifies them.
    assert "id" not in board or board["id"] is None
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board["uid"])
    assert board["schemaVersion"] >= 36
    assert isinstance(board["templating"]["list"], list)
    assert isinstance(board["annotations"]["list"], list)
    ids = [panel["id"] for panel in all_panels(board["panels"])]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"

    for panel in all_panels(board["panels"]):
        where = f"{path.name} panel {panel.get('title')!r}"
        assert isinstance(panel.get("type"), str), where
        pos = panel.get("gridPos")
        assert isinstance(pos, dict), where
        assert set(pos) >= {"h", "w", "x", "y"}, where
        assert pos["x"] >= 0, where
        assert pos["x"] + pos["w"] <= 24, where
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "influxdb", "uid": DATASOURCE_UID}, where
        assert panel["targets"], f"{where}: no targets"
        for tgt in panel["targets"]:
            assert tgt.get("refId"), where
            assert tgt.get("rawQuery") is True, where
            assert tgt.get("query"), where
            assert tgt.get("resultFormat") in {"time_series", "table"}, where
            assert tgt["datasource"]["uid"] == DATASOURCE_UID, where
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"

    for var in board["templating"]["list"]:
        assert set(var) >= {"name", "type", "query", "datasource"}, f"{path.name}: variable {var}"
        assert var["datasource"]["uid"] == DATASOURCE_UID
    for ann in board["annotations"]["list"]:
        assert set(ann) >= {"name", "datasource", "enable"}, f"{path.name}: annotation {ann}"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_panels_do_not_overlap(path: Path) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in all_panels(load(path)["panels"]):
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_units_and_legends() -> None:
    units: set[str] = set()
    for path in DASHBOARD_FILES:
        for panel in all_panels(load(path)["panels"]):
            if panel["type"] == "row":
                continue
            units.add(panel["fieldConfig"]["defaults"]["unit"])
            for override in panel["fieldConfig"]["overrides"]:
                units.update(p["value"] for p in override["properties"] if p["id"] == "unit")
            if panel["type"] == "timeseries":
                for tgt in panel["targets"]:
                    # One legend entry per device / interface, not "interface.mean".
                    assert "$tag_" in tgt.get("alias", "") or "$col" in tgt.get("alias", ""), panel["title"]
    assert units >= {"bps", "percent", "ms", "s", "pps"}


def test_alert_annotations_everywhere() -> None:
    for path in DASHBOARD_FILES:
        anns = [a for a in load(path)["annotations"]["list"] if not a.get("builtIn")]
        assert any('FROM "alert"' in a["query"] for a in anns), path.name


# ---- names: every measurement, tag and field a query uses is declared in netpoll.measurements ------------

# InfluxQL functions that need a number: on a string field they fail or return nothing.
_NUMERIC_FUNCTIONS = {
    "mean", "median", "sum", "max", "min", "spread", "stddev", "percentile", "integral", "derivative",
    "non_negative_derivative", "difference", "moving_average",
}  # fmt: skip
# GROUP BY up to its end: time(...) allowed inside, a subquery's closing parenthesis ends it.
_GROUP_BY = re.compile(r"GROUP BY ((?:time\([^)]*\)|[^()])*)")


def query_problems(query: str) -> list[str]:
    """What a query uses that the model does not declare, or declares with an unfit type or kind.

    The innermost ``FROM`` names the measurement (the outer query of a subquery reads its aliases); a query
    without one (``SHOW TAG VALUES WITH KEY``) must use tags some measurement declares.
    """
    measurements = re.findall(r'FROM "(\w+)"', query)
    aliases = set(re.findall(r'AS "([^"]+)"', query))
    used = set(re.findall(r'"([^"]+)"', query)) - aliases - set(measurements)
    tags = set(re.findall(r'"([^"]+)"\s*=~', query)) | set(re.findall(r'WITH KEY = "([^"]+)"', query))
    for group in _GROUP_BY.findall(query):
        tags |= set(re.findall(r'"([^"]+)"', group)) - aliases
    if not measurements:
        every_tag = {tag for m in MODEL.measurements.values() for tag in m.tag_names}
        return [f"{name} is not a tag of any measurement" for name in sorted(used - every_tag)]
    measurement = MODEL.measurements.get(measurements[-1])
    if measurement is None:
        return [f"measurement {measurements[-1]} is not declared"]
    problems = [f"{measurement.name}: {name} is not a tag" for name in sorted(tags - measurement.tag_names)]
    declared = measurement.tag_names | measurement.field_names
    reported = set()
    for function, name in re.findall(r'(\w+)\("([^"]+)"\)', query):
        field = measurement.field(name)
        if name in aliases:
            continue
        if field is None:
            reported.add(name)
            problems.append(f"{measurement.name}: {function}({name}) reads no declared field")
        elif function in _NUMERIC_FUNCTIONS and field.type not in NUMERIC:
            problems.append(
                f"{measurement.name}: {function}({name}) needs a number, {name} is a {field.type}"
            )
    problems += [f"{measurement.name}: {name} is not declared" for name in sorted(used - declared - reported)]
    return problems


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('SELECT mean("in_bps") FROM "interface" WHERE "ifName" =~ /x/ GROUP BY time(1m), "device"', []),
        ('SELECT mean("in_bsp") FROM "interface"', ["interface: mean(in_bsp) reads no declared field"]),
        ('SELECT mean("error") FROM "snmp"', ["snmp: mean(error) needs a number, error is a string"]),
        ('SELECT last("in_bps") FROM "interface" GROUP BY "in_bps"', ["interface: in_bps is not a tag"]),
        ('SELECT last("x") FROM "bgp"', ["measurement bgp is not declared"]),
        ('SHOW TAG VALUES WITH KEY = "sight"', ["sight is not a tag of any measurement"]),
        ('SELECT count("ok") AS "n" FROM (SELECT last("poll_ok") AS "ok" FROM "snmp" GROUP BY "device")', []),
    ],
)
def test_query_problems(query: str, expected: list[str]) -> None:
    assert query_problems(query) == expected


def test_dashboards_use_declared_measurements_tags_and_fields() -> None:
    problems = [
        f"{query.dashboard} {query.where}: {problem}"
        for path in DASHBOARD_FILES
        for query in extract_queries(path)
        for problem in query_problems(query.text)
    ]
    assert not problems, "\n".join(problems)


# ---- queries: run every one against InfluxDB 1.x ---------------------------------------------------------


# Lab recordings polled for the test data: site, role, and why each is here.
LAB_DEVICES = {
    "cisco-ios-c2960x": ("lab-a", "switch"),  # 146 interfaces, names with "/", Cisco CPU and memory pools
    "juniper-junos-vmx": ("lab-a", "router"),  # jnxOperatingCPU, hrStorage
    "mikrotik-routeros-crs317": ("lab-b", "switch"),  # host-resources CPU and memory
    "netsnmp-linux-rhel8": ("lab-b", "server"),  # UCD/host-resources, few interfaces
}


def lab_inventories(directory: Path, host: str, port: int) -> tuple[list[Path], Path, dict[str, str]]:
    """One SNMP inventory per lab recording, one ping inventory of the same devices, and the secrets.

    One file per recording because an inventory refuses two devices on one address and port, and the
    lab serves every recording there (community = recording). The ping inventory gives the same devices
    distinct loopback addresses and no SNMP, so their ``ping`` points carry the same device, site and role.
    """
    env: dict[str, str] = {}
    snmp_files = []
    ping_devices = []
    for index, (community, (site, role)) in enumerate(LAB_DEVICES.items()):
        variable = f"NETPOLL_TEST_LAB_COMMUNITY_{index}"
        env[variable] = community
        name = f"{community}.{site}"
        path = directory / f"snmp-{index}.yaml"
        path.write_text(
            f"credentials:\n  lab:\n    version: 2c\n    community: ${{{variable}}}\n"
            f"devices:\n  - name: {name}\n    address: {host}:{port}\n    site: {site}\n    role: {role}\n"
            "    snmp:\n      credentials: lab\n      timeout_s: 10\n      retries: 2\n      interval_s: 2\n"
            "    ping:\n      interval_s: 2\n      count: 2\n      packet_interval_s: 0.2\n",
            encoding="utf-8",
        )
        snmp_files.append(path)
        ping_devices.append(
            f"  - name: {name}\n    address: 127.0.0.{index + 1}\n    site: {site}\n    role: {role}\n"
            "    snmp:\n      enabled: false\n"
        )
    ping_file = directory / "ping.yaml"
    ping_file.write_text("devices:\n" + "".join(ping_devices), encoding="utf-8")
    return snmp_files, ping_file, env


def netpoll_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``python -m netpoll ARGS``."""
    return subprocess.Popen(
        [sys.executable, "-m", "netpoll", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def output(process: subprocess.Popen[str]) -> str:
    """The line protocol a ``netpoll_cli`` process wrote; it must have succeeded."""
    out, err = process.communicate(timeout=240)
    command = " ".join(str(arg) for arg in process.args[3:])  # type: ignore[index]
    assert process.returncode == 0, f"netpoll {command}: exit {process.returncode}\n{err}"
    assert out.strip(), f"netpoll {command} wrote nothing\n{err}"
    return out


def alert_lines(device: str, tags: dict[str, str], start_ns: int) -> str:
    """Alerts the alert engine itself raises and clears, fed an outage of ``device``, as line protocol."""
    engine = AlertEngine(load_rules(None))
    samples = []
    for step, reachable in enumerate([0, 0, 0, 1]):
        fields: dict[str, float | int] = {
            "packets_transmitted": 3,
            "packets_received": 3 * reachable,
            "percent_packet_loss": 100.0 * (1 - reachable),
            "result_code": 1 - reachable,
            "reachable": reachable,
        }
        if reachable:
            fields |= {"minimum_response_ms": 0.1, "average_response_ms": 0.2, "maximum_response_ms": 0.3}
        samples.append(Sample("ping", {**tags, "device": device}, fields, start_ns + step * 1_000_000_000))
    alerts = engine.evaluate(samples)
    assert {alert.state for alert in alerts} >= {"breach", "clear"}, alerts
    return "".join(alert.to_sample().to_line_protocol() + "\n" for alert in alerts)


@pytest.fixture(scope="module")
def lab_line_protocol(snmpsim_lab: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Line protocol written by netpoll's own CLIs (poll, ping) and alert engine from the lab recordings."""
    directory = tmp_path_factory.mktemp("lab")
    snmp_files, ping_file, env = lab_inventories(directory, snmpsim_lab.host, snmpsim_lab.port)
    names = [f"{community}.{site}" for community, (site, _) in LAB_DEVICES.items()]
    started = time.time_ns()
    polls = [
        netpoll_cli(
            "poll", "-i", str(path), name, "--format", "lp", "--samples", "2", "--every", "1", env=env
        )
        for path, name in zip(snmp_files, names, strict=True)
    ]
    ping = netpoll_cli(
        *("ping", "-i", str(ping_file), *names, "127.0.0.1", "::1"),
        *("--format", "lp", "--count", "2", "--interval", "0.2"),
        env=env,
    )
    # The daemon itself, two cycles over one device: its line-protocol files add the self-monitoring
    # measurement netpoll (per instance and shard) to what the one-shot commands write.
    out = directory / "daemon-out"
    config = directory / "daemon.yaml"
    config.write_text(
        f"inventories: [{snmp_files[1]}]\ndata_dir: {out}\nstate_dir: {directory / 'state'}\n",
        encoding="utf-8",
    )
    daemon = netpoll_cli("run", "--config", str(config), "--cycles", "2", env=env)
    parts = [output(process) for process in [*polls, ping]]
    _, err = daemon.communicate(timeout=240)
    assert daemon.returncode == 0, err
    parts += [path.read_text(encoding="utf-8") for path in sorted(out.rglob("*.lp"))]
    lines = "".join(part.rstrip("\n") + "\n" for part in parts if part.strip())
    site, role = LAB_DEVICES[names[0].split(".")[0]]
    return lines + alert_lines(names[0], {"site": site, "role": role}, started)


@pytest.fixture(scope="module")
def loaded(influxdb1: Any, lab_line_protocol: str) -> tuple[Any, int, int]:
    """InfluxDB 1.x with netpoll's line protocol in database ``netpoll``: (server, start_ns, end_ns)."""
    influxdb1.create_database(DB)
    influxdb1.write(DB, lab_line_protocol)
    stamps = [int(line.rsplit(" ", 1)[1]) for line in lab_line_protocol.splitlines() if line.strip()]
    return influxdb1, min(stamps) - 60_000_000_000, max(stamps) + 60_000_000_000


@pytest.mark.network
def test_lab_data_covers_every_queried_measurement_and_fits_the_model(lab_line_protocol: str) -> None:
    samples = parse_lines(lab_line_protocol)
    queried = {
        m
        for path in DASHBOARD_FILES
        for q in extract_queries(path)
        for m in re.findall(r'FROM "(\w+)"', q.text)
    }
    assert queried <= {sample.measurement for sample in samples}
    problems = sorted({problem for sample in samples for problem in MODEL.problems(sample)})
    assert not problems, "\n".join(problems)


def run(server: Any, query: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(error, series) of one InfluxQL query."""
    try:
        answer = server.query(DB, query)
    except AssertionError as exc:  # the harness raises on HTTP errors (e.g. 400 for a parse error)
        return str(exc), []
    if "error" in answer:
        return str(answer["error"]), []
    series: list[dict[str, Any]] = []
    for result in answer.get("results", []):
        if "error" in result:
            return str(result["error"]), []
        series.extend(result.get("series", []))
    return None, series


def variable_values(server: Any, board: dict[str, Any], start: int, end: int) -> dict[str, list[str]]:
    """Values of each query variable, resolved in order as Grafana does.

    Earlier multi-value variables are on "All"; a single-value variable (device) takes the first of its
    values for which every later variable has values (the first device may be ping-only: no interfaces).
    """
    variables = board["templating"]["list"]

    def resolve(position: int, current: dict[str, str]) -> dict[str, list[str]] | None:
        if position == len(variables):
            return {}
        var = variables[position]
        error, series = run(server, substitute(var["query"], current, start, end))
        assert error is None, f"variable {var['name']}: {error}"
        found = sorted({str(row[-1]) for s in series for row in s.get("values", [])})
        if not found:
            return None
        candidates = [".*"] if var.get("includeAll") else [grafana_escape(value) for value in found]
        for choice in candidates:
            rest = resolve(position + 1, {**current, var["name"]: choice})
            if rest is not None:
                return {var["name"]: found, **rest}
        return None

    values = resolve(0, {})
    assert values is not None, f"{board['uid']}: no setting of the variables gives every variable values"
    return values


def assignments(board: dict[str, Any], values: dict[str, list[str]]) -> list[dict[str, str]]:
    """Variable settings to try: "All" where allowed, and each real value in turn (escaped like Grafana)."""
    variables = board["templating"]["list"]
    longest = max((len(v) for v in values.values()), default=1)
    out = []
    for i in range(min(longest, 12)):
        out.append(
            {
                var["name"]: ".*"
                if var.get("includeAll")
                else grafana_escape(values[var["name"]][i % len(values[var["name"]])])
                for var in variables
            }
        )
        out.append(
            {
                var["name"]: grafana_escape(values[var["name"]][i % len(values[var["name"]])])
                for var in variables
            }
        )
    return out


@pytest.mark.network
@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_every_query_runs_and_returns_series(loaded: tuple[Any, int, int], path: Path) -> None:
    server, start, end = loaded
    board = load(path)
    values = variable_values(server, board, start, end)
    tries = assignments(board, values)
    problems = []
    queries = extract_queries(path)
    for query in queries:
        answered = False
        for setting in tries:
            text = substitute(query.text, setting, start, end)
            error, series = run(server, text)
            if error is not None:
                problems.append(f"{query.where}: {error}\n    {text}")
                break
            answered = answered or bool(series)
        else:
            if not answered:
                problems.append(f"{query.where}: no series for any variable setting\n    {query.text}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)
    assert len(queries) >= 5


# ---- VictoriaMetrics: the same panels in PromQL, every query run against VictoriaMetrics ----------------


VM_DIR = GRAFANA / "dashboards" / "victoriametrics"
VM_FILES = sorted(VM_DIR.glob("*.json"))
VM_DATASOURCE = {"type": "prometheus", "uid": "netpoll-victoriametrics"}
# Grafana's Prometheus datasource escapes regex characters in a template value with a doubled backslash
# (one for the regex, one for the PromQL string literal); "/" needs none there.
_PROM_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}])")
_LABEL_VALUES = re.compile(r"label_values\((?:(.*),\s*)?(\w+)\)")


def _layout(board: dict[str, Any]) -> list[tuple[str, str, tuple[int, ...]]]:
    return [
        (p["type"], p.get("title", ""), tuple(p["gridPos"][k] for k in "xywh"))
        for p in all_panels(board["panels"])
    ]


def test_victoriametrics_dashboards_have_the_same_panels() -> None:
    assert [p.name for p in VM_FILES] == [p.name for p in DASHBOARD_FILES]
    for path in VM_FILES:
        board, influx = load(path), load(GRAFANA / "dashboards" / path.name)
        assert _layout(board) == _layout(influx), path.name
        assert board["uid"] == influx["uid"].replace("netpoll-", "netpoll-vm-")
        assert [v["name"] for v in board["templating"]["list"]] == [
            v["name"] for v in influx["templating"]["list"]
        ]
        for panel in all_panels(board["panels"]):
            if panel["type"] != "row":
                assert panel["datasource"] == VM_DATASOURCE, panel["title"]
                assert all(t.get("expr") for t in panel["targets"]), panel["title"]
        assert "/d/netpoll-device/" not in path.read_text()  # links stay among the VictoriaMetrics boards


def extract_prom_queries(path: Path) -> list[tuple[Query, bool]]:
    """Every PromQL query of a dashboard, with whether Grafana runs it as an instant query."""
    board = load(path)
    found = []
    for var in board["templating"]["list"]:
        found.append((Query(path.name, f"variable {var['name']}", var["query"]["query"]), True))
    for ann in board["annotations"]["list"]:
        if not ann.get("builtIn"):
            found.append((Query(path.name, f"annotation {ann['name']}", ann["expr"]), False))
    for panel in all_panels(board["panels"]):
        for tgt in panel.get("targets", []):
            where = f"panel {panel['title']!r} target {tgt['refId']}"
            found.append((Query(path.name, where, tgt["expr"]), bool(tgt.get("instant"))))
    return found


@pytest.fixture(scope="module")
def vm_loaded(victoriametrics: Any, lab_line_protocol: str) -> tuple[Any, int, int]:
    """VictoriaMetrics with the same line protocol: (server, start_s, end_s)."""
    request = urllib.request.Request(
        f"{victoriametrics.url}/write", data=lab_line_protocol.encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 204
    victoriametrics.flush()
    stamps = [int(line.rsplit(" ", 1)[1]) for line in lab_line_protocol.splitlines() if line.strip()]
    return victoriametrics, min(stamps) // 10**9 - 60, max(stamps) // 10**9 + 60


def prom_run(server: Any, query: str, start: int, end: int, instant: bool) -> tuple[str | None, int]:
    """(error, number of series) of one PromQL query or ``label_values`` variable query."""
    values = _LABEL_VALUES.fullmatch(query.strip())
    if values:
        selector, label = values.groups()
        params = {"start": str(start), "end": str(end)}
        if selector:
            params["match[]"] = selector
        path = f"/api/v1/label/{label}/values"
    elif instant:
        path, params = "/api/v1/query", {"query": query, "time": str(end)}
    else:
        path, params = (
            "/api/v1/query_range",
            {"query": query, "start": str(start), "end": str(end), "step": "10"},
        )
    try:
        answer = json.loads(server._get(path, params))
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:300]}", 0
    if answer.get("status") != "success":
        return str(answer.get("error")), 0
    data = answer["data"]
    return None, len(data if isinstance(data, list) else data["result"])


def prom_substitute(query: str, values: dict[str, str], start: int, end: int) -> str:
    text = query.replace("$__range", f"{end - start}s").replace("$__interval", INTERVAL)
    return expand_variables(query, text, values)


def prom_variable_values(server: Any, board: dict[str, Any], start: int, end: int) -> dict[str, str]:
    """One setting of the variables, in order: "All" where allowed, else the first value that works."""
    setting: dict[str, str] = {}
    for var in board["templating"]["list"]:
        query = prom_substitute(var["query"]["query"], setting, start, end)
        match = _LABEL_VALUES.fullmatch(query.strip())
        assert match, query
        selector, label = match.groups()
        params = {"start": str(start), "end": str(end), **({"match[]": selector} if selector else {})}
        found = json.loads(server._get(f"/api/v1/label/{label}/values", params))["data"]
        assert found, f"{board['uid']}: variable {var['name']} has no values"
        if var.get("includeAll"):
            setting[var["name"]] = ".*"
        else:  # the device: one with interfaces, so that the interface variable has values
            with_ifs = json.loads(
                server._get("/api/v1/label/device/values", {**params, "match[]": "interface_oper_status"})
            )["data"]
            chosen = sorted(set(found) & set(with_ifs)) or found
            setting[var["name"]] = _PROM_SPECIAL.sub(r"\\\\\1", chosen[0])
    return setting


@pytest.mark.network
@pytest.mark.parametrize("path", VM_FILES, ids=lambda p: p.name)
def test_every_victoriametrics_query_returns_series(vm_loaded: tuple[Any, int, int], path: Path) -> None:
    server, start, end = vm_loaded
    setting = prom_variable_values(server, load(path), start, end)
    problems = []
    queries = extract_prom_queries(path)
    for query, instant in queries:
        text = prom_substitute(query.text, setting, start, end)
        error, count = prom_run(server, text, start, end, instant)
        if error is not None:
            problems.append(f"{query.where}: {error}\n    {text}")
        elif not count:
            problems.append(f"{query.where}: no series\n    {text}")
    assert not problems, f"{path.name} ({len(problems)} of {len(queries)}):\n" + "\n".join(problems)
    assert len(queries) >= 5


_PROM_METRIC = re.compile(r"\b(" + "|".join(MODEL) + r")_([a-z0-9_]+)\b")
_PROM_LABELS = (
    re.compile(r"(\w+)\s*=~"),  # matchers
    re.compile(r"\bby \(([^)]*)\)"),  # aggregations
    re.compile(r"label_values\((?:.*,\s*)?(\w+)\)"),  # variable queries
)


def test_victoriametrics_names_are_declared_in_the_model() -> None:
    """Every series is a declared numeric field (``<measurement>_<field>``), every label a declared tag."""
    tags = {tag for name in MODEL for tag in MODEL[name].tag_names} | {"site", "role", "__name__"}
    problems = []
    for path in VM_FILES:
        for query, _instant in extract_prom_queries(path):
            for measurement, field in _PROM_METRIC.findall(query.text):
                declared = MODEL[measurement].field(field)
                if declared is None or declared.type not in NUMERIC:
                    problems.append(
                        f"{path.name} {query.where}: {measurement}_{field} is not a numeric field"
                    )
            for pattern in _PROM_LABELS:
                for group in pattern.findall(query.text):
                    problems += [
                        f"{path.name} {query.where}: label {label} is not a declared tag"
                        for label in (part.strip() for part in group.split(","))
                        if label and label not in tags
                    ]
    assert not problems, "\n".join(problems)
