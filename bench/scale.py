"""Scale bench: `netpoll run` polling and pinging many devices at a 60 s interval.

Inside a network namespace it creates (root needed), net-snmp snmpd (one process per ``--per-agent``
addresses, 100 by default) answers SNMP v2c on ``--devices`` loopback addresses (127.2.x.y; the namespace has
its own loopback, so nothing leaves it), and 10 veth pairs with both ends in the namespace give every "device"
an ifTable of 22 interfaces (lo, 20 veth and the namespace's own link), 21 polled (loopbacks excluded). The
write endpoint runs in the namespace too: by default bench/linesink.py, which speaks the InfluxDB write API
and only counts what it gets (a time-series server beside the fleet on a two-core machine would take the CPU
the run is meant to measure: see that file), or VictoriaMetrics with ``--sink vm``. netpoll runs there with a
generated inventory (every device polled over SNMP and pinged, the shipped alert rules on) for ``--cycles``
cycles, writing through the InfluxDB v2 write API; with ``--sigterm`` the bench ends it with SIGTERM at its
last cycle line instead (polls in flight) and reports how long it took to exit.

Reported per cycle (a cycle = the daemon's own 60 s tick, printed on its console line): polls ok, failed
and overloaded (the poller's own fault, when the daemon reports it), late, netpoll CPU seconds and share of
one core, RSS and peak RSS, open file descriptors, poll-start lag p99 and event-loop lag p99 (when the daemon
reports them), /healthz, the machine's load average, and the CPU the simulated agents (snmpd) and the
sink took beside netpoll on the same machine: when they take the cores netpoll needs, the figures
measure the machine, not netpoll. Per round (every device's n-th SNMP poll, read back from the sink):
devices polled, ok, completion span. Alerts, from the ``alert`` records netpoll wrote:
device alerts, and false ones (a breach on a device whose every SNMP poll and ping answered).
netpoll needs no raised limits: one socket per SNMP poll in flight, one ICMP socket; the bench raises the
soft RLIMIT_NOFILE to the hard limit only for the snmpd processes it starts.
With ``--pin`` (the default on a machine of two or more CPUs) netpoll runs on CPU 0 alone and everything else
the bench starts (the agents, the sink, the bench itself) on the other CPUs: the devices and the time-series
server live on other machines in production, so netpoll gets exactly one core, and "under one core" is what
the run shows, not a share of a core it competes for with its own test fleet. Run: ``.venv/bin/python
bench/scale.py [--devices 5000] [--cycles 3] [--sigterm] [--sink vm]``; takes about ``(cycles + 1) x
interval`` plus start-up. Everything it starts is stopped by PID and the namespace removed, also on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness.netns import Netns, create_netns  # noqa: E402
from tests.harness.snmpd import SnmpdAgent, start_snmpd  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
VETH_PAIRS = 10
# snmpd select()s over every socket it holds for each request: at 1,000 addresses per process that scan was
# most of its CPU (perf: sock_poll/datagram_poll), 93 % of a core for ~5,000 SNMP polls a minute, so the
# agents starved netpoll on a two-core machine. 100 addresses per process cut the scan tenfold.
PER_AGENT = 100
# What the simulated devices report must be theirs, not the bench host's: every snmpd reads the host's CPU,
# which the bench itself keeps busy, so each device would raise cpu_high (a true reading of the wrong
# machine). Its ssCpuIdle (UCD-SNMP-MIB, what netpoll's net-snmp profile takes cpu_pct from) is pinned:
# 90 % idle. The agents' loopback (net-snmp gives lo 10 Mbit/s) carries the whole namespace's traffic, every
# device's SNMP, pings and writes, past 100 % of that at 20,000 devices: the inventory leaves loopbacks out,
# as operators do.
HEALTHY_CPU = "override .1.3.6.1.4.1.2021.11.11.0 integer 90"
SINK_PORT = 8428  # the write endpoint: bench/linesink.py or VictoriaMetrics (its usual port)
HTTP_PORT = 8099
# ``python -c TRACED FILE ARGS...``: netpoll's CLI under tracemalloc, a snapshot to FILE every 20 s.
TRACED = """
import os, sys, threading, time, tracemalloc
tracemalloc.start(1)
path = sys.argv.pop(1)
def snap():
    while True:
        time.sleep(20)
        tracemalloc.take_snapshot().dump(path + ".part")
        os.replace(path + ".part", path)
