"""End to end: `netpoll run` polling snmpsim (shared lab + generated demo recordings) and pinging loopback,
writing to VictoriaMetrics through the InfluxDB v2 write API, and (the outage test) to InfluxDB 1.6 through
the v1 API it detects.

* every expected series (interface, snmp, ping, netpoll) is present after 3 cycles, with rates from the
  second poll on;
* nothing lost, nothing twice, on both servers: the server stopped for two cycles and started again, then
  the daemon SIGTERMed with a batch pending and started again: per series, no duplicate timestamps and no
  gap longer than an interval except while the daemon itself was down; the restarted daemon yields rates
  at once.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netpoll.demo.lab import write_lab
from netpoll.demo.simulator import Simulator
from tests.harness.demo_sim import running
from tests.harness.ports import free_port
from tests.harness.snmpsim import lab_snmprec_dir

pytestmark = [pytest.mark.network, pytest.mark.slow]

# 3 s: the 146-interface lab-c2960x's first poll (labels, counters, every profile table) took up to 1.9 s on a
# loaded machine, and a 2 s interval's budget (1.9 s) cut it now and then.
INTERVAL = 3.0
# device name -> community (names differ from communities, so a leak of a community in the log shows)
LAB_DEVICES = {
    "lab-c2960x": "cisco-ios-c2960x",
    "lab-vmx": "juniper-junos-vmx",
    "lab-crs317": "mikrotik-routeros-crs317",
}
DEMO_DEVICES = {"sim-edge": "demo-rtr-edge-1", "sim-fw": "demo-fw-edge-1"}
PING_ONLY = {"peer-a": "127.0.0.5", "peer-b": "127.0.0.6"}


ADDRESSES = {"lab-c2960x": "127.0.0.41", "lab-vmx": "127.0.0.42", "lab-crs317": "127.0.0.43"}
ADDRESSES |= {"sim-edge": "127.0.0.44", "sim-fw": "127.0.0.45"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One snmpsim serving 3 shared-lab recordings and 2 generated demo ones, each device on its own address.

    (The inventory rightly refuses two devices on one address and port, so the harness's single-address
    snmpsim cannot serve several devices to one daemon.)
    """
    if not lab_snmprec_dir().is_dir():
        pytest.skip(f"lab recordings not found at {lab_snmprec_dir()}")
    work = tmp_path_factory.mktemp("sim")
    demo_recordings, _ = write_lab(work / "demo", 161, INTERVAL)
    served = work / "served"
    served.mkdir()
    for community in LAB_DEVICES.values():
        shutil.copyfile(lab_snmprec_dir() / f"{community}.snmprec", served / f"{community}.snmprec")
    for community in DEMO_DEVICES.values():
        shutil.copyfile(demo_recordings / f"{community}.snmprec", served / f"{community}.snmprec")
    simulator = Simulator(served, sorted(ADDRESSES.values()), free_port("udp"), work, "demo-fw-edge-1")
    with running(simulator):
        yield simulator


def write_setup(
    tmp: Path, sim: Simulator, vm_url: str, http_port: int, flush_s: float = 1.0, database: str = "netpoll"
) -> Path:
    secrets = tmp / "secrets"
    secrets.mkdir(exist_ok=True)
    lines = [
        "defaults:",
        f"  snmp: {{interval_s: {INTERVAL}, timeout_s: 1, retries: 1}}",
        # 1.5 s: a loaded machine delayed a loopback echo reply past 0.5 s now and then
        f"  ping: {{interval_s: {INTERVAL}, count: 2, packet_interval_s: 0.1, timeout_s: 1.5}}",
        "credentials:",
    ]
    for community in (*LAB_DEVICES.values(), *DEMO_DEVICES.values()):
        (secrets / community).write_text(community)
        (secrets / community).chmod(0o600)  # else the warning names the file, whose name is the community
        lines += [f"  {community}: {{version: 2c, community_file: secrets/{community}}}"]
    lines.append("devices:")
    for name, community in (LAB_DEVICES | DEMO_DEVICES).items():
        lines += [
            f"  - name: {name}",
            f"    address: {ADDRESSES[name]}",
            f"    snmp: {{credentials: {community}, port: {sim.port}}}",
        ]
    for name, address in PING_ONLY.items():
        lines += [f"  - name: {name}", f"    address: {address}", "    snmp: {enabled: false}"]
    (tmp / "inventory.yaml").write_text("\n".join(lines) + "\n")
    config = tmp / "netpoll.yaml"
    config.write_text(
        "\n".join(
            [
                "inventories: [inventory.yaml]",
                "data_dir: data",
                "state_dir: state",
                "influxdb:",
                f"  url: {vm_url}",
                "  bucket: netpoll",
                "  org: noc",
                f"  database: {database}",
                f"  flush_interval_s: {flush_s}",
                "  timeout_s: 2",
                "http:",
                f"  listen: 127.0.0.1:{http_port}",
                "log: {level: INFO}",
            ]
        )
        + "\n"
    )
    return config


