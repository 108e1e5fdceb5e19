"""SNMP walk bench: client CPU per varbind and varbinds/s of netpoll's backends, net-snmp and snmp_exporter.

Two fleets, each polled by every contender in the same run: one net-snmp snmpd answering on 200 loopback
addresses (many small devices: this host's few interfaces), and snmpsim serving the lab recordings (11 real
devices, 2 to 204 interfaces). Every contender walks ifTable and ifXTable of every agent, all agents at once:

- ``pysnmp`` / ``gufo``: netpoll's ``SnmpClientPool`` (this process; CPU = ``time.process_time``);
- ``snmpbulkwalk``: net-snmp's C tool, one process per agent and table (CPU from RUSAGE_CHILDREN); the CPU of
  starting a process is measured on its own (walk of an empty subtree) and also shown subtracted;
- ``snmp_exporter``: Debian's prometheus-snmp-exporter (Go) with a generated module walking the same tables,
  scraped once per agent per round (its CPU from /proc/PID/stat, varbinds from ``snmp_scrape_pdus_returned``);
- ``netpoll e2e``: ``SnmpPoller`` with the shipped profiles: scalars, the profile's walks, rate maths and
  output records; steady-state polls (the first, with profile pick and label reads, is a warm-up).

Run: ``.venv/bin/python bench/snmp_walk.py [--agents 200] [--rounds 3] [--no-lab]`` (127/8 is all local).
Budget: under a minute on 2 cores. To add a contender, write ``def measure_x(fleet: Fleet) -> Result`` and
append it to ``CONTENDERS``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netpoll.inputs.snmp.client import SnmpClientPool  # noqa: E402
from netpoll.inputs.snmp.types import Oid, format_oid  # noqa: E402
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings  # noqa: E402
from netpoll.probe import Budget  # noqa: E402
from tests.harness.ports import free_port  # noqa: E402
from tests.harness.snmpd import SnmpdAgent, start_snmpd  # noqa: E402
from tests.harness.snmpsim import SnmpsimAgent, cleanup_snmpsim, lab_snmprec_dir, start_snmpsim  # noqa: E402

IF_TABLE: Oid = (1, 3, 6, 1, 2, 1, 2, 2)
IF_X_TABLE: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1)
TABLES = (IF_TABLE, IF_X_TABLE)
MAX_REPETITIONS = 25
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Agent:
    """One SNMP agent of a fleet (v2c)."""

    host: str
    port: int
    community: str


@dataclass
class Fleet:
    """The agents every contender polls, all at once, ``rounds`` times."""

    title: str
    agents: list[Agent]
    rounds: int
    timeout_s: float = 5.0

    def devices(self) -> list[Device]:
        return [
            Device(
                name=f"dev{i:03d}",
                address=agent.host,
                snmp=SnmpSettings(
                    credentials=CommunityCredentials(
                        profile="bench", version="2c", community=agent.community
                    ),
                    port=agent.port,
                    timeout_s=self.timeout_s,
                    retries=1,
                    max_repetitions=MAX_REPETITIONS,
                ),
            )
            for i, agent in enumerate(self.agents)
        ]


@dataclass
class Result:
    """CPU seconds and wall seconds spent for ``varbinds`` varbinds; ``note`` says what is included."""

    name: str
    cpu_s: float
    wall_s: float
    varbinds: int
    errors: int = 0
    note: str = ""
    startup_cpu_s: float = 0.0  # of that CPU, process start-up (external tools run once per walk)

    @property
    def us_per_varbind(self) -> float:
        return self.cpu_s / self.varbinds * 1e6 if self.varbinds else float("nan")

    @property
    def varbinds_per_s(self) -> float:
        return self.varbinds / self.wall_s if self.wall_s else float("nan")


# --- netpoll client backends --------------------------------------------------------------------------------


async def _walk_all(pool: SnmpClientPool, devices: list[Device]) -> tuple[int, int]:
    async def poll(device: Device) -> int:
        client = pool.client(device)
        total = 0
        for root in TABLES:  # one after the other, as a poller walks
            total += len(await client.walk(root))
        return total

    results = await asyncio.gather(*(poll(d) for d in devices), return_exceptions=True)
    return sum(r for r in results if isinstance(r, int)), sum(
        1 for r in results if isinstance(r, BaseException)
    )


def _measure_backend(fleet: Fleet, backend: str, rounds: int) -> Result:
    async def run() -> Result:
        devices = fleet.devices()
        async with SnmpClientPool(backend=backend) as pool:  # type: ignore[arg-type]
            await _walk_all(pool, devices)  # warm-up: engines, sessions, MIB builder
            cpu0, wall0 = time.process_time(), time.perf_counter()
            varbinds = errors = 0
            for _ in range(rounds):
                got, failed = await _walk_all(pool, devices)
                varbinds += got
                errors += failed
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            requests = pool.requests
        polls = len(devices) * (rounds + 1)
        note = f"{len(devices)} agents at once; {requests / polls:.1f} requests/poll"
        return Result(f"netpoll {backend}", cpu, wall, varbinds, errors, note)

    return asyncio.run(run())


def measure_pysnmp(fleet: Fleet) -> Result:
    return _measure_backend(fleet, "pysnmp", max(1, fleet.rounds // 3))


def measure_gufo(fleet: Fleet) -> Result:
    return _measure_backend(fleet, "gufo", fleet.rounds)


# --- netpoll end to end -------------------------------------------------------------------------------------


def measure_netpoll_e2e(fleet: Fleet, backend: str = "gufo") -> Result:
    """SnmpPoller over the fleet: get scalars, walk the profile's tables, compute rates, build the records."""
    from netpoll.inputs.snmp.poller import SnmpPoller
    from netpoll.inputs.snmp.profiles import load_profiles

    async def run() -> Result:
        devices = fleet.devices()
        profiles = load_profiles()
        async with SnmpClientPool(backend=backend) as pool:  # type: ignore[arg-type]
            poller = SnmpPoller(pool, profiles)
            await asyncio.gather(*(poller.run(d, Budget.start(60)) for d in devices))  # warm-up: profile pick
            requests0 = pool.requests
            cpu0, wall0 = time.process_time(), time.perf_counter()
            varbinds = errors = records = 0
            for _ in range(fleet.rounds):
                for poll in await asyncio.gather(*(poller.run(d, Budget.start(60)) for d in devices)):
                    records += len(poll.samples)
                    errors += 0 if poll.ok else 1
                    for sample in poll.samples:
                        if sample.measurement == "snmp":
                            varbinds += int(sample.fields.get("varbinds", 0))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            requests = pool.requests - requests0
        polls = len(devices) * fleet.rounds
        note = f"walk + rates + {records} records; {requests / polls:.1f} requests/poll (steady state)"
        return Result(f"netpoll e2e ({backend})", cpu, wall, varbinds, errors, note)

    return asyncio.run(run())