threading.Thread(target=snap, daemon=True).start()
from netpoll.cli.main import main
sys.exit(main(sys.argv[1:]))
"""
# ``python -c PROFILED FILE ARGS...``: netpoll's CLI under cProfile timed by the main thread's CPU clock, not
# the wall clock: on a loaded machine wall time charges the waits for a core to whatever code was preempted.
PROFILED = """
import cProfile, sys, time
path = sys.argv.pop(1)
profile = cProfile.Profile(time.thread_time)
from netpoll.cli.main import main
try:
    code = profile.runcall(main, sys.argv[1:])
finally:
    profile.dump_stats(path)
sys.exit(code)
"""
CYCLE_RE = re.compile(
    r"cycle (\d+): (\d+) devices, (\d+) ok, (\d+) failed, (\d+) skipped, (\d+) late, (\d+) points, "
    r"lag max (\d+) ms, written (\d+)"
)
# Appended to the cycle line by daemons that count overload (issue 17): "N overloaded, lag p99 X ms, loop
# lag p99 Y ms"; absent from older ones.
OVERLOAD_RE = re.compile(r"(\d+) overloaded")
LAG_P99_RE = re.compile(r"[^p] lag p99 (\d+) ms")
LOOP_LAG_RE = re.compile(r"loop lag p99 (\d+) ms")


def addresses(count: int) -> list[str]:
    return [f"127.2.{i // 250}.{i % 250 + 1}" for i in range(count)]


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1]) / 1024
    return out


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        "?",
    )  # fmt: skip
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return f"{os.cpu_count()} CPUs ({cpu}), {int(mem) / 1024 / 1024:.1f} GiB RAM, Linux {os.uname().release}"


def host_speed_ms() -> float:
    """CPU ms of a fixed pure-Python loop (best of 3): the host's speed today, beside the run's figures.

    The same idle machine ran the same code at 69 % of a core one hour and 97 % the hour before: without
    this figure two runs' CPU shares cannot be told apart from a change of the host.
    """
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        total = 0
        for n in range(2_000_000):
            total += n
        best = min(best, time.thread_time() - started)
    return best * 1000.0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def ns_get(ns: Netns, url: str) -> str:
    return ns.exec(["curl", "-sf", "--max-time", "60", url], timeout=90).stdout


def export(ns: Netns, match: str) -> list[dict[str, Any]]:
    ns_get(ns, f"http://127.0.0.1:{SINK_PORT}/internal/force_flush")
    body = ns.exec(
        ["curl", "-sf", "--max-time", "120", "-G", f"http://127.0.0.1:{SINK_PORT}/api/v1/export",
         "--data-urlencode", f"match[]={match}"],
        timeout=150,
    ).stdout  # fmt: skip
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def query_by_device(ns: Netns, promql: str) -> dict[str, int]:
    body = ns.exec(
        ["curl", "-sf", "--max-time", "120", "-G", f"http://127.0.0.1:{SINK_PORT}/api/v1/query",
         "--data-urlencode", f"query={promql}"],
        timeout=150,
    ).stdout  # fmt: skip
    result = json.loads(body)["data"]["result"]
    return {r["metric"].get("device", "?"): int(float(r["value"][1])) for r in result}


def summary_from_vm(ns: Netns) -> dict[str, Any]:
    """What netpoll wrote, read back from VictoriaMetrics, in the shape of bench/linesink.py's /summary."""
    snmp: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in export(ns, '{__name__="snmp_poll_ok"}'):
        snmp[row["metric"].get("device", "?")] += zip(row["timestamps"], row["values"], strict=True)
    pings: dict[str, int] = defaultdict(int)
    for row in export(ns, '{__name__="ping_packets_received"}'):
        pings[row["metric"].get("device", "?")] += len(row["timestamps"])
    lossy = {
        row["metric"].get("device", "?")
        for row in export(ns, '{__name__="ping_percent_packet_loss"}')
        if any(v != 0 for v in row["values"])
    }
    breaches: set[tuple[str, str, int]] = set()  # one point has two fields: count it once
    for row in export(ns, '{__name__=~"alert_(value|threshold)"}'):
        tags = row["metric"]
        if tags.get("state") == "breach":
            breaches.update((tags.get("device", "?"), tags.get("rule", "?"), t) for t in row["timestamps"])
    # Counted by VictoriaMetrics: exporting every interface series (21 per device) would cost gigabytes here.
    interfaces = query_by_device(ns, "count by (device) (last_over_time(interface_in_bps[1d]))")
    return {"snmp": snmp, "pings": pings, "lossy": sorted(lossy), "interfaces": interfaces,
            "breaches": sorted(breaches)}  # fmt: skip


