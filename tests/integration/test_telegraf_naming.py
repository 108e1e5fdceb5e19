"""``naming: telegraf``: Grafana queries made for Telegraf's snmp and ping inputs return series on our data.

The daemon polls a lab recording (snmpsim, 146 interfaces) and this host's snmpd, pings 127.0.0.1 and ::1, and
writes with the v1 API into a real InfluxDB 1.x; then every query of ``data/telegraf_dashboards.yaml`` (the
shapes of Telegraf dashboards, their template variables expanded as Grafana's "All" does) must return series
grouped by the tags Telegraf's data has. netpoll's own fields are written beside them, so netpoll's dashboards
keep working on the same database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.network

QUERIES = Path(__file__).parent / "data" / "telegraf_dashboards.yaml"
DB = "telegraf_shaped"
LAB_RECORDING = "cisco-ios-c2960x"  # 146 interfaces, names with "/"
INTERVAL = "2s"
_VARIABLE = re.compile(r"\$(\w+)")
_REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}/])")


def _inventory(lab: Any, snmpd: Any) -> str:
    return f"""
credentials:
  lab:
    version: 2c
    community: ${{NETPOLL_TEST_TELEGRAF_LAB}}
  local:
    version: 2c
    community: ${{NETPOLL_TEST_TELEGRAF_SNMPD}}
defaults:
  ping: {{interval_s: 2, count: 2, packet_interval_s: 0.05, timeout_s: 1}}
devices:
  - name: lab-switch
    address: {lab.host}:{lab.port}
    snmp: {{credentials: lab, interval_s: 2, timeout_s: 10, retries: 2}}
  - name: this-host
    address: {snmpd.host}:{snmpd.port}
    snmp: {{credentials: local, interval_s: 2, timeout_s: 10, retries: 2}}
  - name: lo6
    address: "::1"
    snmp: {{enabled: false}}
"""


@pytest.fixture(scope="module")
def written(snmpsim_lab: Any, snmpd: Any, influxdb1: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """InfluxDB 1.x after three cycles of the daemon with ``naming: telegraf`` and the v1 write API."""
    if os.geteuid() != 0:
        pytest.skip("needs root: raw ICMP sockets for the ping part")
    directory = tmp_path_factory.mktemp("telegraf-naming")
    (directory / "devices.yaml").write_text(_inventory(snmpsim_lab, snmpd), encoding="utf-8")
    (directory / "netpoll.yaml").write_text(
        f"inventories: [devices.yaml]\ndata_dir: data\nstate_dir: state\nnaming: telegraf\n"
        f"influxdb: {{url: '{influxdb1.url}', api: v1, database: {DB}, flush_interval_s: 0.2}}\n",
        encoding="utf-8",
    )
    influxdb1.create_database(DB)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")}
    env |= {"NETPOLL_TEST_TELEGRAF_LAB": LAB_RECORDING, "NETPOLL_TEST_TELEGRAF_SNMPD": snmpd.community}
    done = subprocess.run(
        [sys.executable, "-m", "netpoll", "run", "--config", "netpoll.yaml", "--cycles", "3"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return influxdb1


def _rows(server: Any, query: str) -> list[dict[str, Any]]:
    (result,) = server.query(DB, query)["results"]
    assert "error" not in result, f"{query}: {result['error']}"
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def _expand(query: str, values: dict[str, str]) -> str:
    now_ms = time.time_ns() // 1_000_000
    text = query.replace("$timeFilter", f"time >= {now_ms - 600_000}ms and time <= {now_ms + 60_000}ms")
    text = text.replace("$__interval", INTERVAL)
    return _VARIABLE.sub(lambda m: values[m.group(1)], text)


def _variables(server: Any, spec: dict[str, str]) -> dict[str, str]:
    """Each variable as Grafana's "All" writes it into a regex: ``(a|b)``, regex characters escaped."""
    values: dict[str, str] = {}
    for name, query in spec.items():
        found = sorted(
            {row[1] for series in _rows(server, _expand(query, values)) for row in series["values"]}
        )
        assert found, f"variable {name}: {query} found no values"
        values[name] = "(" + "|".join(_REGEX_SPECIAL.sub(r"\\\1", value) for value in found) + ")"
    return values


def test_telegraf_dashboard_queries_return_series(written: Any) -> None:
    spec = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    values = _variables(written, spec["variables"])
    empty = []
    for panel in spec["panels"]:
        series = _rows(written, _expand(panel["query"], values))
        numbers = [v for s in series for row in s["values"] for v in row[1:] if v is not None]
        if not series or not numbers:
            empty.append(panel["mirrors"])
            continue
        for one in series:
            tags = one.get("tags", {})
            assert all(tags.get(key) for key in panel["group_by"]), (panel["mirrors"], tags)
    assert not empty, f"no series for: {empty}"


def test_hostname_is_the_agents_sysname_and_values_mean_what_telegraf_says(written: Any) -> None:
    hosts = _rows(written, 'SHOW TAG VALUES FROM "snmp" WITH KEY = "hostname"')
    assert len(hosts[0]["values"]) == 2  # the lab switch and this host's snmpd
    by_host = {
        s["tags"]["hostname"]: s["values"][0]
        for s in _rows(written, 'SELECT last("uptime"), last("uptime_s") FROM "snmp" GROUP BY "hostname"')
    }
    for _, ticks, seconds in by_host.values():
        assert ticks == round(seconds * 100)  # TimeTicks: hundredths of a second
    ping = {
        s["tags"]["url"]: s["values"][0][1:]
        for s in _rows(written, 'SELECT last("ttl"), last("result_code") FROM "ping" GROUP BY "url"')
    }
    local_ttl = int(Path("/proc/sys/net/ipv4/ip_default_ttl").read_text())
    assert ping["127.0.0.1"] == [local_ttl, 0]
    assert ping["::1"][1] == 0
    speeds = _rows(
        written,
        'SELECT last("ifHighSpeed"), last("speed_bps"), last("ifOperStatus"), last("oper_status") '
        'FROM "interface" GROUP BY "hostname", "ifName"',
    )
    assert len(speeds) > 146
    for one in speeds:
        _, high, speed_bps, telegraf_status, own_status = one["values"][0]
        assert high == speed_bps // 1_000_000
        assert telegraf_status == own_status


def test_netpoll_own_names_are_still_written(written: Any) -> None:
    """The same database serves netpoll's dashboards: its own fields sit beside Telegraf's."""
    series = _rows(written, 'SELECT last("in_bps"), last("oper_status") FROM "interface" GROUP BY "device"')
    assert {s["tags"]["device"] for s in series} == {"lab-switch", "this-host"}
    rows = _rows(written, 'SELECT * FROM "interface" WHERE "device" = \'lab-switch\' LIMIT 1')
    names = set(rows[0]["columns"])
    assert {"ifOperStatus", "oper_status", "ifHighSpeed", "speed_bps", "hostname", "device"} <= names


def test_queries_file_is_well_formed() -> None:
    """The data file itself: every panel names its shape, its query and the tags it groups by."""
    spec = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    assert set(spec) == {"variables", "panels"}
    for panel in spec["panels"]:
        assert set(panel) == {"mirrors", "query", "group_by"}, panel
        for tag in panel["group_by"]:
            assert f'"{tag}"' in panel["query"], panel