# --- net-snmp snmpbulkwalk ----------------------------------------------------------------------------------


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _bulkwalk(agent: Agent, root: Oid) -> int:
    argv = [
        "snmpbulkwalk",
        "-v2c",
        "-c",
        agent.community,
        "-On",
        "-OQ",
        f"-Cr{MAX_REPETITIONS}",
        "-t10",
        "-r1",
    ]
    proc = subprocess.run(
        [*argv, f"{agent.host}:{agent.port}", format_oid(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"},
        check=False,
    )
    if proc.returncode != 0:
        return -1
    return sum(1 for line in proc.stdout.splitlines() if line.startswith(".") and " = " in line)


def measure_snmpbulkwalk(fleet: Fleet) -> Result:
    if shutil.which("snmpbulkwalk") is None:
        return Result("net-snmp snmpbulkwalk", 0, 0, 0, note="not installed (Debian package snmp)")
    jobs = [(agent, root) for agent in fleet.agents for root in TABLES]
    rounds = max(1, fleet.rounds // 2)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        # Process start-up alone: a walk of an empty subtree, same number of processes.
        empty: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 99)
        cpu0 = _children_cpu()
        list(pool.map(lambda j: _bulkwalk(j[0], empty), jobs))
        startup = (_children_cpu() - cpu0) / len(jobs)
        cpu0, wall0 = _children_cpu(), time.perf_counter()
        counts: list[int] = []
        for _ in range(rounds):
            counts += pool.map(lambda j: _bulkwalk(*j), jobs)
        cpu, wall = _children_cpu() - cpu0, time.perf_counter() - wall0
    varbinds = sum(c for c in counts if c > 0)
    errors = sum(1 for c in counts if c < 0)
    note = f"{len(counts)} processes, 8 at once; start-up {startup * 1000:.1f} ms CPU each"
    return Result("net-snmp snmpbulkwalk", cpu, wall, varbinds, errors, note, startup * len(counts))


# --- Prometheus snmp_exporter -------------------------------------------------------------------------------

# (column, type) of ifTable (1.3.6.1.2.1.2.2.1.N) and ifXTable (1.3.6.1.2.1.31.1.1.1.N), snmp_exporter types.
_IF_COLUMNS = {
    1: "gauge", 2: "DisplayString", 3: "gauge", 4: "gauge", 5: "gauge", 6: "PhysAddress48", 7: "gauge",
    8: "gauge", 9: "gauge", 10: "counter", 11: "counter", 12: "counter", 13: "counter", 14: "counter",
    15: "counter", 16: "counter", 17: "counter", 18: "counter", 19: "counter", 20: "counter", 21: "gauge",
    22: "OctetString",
}  # fmt: skip
_IFX_COLUMNS = {
    1: "DisplayString", 2: "counter", 3: "counter", 4: "counter", 5: "counter", 6: "counter", 7: "counter",
    8: "counter", 9: "counter", 10: "counter", 11: "counter", 12: "counter", 13: "counter", 14: "gauge",
    15: "gauge", 16: "gauge", 17: "gauge", 18: "DisplayString", 19: "gauge",
}  # fmt: skip


def exporter_config(communities: list[str]) -> str:
    """A minimal snmp_exporter 0.21 snmp.yml: one module per community (``bench0``...), ifTable + ifXTable."""
    metrics = _exporter_metrics()
    lines: list[str] = []
    for i, community in enumerate(communities):
        lines += [
            f"bench{i}:",
            "  walk:",
            *(f"  - {format_oid(root)}" for root in TABLES),
            "  version: 2",
            f"  max_repetitions: {MAX_REPETITIONS}",
            "  retries: 1",
            "  timeout: 10s",
            "  auth:",
            f"    community: {community}",
            "  metrics:",
            *metrics,
        ]
    return "\n".join(lines) + "\n"


def _exporter_metrics() -> list[str]:
    lines: list[str] = []
    for prefix, table, columns in (
        ("if", "1.3.6.1.2.1.2.2.1", _IF_COLUMNS),
        ("ifx", "1.3.6.1.2.1.31.1.1.1", _IFX_COLUMNS),
    ):
        for column, kind in columns.items():
            lines += [
                f"  - name: {prefix}_col{column}",
                f"    oid: {table}.{column}",
                f"    type: {kind}",
                "    help: bench column",
                "    indexes:",
                "    - labelname: ifIndex",
                "      type: gauge",
            ]
    return lines


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def _scrape(url: str) -> tuple[int, bool, int]:
    """One scrape: (varbinds returned, success, packets sent when the exporter reports it)."""
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read().decode()
    pdus = packets = 0
    for line in body.splitlines():
        if line.startswith("snmp_scrape_pdus_returned "):
            pdus = int(float(line.split()[1]))
        elif line.startswith("snmp_scrape_packets_sent "):
            packets = int(float(line.split()[1]))
    return pdus, "snmp_error" not in body and pdus > 0, packets


def measure_snmp_exporter(fleet: Fleet) -> Result:
    binary = shutil.which("prometheus-snmp-exporter")
    if binary is None:
        return Result(
            "snmp_exporter", 0, 0, 0, note="not installed (Debian package prometheus-snmp-exporter)"
        )
    with tempfile.TemporaryDirectory(prefix="netpoll-bench-") as tmp:
        config = Path(tmp) / "snmp.yml"
        communities = sorted({agent.community for agent in fleet.agents})
        config.write_text(exporter_config(communities))
        module = {community: f"bench{i}" for i, community in enumerate(communities)}
        port = free_port("tcp")
        log = (Path(tmp) / "exporter.log").open("wb")
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}/snmp"
            deadline = time.monotonic() + 15
            while True:  # ready when it answers
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        return Result(
                            "snmp_exporter",
                            0,
                            0,
                            0,
                            note="did not start: " + Path(log.name).read_text()[-300:],
                        )
                    time.sleep(0.1)
            urls = [f"{base}?module={module[a.community]}&target={a.host}:{a.port}" for a in fleet.agents]
            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                list(pool.map(_scrape, urls))  # warm-up
                cpu0, wall0 = _proc_cpu(proc.pid), time.perf_counter()
                results: list[tuple[int, bool, int]] = []
                for _ in range(fleet.rounds):
                    results += pool.map(_scrape, urls)
                cpu, wall = _proc_cpu(proc.pid) - cpu0, time.perf_counter() - wall0
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
    varbinds = sum(pdus for pdus, _, _ in results)
    errors = sum(1 for _, ok, _ in results if not ok)
    note = f"{len(results)} scrapes, 32 at once"
    packets = sum(sent for _, _, sent in results)
    if packets:
        note += f"; {packets / len(results):.1f} requests/scrape"
    return Result("snmp_exporter", cpu, wall, varbinds, errors, note)


CONTENDERS: list[Callable[[Fleet], Result]] = [
    measure_snmpbulkwalk,
    measure_snmp_exporter,
    measure_gufo,
    measure_pysnmp,
    measure_netpoll_e2e,
]


def report(fleet: Fleet, results: list[Result]) -> str:
    by_name = {r.name: r for r in results}
    walk = by_name.get("net-snmp snmpbulkwalk")
    exporter = by_name.get("snmp_exporter")
    rows = [
        fleet.title,
        f"{'contender':<26} {'varbinds':>9} {'errors':>6} {'CPU s':>7} {'µs/varbind':>10} "
        f"{'varbinds/s':>11} {'x bulkwalk':>10} {'x exporter':>10}  note",
    ]
    for r in results:
        ratio_walk = r.us_per_varbind / walk.us_per_varbind if walk and walk.varbinds else float("nan")
        ratio_exp = (
            r.us_per_varbind / exporter.us_per_varbind if exporter and exporter.varbinds else float("nan")
        )
        rows.append(
            f"{r.name:<26} {r.varbinds:>9} {r.errors:>6} {r.cpu_s:>7.2f} {r.us_per_varbind:>10.1f} "
            f"{r.varbinds_per_s:>11.0f} {ratio_walk:>10.2f} {ratio_exp:>10.2f}  {r.note}"
        )
    if walk is not None and walk.varbinds and walk.startup_cpu_s:
        net = (walk.cpu_s - walk.startup_cpu_s) / walk.varbinds * 1e6
        rows.append(f"(snmpbulkwalk without its process start-up, measured apart: {net:.1f} µs/varbind)")
    return "\n".join(rows)


def run_fleet(fleet: Fleet) -> str:
    print(f"{fleet.title}: {len(fleet.agents)} agents, {fleet.rounds} rounds", flush=True)
    results = []
    for contender in CONTENDERS:
        result = contender(fleet)
        print(f"  {result.name}: {result.varbinds} varbinds, {result.cpu_s:.2f} s CPU", flush=True)
        results.append(result)
    return report(fleet, results)


def snmpd_fleet(workdir: Path, count: int, rounds: int) -> tuple[Fleet, SnmpdAgent]:
    """One snmpd answering on ``count`` loopback addresses: many small devices (this host's interfaces)."""
    agent = start_snmpd(workdir, [f"127.2.{i // 250}.{i % 250 + 1}" for i in range(count)])
    agents = [Agent(host, port, agent.community) for host, port in agent.addresses]
    title = f"snmpd on {count} loopback addresses (this host's interfaces), ifTable + ifXTable"
    return Fleet(title, agents, rounds), agent


def lab_fleet(workdir: Path, rounds: int) -> tuple[Fleet, SnmpsimAgent]:
    """snmpsim serving the lab recordings: 11 recorded devices with 2 to 204 interfaces."""
    agent = start_snmpsim(workdir, lab_snmprec_dir())
    agents = [Agent(agent.host, agent.port, community) for community in agent.communities]
    title = f"snmpsim lab recordings ({len(agents)} devices, 2-204 interfaces), ifTable + ifXTable"
    return Fleet(title, agents, rounds, timeout_s=10.0), agent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200, help="snmpd loopback addresses (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="measured polls of every agent (default 3)")
    parser.add_argument("--no-lab", action="store_true", help="skip the snmpsim lab fleet")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    reports = []
    with tempfile.TemporaryDirectory(prefix="netpoll-bench-") as workdir:
        fleet, snmpd = snmpd_fleet(Path(workdir) / "snmpd", args.agents, args.rounds)
        try:
            reports.append(run_fleet(fleet))
        finally:
            snmpd.stop()
        if not args.no_lab and lab_snmprec_dir().is_dir():
            lab_dir = Path(workdir) / "snmpsim"
            try:
                lab, snmpsim = lab_fleet(lab_dir, max(1, args.rounds - 1))
                try:
                    reports.append(run_fleet(lab))
                finally:
                    snmpsim.stop()
            finally:
                cleanup_snmpsim(lab_dir)
    for text in reports:
        print()
        print(text)
    print(f"\nbench took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