def summary_from_sink(ns: Netns) -> dict[str, Any]:
    """What netpoll wrote, as bench/linesink.py counted it."""
    return json.loads(ns_get(ns, f"http://127.0.0.1:{SINK_PORT}/summary"))  # type: ignore[no-any-return]


def write_inventory(work: Path, addrs: list[str], community: str, interval: float) -> Path:
    (work / "community").write_text(community + "\n")
    (work / "community").chmod(0o600)
    lines = [
        "defaults:",
        f"  snmp: {{interval_s: {interval:g}, timeout_s: 5, retries: 1, credentials: bench, backend: auto,",
        "          interfaces: {exclude: {ifType: [softwareLoopback]}}}",
        f"  ping: {{interval_s: {interval:g}, count: 3, packet_interval_s: 1, timeout_s: 2}}",
        "  tags: {bench: scale}",
        "credentials:",
        "  bench: {version: 2c, community_file: community}",
        "devices:",
    ]
    lines += [f"  - {{name: dev{i:05d}, address: {a}}}" for i, a in enumerate(addrs)]
    path = work / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_config(work: Path, inventory: Path, snmp_slots: int) -> Path:
    path = work / "netpoll.yaml"
    path.write_text(
        f"inventories: [{inventory}]\n"
        f"data_dir: {work / 'data'}\nstate_dir: {work / 'state'}\n"
        "influxdb:\n"
        f"  url: http://127.0.0.1:{SINK_PORT}\n  bucket: bench\n  org: bench\n  gzip: true\n"
        f"scheduler: {{max_concurrent_snmp: {snmp_slots}, max_concurrent_icmp: 2048}}\n"
        f"http: {{listen: '127.0.0.1:{HTTP_PORT}'}}\n"
        "log: {level: WARNING}\n"
    )
    return path


class Sampler(threading.Thread):
    """Reads the daemon's console; on each cycle line records time, CPU, memory, fds and /healthz.

    With ``stop_at``, sends SIGTERM once that many cycle lines came, and records when.
    """

    def __init__(
        self,
        proc: subprocess.Popen[str],
        ns: Netns,
        stop_at: int | None,
        neighbours: dict[str, list[int]],
    ) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.neighbours = neighbours  # "snmpd" / "sink" -> PIDs, whose CPU is sampled too
        self.ns = ns
        self.stop_at = stop_at
        self.sigterm_at: float | None = None
        self.cycles: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self.started = time.monotonic()

    def healthz(self) -> str:
        result = self.ns.exec(
            ["curl", "-s", "--max-time", "5", f"http://127.0.0.1:{HTTP_PORT}/healthz"],
            check=False,
            timeout=10,
        )
        return " ".join(result.stdout.split())[:160] or f"(no answer, curl exit {result.returncode})"

    def neighbours_cpu_s(self) -> dict[str, float]:
        """CPU seconds so far of the processes beside netpoll (gone ones count 0)."""
        out = {}
        for name, pids in self.neighbours.items():
            total = 0.0
            for pid in pids:
                with contextlib.suppress(OSError):
                    total += proc_cpu_s(pid)
            out[name] = total
        return out

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            match = CYCLE_RE.search(line)
            if not match:
                continue
            with contextlib.suppress(OSError, IndexError, subprocess.SubprocessError):
                numbers = [int(g) for g in match.groups()]
                cycle = {
                    "cycle": numbers[0], "devices": numbers[1], "ok": numbers[2], "failed": numbers[3],
                    "skipped": numbers[4], "late": numbers[5], "points": numbers[6], "lag_ms": numbers[7],
                    "written": numbers[8], "at": time.monotonic(), "cpu_s": proc_cpu_s(self.proc.pid),
                    **proc_mem_mib(self.proc.pid), "fds": proc_fds(self.proc.pid), "load": loadavg(),
                    "neighbours_cpu_s": self.neighbours_cpu_s(),
                }  # fmt: skip
                for key, regex in (
                    ("overloaded", OVERLOAD_RE),
                    ("lag_p99_ms", LAG_P99_RE),
                    ("loop_p99_ms", LOOP_LAG_RE),
                ):
                    found = regex.search(line)
                    cycle[key] = int(found.group(1)) if found else None
                self.cycles.append(cycle)
                if self.stop_at is not None and len(self.cycles) >= self.stop_at and self.sigterm_at is None:
                    self.sigterm_at = time.monotonic()
                    self.proc.send_signal(signal.SIGTERM)
                cycle["healthz"] = self.healthz()