class DaemonProcess:
    def __init__(self, config: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")}
        self.log_path = config.parent / f"netpoll-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netpoll", "run", "--config", str(config), *extra],
            cwd=config.parent,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()


def series(vm: Any, match: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[int]]:
    """{(metric, labels): sorted timestamps} of the export."""
    if isinstance(vm, InfluxQLSeries):
        return vm.series(match)
    out: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = {}
    for row in vm.export(match):
        metric = dict(row["metric"])
        name = metric.pop("__name__")
        key = (name, tuple(sorted(metric.items())))
        out.setdefault(key, []).extend(row["timestamps"])
    return {key: sorted(ts) for key, ts in out.items()}


class InfluxQLSeries:
    """``series()`` and ``flush()`` of an InfluxDB 1.x database, shaped like VictoriaMetrics' export."""

    def __init__(self, server: Any, db: str) -> None:
        self.server = server
        self.db = db

    def flush(self) -> None:
        """InfluxDB answers a write once it is queryable."""

    def series(self, match: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[int]]:
        # match: '{__name__="measurement_field"[,device=~"re"]}' as the VictoriaMetrics queries use
        name = match.split('__name__="', 1)[1].split('"', 1)[0]
        measurement, field = name.split("_", 1)
        where = ""
        if 'device=~"' in match:
            pattern = match.split('device=~"', 1)[1].split('"', 1)[0]
            where = f" WHERE device =~ /^{pattern}$/"
        answer = self.server.query(self.db, f'SELECT "{field}" FROM "{measurement}"{where} GROUP BY *')
        out: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = {}
        for row in answer["results"][0].get("series", []):
            key = (name, tuple(sorted((k, v) for k, v in row.get("tags", {}).items() if v)))
            out[key] = sorted(int(value[0]) // 1_000_000 for value in row["values"] if value[1] is not None)
        return out


def settle(vm: Any) -> None:
    """VictoriaMetrics makes the newest rows searchable a moment after it acknowledged them."""
    time.sleep(2.0)
    vm.flush()


def values(vm: Any, match: str) -> list[float]:
    return [v for row in vm.export(match) for v in row["values"]]


def test_every_series_present_with_rates(
    tmp_path: Path, sim: Simulator, victoriametrics: Any, daemons: list[DaemonProcess]
) -> None:
    config = write_setup(tmp_path, sim, victoriametrics.url, free_port("tcp"))
    daemon = DaemonProcess(config, "--cycles", "3")
    daemons.append(daemon)
    assert daemon.wait(timeout=60) == 0, daemon.log()
    settle(victoriametrics)
    log = daemon.log()
    assert "Traceback" not in log, log
    for community in (*LAB_DEVICES.values(), *DEMO_DEVICES.values()):
        assert community not in log, "a community leaked into the log"
    snmp_devices = (*LAB_DEVICES, *DEMO_DEVICES)
    for device in snmp_devices:
        polls = series(victoriametrics, f'{{__name__="snmp_poll_ok",device="{device}"}}')
        assert polls, f"no snmp series for {device}"
        assert len(next(iter(polls.values()))) >= 3
        oks = values(victoriametrics, f'{{__name__="snmp_poll_ok",device="{device}"}}')
        assert all(v == 1 for v in oks), f"{device}: poll_ok {oks}\n{log}"
        raw = series(victoriametrics, f'{{__name__="interface_ifHCInOctets",device="{device}"}}')
        assert raw, f"no interface series for {device}"
        rates = series(victoriametrics, f'{{__name__="interface_in_bps",device="{device}"}}')
        assert rates, f"no interface rates for {device}"
        # rates from the second poll on: every poll but the first has them
        for key, stamps in raw.items():
            rate_key = ("interface_in_bps", key[1])
            if rate_key in rates:
                assert len(rates[rate_key]) >= len(stamps) - 1
    for device in (*snmp_devices, *PING_ONLY):
        ping = series(victoriametrics, f'{{__name__="ping_packets_received",device="{device}"}}')
        assert ping, f"no ping series for {device}"
        assert all(
            v > 0 for v in values(victoriametrics, f'{{__name__="ping_packets_received",device="{device}"}}')
        )
    # the generated demo recordings move: non-zero rates
    assert max(values(victoriametrics, '{__name__="interface_in_bps",device="sim-edge"}')) > 1e6
    selfmon = series(victoriametrics, '{__name__=~"netpoll_.*"}')
    names = {key[0] for key in selfmon}
    for field in ("polls_ok", "polls_failed", "polls_skipped", "poll_lag_ms", "queue_size", "spool_bytes",
                  "write_latency_ms", "points_written"):  # fmt: skip
        assert f"netpoll_{field}" in names


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _gaps_ok(stamps: list[int], down: tuple[float, float]) -> list[str]:
    """Problems: duplicates, or gaps over 1.9 intervals (a missed poll) other than the daemon's own downtime.

    ``down`` is (SIGTERM time, restart time): the one allowed gap starts before the first and ends within an
    interval (plus start-up) after the second.
    """
    problems = []
    if len(stamps) != len(set(stamps)):
        problems.append(f"{len(stamps) - len(set(stamps))} duplicate timestamps")
    for before, after in itertools.pairwise(stamps):
        if after - before > INTERVAL * 1900:  # a late poll (a busy machine) leaves less than 2 intervals
            spans_restart = before / 1000 <= down[0] and down[1] <= after / 1000 <= down[1] + INTERVAL + 12
            if not spans_restart:
                problems.append(f"gap {before}..{after} ({(after - before) / 1000:.1f} s)")
    return problems


@pytest.mark.parametrize("store", ["victoriametrics", "influxdb1"])
def test_nothing_lost_across_outage_and_restart(
    tmp_path: Path, sim: Simulator, store: str, request: pytest.FixtureRequest, daemons: list[DaemonProcess]
) -> None:
    server = request.getfixturevalue(store)
    http_port = free_port("tcp")
    if store == "influxdb1":
        server.create_database("e2e")
        reader: Any = InfluxQLSeries(server, "e2e")
    else:
        reader = server
    # A long flush interval: at SIGTERM a batch is always pending in memory.
    config = write_setup(tmp_path, sim, server.url, http_port, flush_s=3.0, database="e2e")
    started = time.time()
    first = DaemonProcess(config)
    daemons.append(first)
    time.sleep(3 * INTERVAL + 1)
    status, body = _get(f"http://127.0.0.1:{http_port}/metrics")
    assert status == 200
    assert "netpoll_polls_total" in body
    status, body = _get(f"http://127.0.0.1:{http_port}/healthz")
    assert (status, body.strip()) == (200, "ok")

    server.stop()
    time.sleep(2 * INTERVAL + 1)
    server.start()
    time.sleep(2 * INTERVAL + 1)
    first.proc.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0, first.log()
    stopped = time.time()
    log1 = first.log()
    assert "unreachable" in log1
    assert "reachable again" in log1

    restart_begin = time.time()
    second = DaemonProcess(config, "--cycles", "3")
    daemons.append(second)
    assert second.wait(timeout=60) == 0, second.log()
    settle(reader)
    log2 = second.log()
    assert "counter state of" in log2
    assert "Traceback" not in log1 + log2

    down = (stopped, restart_begin)
    checked = 0
    for match in (
        '{__name__="snmp_poll_ok"}',
        '{__name__="ping_packets_received"}',
        '{__name__="interface_ifHCInOctets",device=~"sim-.*"}',
        '{__name__="interface_in_bps",device=~"sim-.*"}',
    ):
        for key, stamps in series(reader, match).items():
            stamps = [t for t in stamps if t / 1000 >= started]
            problems = _gaps_ok(stamps, down)
            assert not problems, f"{key}: {problems}"
            checked += 1
            # the restarted daemon's points are there, rates included (counter state restored)
            after_restart = [t for t in stamps if t / 1000 > stopped]
            assert len(after_restart) >= 2, key
    assert checked >= 5 + 2 + 2
    # the restarted daemon's first poll already has rates: as many rate points as raw points after restart
    raw = series(reader, '{__name__="interface_ifHCInOctets",device=~"sim-edge"}')
    rate = series(reader, '{__name__="interface_in_bps",device=~"sim-edge"}')
    for key, stamps in raw.items():
        rate_stamps = rate.get(("interface_in_bps", key[1]), [])
        assert [t for t in stamps if t / 1000 > stopped] == [t for t in rate_stamps if t / 1000 > stopped]
    assert json.dumps(sorted(raw))  # keys are plain data