def rounds(summary: dict[str, Any], cycles: int) -> list[dict[str, Any]]:
    """Per round n (every device's n-th SNMP poll): devices covered and the span first..last poll."""
    per_device = [sorted(map(tuple, points)) for points in summary["snmp"].values()]
    result = []
    for n in range(cycles):
        stamps = [points[n] for points in per_device if len(points) > n]
        ok = sum(1 for _, value in stamps if value == 1)
        span = (max(t for t, _ in stamps) - min(t for t, _ in stamps)) / 1000 if stamps else 0.0
        result.append({"round": n + 1, "snmp_polled": len(stamps), "snmp_ok": ok, "span_s": span})
    interfaces = summary["interfaces"].values()
    result.append(
        {
            "ping_devices": len(summary["pings"]),
            "ping_min_per_device": min(summary["pings"].values(), default=0),
            "interfaces_min": min(interfaces, default=0),
            "interface_series": sum(interfaces),
        }
    )
    return result


def alerts(summary: dict[str, Any]) -> dict[str, Any]:
    """Device alerts (breaches of rules other than poller_overloaded) and the false ones among them.

    False: a breach on a device whose every SNMP poll was ok and every ping answered (no loss).
    """
    breaches: dict[tuple[str, str], int] = defaultdict(int)
    overloaded = 0
    for device, rule, _ in summary["breaches"]:
        if rule == "poller_overloaded":
            overloaded += 1
        else:
            breaches[device, rule] += 1
    failed = set(summary["lossy"])
    failed.update(device for device, points in summary["snmp"].items() if any(v != 1 for _, v in points))
    false = {k: n for k, n in breaches.items() if k[0] not in failed}
    rules: dict[str, int] = defaultdict(int)
    for (_, rule), n in false.items():
        rules[rule] += n
    return {
        "device_alerts": sum(breaches.values()),
        "false_alerts": sum(false.values()),
        "false_by_rule": dict(rules),
        "devices_failing": len(failed),
        "poller_overloaded": overloaded,
    }


def sink_argv(args: argparse.Namespace, work: Path) -> list[str]:
    if args.sink == "count":
        return [sys.executable, str(REPO / "bench" / "linesink.py"), "--listen", f"127.0.0.1:{SINK_PORT}"]
    return ["victoria-metrics", f"-storageDataPath={work / 'vm'}", f"-httpListenAddr=127.0.0.1:{SINK_PORT}",
            "-loggerLevel=ERROR", "-search.latencyOffset=0s"]  # fmt: skip


def netpoll_argv(args: argparse.Namespace, config: Path) -> list[str]:
    argv = [sys.executable, "-m", "netpoll", "run", "--config", str(config)]
    if not args.sigterm:
        argv += ["--cycles", str(args.cycles)]
    if args.profile:
        argv[1:3] = ["-c", PROFILED, str(Path(args.profile).resolve())]
    elif args.tracemalloc:
        argv[1:3] = ["-c", TRACED, str(Path(args.tracemalloc).resolve())]
    return argv


def print_log_tail(log: Path, lines: int = 15) -> None:
    """The daemon's last log lines (warnings and up): how its shutdown went."""
    for line in log.read_text(errors="replace").splitlines()[-lines:]:
        print(f"  log: {line[:200]}")


def netpoll_process_setup(soft: int, hard: int, pin: bool) -> None:
    """In netpoll's child before exec: the usual descriptor limit, and CPU 0 alone when pinned."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if pin:
        os.sched_setaffinity(0, {0})


def wait_for(proc: subprocess.Popen[str], sampler: Sampler, args: argparse.Namespace, log: Path) -> int:
    """netpoll's exit code; SIGTERM (then SIGKILL) if it runs far past its cycles."""
    timeout = (args.cycles + 3) * args.interval + 120
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"netpoll did not finish {args.cycles} cycles within {timeout:.0f} s: stopping it (SIGTERM)")
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=60) or 1
    except subprocess.TimeoutExpired:
        print("netpoll still running 60 s after SIGTERM: killed", file=sys.stderr)
        proc.kill()
        code = proc.wait(timeout=10) or 1
    print("\n".join(sampler.lines[-10:]), file=sys.stderr)
    print(log.read_text()[-3000:], file=sys.stderr)
    return code


def print_alerts(alerts: dict[str, Any]) -> None:
    print(
        f"alerts: {alerts['device_alerts']} device alert breaches, {alerts['false_alerts']} false (on "
        f"devices that answered every poll and ping; by rule: {alerts['false_by_rule'] or 'none'}); "
        f"{alerts['devices_failing']} devices with a failed poll or lost ping; "
        f"poller_overloaded breaches: {alerts['poller_overloaded']}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument(
        "--per-agent",
        type=int,
        default=PER_AGENT,
        help=f"addresses per snmpd process (default {PER_AGENT}; snmpd scans every socket per request)",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="netpoll on CPU 0 alone, the rest on the other CPUs (default: on with two or more CPUs)",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="run netpoll under cProfile (main thread CPU time), stats to FILE"
    )
    parser.add_argument(
        "--tracemalloc",
        metavar="FILE",
        help="run netpoll under tracemalloc; a snapshot every 20 s to FILE (the last one taken stays)",
    )
    parser.add_argument(
        "--snmp-slots",
        type=int,
        default=2048,
        help="scheduler.max_concurrent_snmp (default 2048): SNMP polls in flight; a poll waiting for a slot "
        "starts late. Needed: polls per second x seconds per poll. The fleet shares one core: during the "
        "first polls it is saturated and answers slowly, and at 20,000 devices 512 slots left 8,000-10,000 "
        "polls a cycle late in cycles 1-2",
    )
    parser.add_argument(
        "--sink",
        choices=("count", "vm"),
        default="count",
        help="where netpoll writes: count (bench/linesink.py, a write endpoint that only counts; default) or "
        "vm (VictoriaMetrics: ~20 µs of its CPU per new series, 4 µs per row, 618 series per device)",
    )
    parser.add_argument(
        "--sigterm",
        action="store_true",
        help="end netpoll with SIGTERM at its last cycle line; time the exit",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if os.geteuid() != 0:
        print("bench/scale.py needs root (network namespace, snmpd on 5,000 addresses)", file=sys.stderr)
        return 2

    # snmpd holds 1,000 sockets per process; netpoll needs no raised limit (it is checked, not raised).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(
        f"machine: {machine()}; load average {loadavg()}; RLIMIT_NOFILE {soft} (raised to {hard} for snmpd);"
        f" host speed: 2M Python additions in {host_speed_ms():.0f} ms of CPU"
    )
    args.pin = args.pin if args.pin is not None else (os.cpu_count() or 1) >= 2
    rest = set(range(1, os.cpu_count() or 1))
    if args.pin:
        print(f"netpoll pinned to CPU 0; the agents, the sink and the bench to CPUs {sorted(rest)}")
    work = Path(tempfile.mkdtemp(prefix="netpoll-scale-"))
    ns: Netns | None = None
    agents: list[SnmpdAgent] = []
    started: list[subprocess.Popen[Any]] = []
    try:
        t0 = time.monotonic()
        ns = create_netns("npscale")
        batch = [f"link add vb{i}a type veth peer name vb{i}b" for i in range(VETH_PAIRS)]
        batch += [f"link set vb{i}{end} up" for i in range(VETH_PAIRS) for end in "ab"]
        subprocess.run(
            ["ip", "-n", ns.name, "-batch", "-"], input="\n".join(batch) + "\n", text=True, check=True
        )
        addrs = addresses(args.devices)
        # Several snmpd processes of at most PER_AGENT addresses each: one snmpd select()s over all its
        # sockets for every request, so one process on 5,000 sockets would be the bottleneck, not netpoll.
        community = f"bench-{secrets.token_hex(4)}"
        for k in range(0, len(addrs), args.per_agent):
            agents.append(
                start_snmpd(
                    work / f"snmpd{k // args.per_agent}",
                    addresses=addrs[k : k + args.per_agent],
                    netns=ns,
                    port=161,
                    extra_config=f"rocommunity {community} default\n{HEALTHY_CPU}",
                )
            )
        print(
            f"namespace {ns.name}: {len(agents)} snmpd ({args.per_agent} addresses each, pids "
            f"{agents[0].pid}..{agents[-1].pid}) on {len(addrs)} addresses ({time.monotonic() - t0:.0f} s)"
        )
        sink = ns.popen(sink_argv(args, work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(sink)
        if args.pin:
            for pid in [os.getpid(), sink.pid, *(a.pid for a in agents)]:
                os.sched_setaffinity(pid, rest)
        for _ in range(60):
            if ns.exec(["curl", "-sf", f"http://127.0.0.1:{SINK_PORT}/ping"], check=False).returncode == 0:
                break
            time.sleep(0.5)
        config = write_config(work, write_inventory(work, addrs, community, args.interval), args.snmp_slots)
        proc = ns.popen(
            netpoll_argv(args, config),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=open(work / "netpoll.log", "w"),  # noqa: SIM115 - closed with the process
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")},
            preexec_fn=lambda: netpoll_process_setup(soft, hard, args.pin),
        )
        started.append(proc)
        neighbours = {"snmpd": [a.pid for a in agents], "sink": [sink.pid]}
        sampler = Sampler(proc, ns, args.cycles if args.sigterm else None, neighbours)
        sampler.start()
        run_start = time.monotonic()
        code = wait_for(proc, sampler, args, work / "netpoll.log")
        exited = time.monotonic()
        sampler.join(timeout=10)
        elapsed = exited - run_start
        total_cpu = sampler.cycles[-1]["cpu_s"] if sampler.cycles else 0.0
        print(f"netpoll exited {code} after {elapsed:.0f} s; CPU {total_cpu:.1f} s; load average {loadavg()}")
        if sampler.sigterm_at is not None:
            took = exited - sampler.sigterm_at
            print(f"SIGTERM at the cycle {len(sampler.cycles)} line: netpoll exited {took:.1f} s later")
            print_log_tail(work / "netpoll.log")
        summary = summary_from_sink(ns) if args.sink == "count" else summary_from_vm(ns)
        report(sampler, rounds(summary, args.cycles), args, elapsed)
        print_alerts(alerts(summary))
        if code != 0:
            print((work / "netpoll.log").read_text()[-3000:], file=sys.stderr)
        return code
    finally:
        for p in reversed(started):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
        for agent in agents:
            agent.stop()
        if ns is not None:
            ns.remove()
        subprocess.run(["rm", "-rf", str(work)], check=False)


def report(sampler: Sampler, rounds: list[dict[str, Any]], args: argparse.Namespace, elapsed: float) -> None:
    def opt(value: int | None) -> str:
        return "n/a" if value is None else f"{value:,}"

    print()
    print(
        "| cycle | polls ok | failed | overloaded | late | skipped | CPU s | CPU % of a core | RSS MiB "
        "| peak MiB | fds | poll lag p99 ms | loop lag p99 ms | points/s | load avg | snmpd % | sink % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    prev_at, prev_cpu = sampler.started, 0.0
    prev_beside: dict[str, float] = {}
    for c in sampler.cycles:
        dt = max(c["at"] - prev_at, 1e-9)
        cpu = c["cpu_s"] - prev_cpu
        beside = {
            name: 100 * (s - prev_beside.get(name, 0.0)) / dt for name, s in c["neighbours_cpu_s"].items()
        }
        print(
            f"| {c['cycle']} | {c['ok']:,} | {c['failed']:,} | {opt(c['overloaded'])} | {c['late']:,} | "
            f"{c['skipped']:,} | {cpu:.1f} | {100 * cpu / dt:.0f} % | {c.get('VmRSS', 0):.0f} | "
            f"{c.get('VmHWM', 0):.0f} | {c['fds']:,} | {opt(c['lag_p99_ms'])} | {opt(c['loop_p99_ms'])} | "
            f"{c['written'] / dt:.0f} | {c['load']} | {beside.get('snmpd', 0):.0f} % | "
            f"{beside.get('sink', 0):.0f} % |"
        )
        prev_at, prev_cpu, prev_beside = c["at"], c["cpu_s"], c["neighbours_cpu_s"]
    print()
    for c in sampler.cycles:
        print(f"cycle {c['cycle']} /healthz: {c.get('healthz', '(not read)')}")
    print()
    print("| round (n-th poll of every device) | devices polled | ok | completion span s |")
    print("|---|---|---|---|")
    for r in rounds[:-1]:
        print(f"| {r['round']} | {r['snmp_polled']} / {args.devices} | {r['snmp_ok']} | {r['span_s']:.1f} |")
    ping = rounds[-1]
    print()
    print(
        f"ping: {ping['ping_devices']} / {args.devices} devices, "
        f"at least {ping['ping_min_per_device']} probes each"
    )
    print(
        f"interfaces with rates: {ping['interface_series']} series, "
        f"at least {ping['interfaces_min']} per device"
    )
    total_cpu = sampler.cycles[-1]["cpu_s"] if sampler.cycles else 0.0
    print(f"average CPU over the run: {100 * total_cpu / max(elapsed, 1e-9):.0f} % of one core")


if __name__ == "__main__":
    sys.exit(main())
