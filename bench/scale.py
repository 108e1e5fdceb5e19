"""Scale bench: `netpoll run` polling and pinging 5,000 devices at a 60 s interval into VictoriaMetrics.

Inside a network namespace it creates (root needed), net-snmp snmpd (one process per 1,000 addresses)
answers SNMP v2c on 5,000 loopback addresses (127.2.x.y; the namespace has its own loopback, so nothing
leaves it), and 10 veth pairs with both ends in the namespace give every "device" an ifTable of 21
interfaces (lo + 20 veth). VictoriaMetrics runs in the namespace too. netpoll runs there with a generated
inventory (every device polled over SNMP and pinged) for ``--cycles`` cycles, writing through the InfluxDB
v2 write API.

Reported per cycle (a cycle = the daemon's own 60 s tick, printed on its console line):
completion (span from the first to the last SNMP poll of that round, every device's n-th poll, read back
from VictoriaMetrics), polls ok/failed, late (started over 1 s after due) and skipped, netpoll CPU seconds and
share of one core, peak memory (VmHWM), points written per second; and whether every device was polled every
cycle. Run: ``.venv/bin/python bench/scale.py [--devices 5000] [--interval 60] [--cycles 3]``; takes about
``(cycles + 1) x interval``. Everything it starts is stopped by PID and the namespace removed, also on
failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
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
PER_AGENT = 1000
VM_PORT = 8428
CYCLE_RE = re.compile(
    r"cycle (\d+): (\d+) devices, (\d+) ok, (\d+) failed, (\d+) skipped, (\d+) late, (\d+) points, "
    r"lag max (\d+) ms, written (\d+)"
)


def addresses(count: int) -> list[str]:
    return [f"127.2.{i // 250}.{i % 250 + 1}" for i in range(count)]


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ns_get(ns: Netns, url: str) -> str:
    return ns.exec(["curl", "-sf", "--max-time", "60", url], timeout=90).stdout


def export(ns: Netns, match: str) -> list[dict[str, Any]]:
    ns_get(ns, f"http://127.0.0.1:{VM_PORT}/internal/force_flush")
    body = ns.exec(
        ["curl", "-sf", "--max-time", "120", "-G", f"http://127.0.0.1:{VM_PORT}/api/v1/export",
         "--data-urlencode", f"match[]={match}"],
        timeout=150,
    ).stdout  # fmt: skip
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def write_inventory(work: Path, addrs: list[str], community: str, interval: float) -> Path:
    (work / "community").write_text(community + "\n")
    (work / "community").chmod(0o600)
    lines = [
        "defaults:",
        f"  snmp: {{interval_s: {interval:g}, timeout_s: 5, retries: 1, credentials: bench, backend: auto}}",
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


def write_config(work: Path, inventory: Path) -> Path:
    path = work / "netpoll.yaml"
    path.write_text(
        f"inventories: [{inventory}]\n"
        f"data_dir: {work / 'data'}\nstate_dir: {work / 'state'}\n"
        "influxdb:\n"
        f"  url: http://127.0.0.1:{VM_PORT}\n  bucket: bench\n  org: bench\n  gzip: true\n"
        "scheduler: {max_concurrent_snmp: 512, max_concurrent_icmp: 2048}\n"
        "log: {level: WARNING}\n"
    )
    return path


class Sampler(threading.Thread):
    """Reads the daemon's console; on each cycle line records time, CPU and peak memory."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.cycles: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self.start_cpu = 0.0
        self.started = time.monotonic()

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            match = CYCLE_RE.search(line)
            if not match:
                continue
            with contextlib.suppress(OSError, IndexError):
                numbers = [int(g) for g in match.groups()]
                self.cycles.append(
                    {
                        "cycle": numbers[0], "devices": numbers[1], "ok": numbers[2], "failed": numbers[3],
                        "skipped": numbers[4], "late": numbers[5], "points": numbers[6], "lag_ms": numbers[7],
                        "written": numbers[8], "at": time.monotonic(), "cpu_s": proc_cpu_s(self.proc.pid),
                        "hwm_mib": proc_hwm_mib(self.proc.pid),
                    }
                )  # fmt: skip


def rounds_from_vm(ns: Netns, devices: int, cycles: int) -> list[dict[str, Any]]:
    """Per round n (every device's n-th SNMP poll): devices covered and the span first..last poll."""
    rows = export(ns, '{__name__="snmp_poll_ok"}')
    per_device: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        per_device[row["metric"].get("device", "?")] += list(
            zip(row["timestamps"], row["values"], strict=True)
        )
    ping_rows = export(ns, '{__name__="ping_packets_received"}')
    ping_counts = defaultdict(int)
    for row in ping_rows:
        ping_counts[row["metric"].get("device", "?")] += len(row["timestamps"])
    result = []
    for n in range(cycles):
        stamps = [sorted(points)[n] for points in per_device.values() if len(points) > n]
        ok = sum(1 for points in per_device.values() if len(points) > n and sorted(points)[n][1] == 1)
        span = (max(t for t, _ in stamps) - min(t for t, _ in stamps)) / 1000 if stamps else 0.0
        result.append({"round": n + 1, "snmp_polled": len(stamps), "snmp_ok": ok, "span_s": span})
    interfaces: dict[str, int] = defaultdict(int)
    for row in export(ns, '{__name__="interface_in_bps"}'):
        interfaces[row["metric"].get("device", "?")] += 1
    result.append(
        {
            "ping_devices": len(ping_counts),
            "ping_min_per_device": min(ping_counts.values(), default=0),
            "interfaces_min": min(interfaces.values(), default=0),
            "interface_series": sum(interfaces.values()),
        }
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--profile", metavar="FILE", help="run netpoll under cProfile, stats to FILE")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/scale.py needs root (network namespace, snmpd on 5,000 addresses)", file=sys.stderr)
        return 2

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
        for k in range(0, len(addrs), PER_AGENT):
            agents.append(
                start_snmpd(
                    work / f"snmpd{k // PER_AGENT}",
                    addresses=addrs[k : k + PER_AGENT],
                    netns=ns,
                    port=161,
                    extra_config=f"rocommunity {community} default",
                )
            )
        print(
            f"namespace {ns.name}: {len(agents)} snmpd (pids {', '.join(str(a.pid) for a in agents)}) on "
            f"{len(addrs)} addresses ({time.monotonic() - t0:.0f} s)"
        )
        vm = ns.popen(
            ["victoria-metrics", f"-storageDataPath={work / 'vm'}", f"-httpListenAddr=127.0.0.1:{VM_PORT}",
             "-loggerLevel=ERROR"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(vm)
        for _ in range(60):
            if ns.exec(["curl", "-sf", f"http://127.0.0.1:{VM_PORT}/health"], check=False).returncode == 0:
                break
            time.sleep(0.5)
        config = write_config(work, write_inventory(work, addrs, community, args.interval))
        argv = [sys.executable, "-m", "netpoll", "run", "--config", str(config), "--cycles", str(args.cycles)]
        if args.profile:
            argv[1:1] = ["-m", "cProfile", "-o", str(Path(args.profile).resolve())]
        proc = ns.popen(
            argv,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=open(work / "netpoll.log", "w"),  # noqa: SIM115 - closed with the process
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")},
            preexec_fn=lambda: _raise_nofile(args.devices * 2 + 4096),
        )
        started.append(proc)
        sampler = Sampler(proc)
        sampler.start()
        run_start = time.monotonic()
        timeout = (args.cycles + 3) * args.interval + 120
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(
                f"netpoll did not finish {args.cycles} cycles within {timeout:.0f} s: stopping it (SIGTERM)"
            )
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            code = code or 1
        sampler.join(timeout=10)
        elapsed = time.monotonic() - run_start
        total_cpu = sampler.cycles[-1]["cpu_s"] if sampler.cycles else 0.0
        print(f"netpoll exited {code} after {elapsed:.0f} s; CPU {total_cpu:.1f} s")
        report(sampler, rounds_from_vm(ns, args.devices, args.cycles), args, elapsed)
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


def _raise_nofile(n: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def report(sampler: Sampler, rounds: list[dict[str, Any]], args: argparse.Namespace, elapsed: float) -> None:
    print()
    print("| cycle | polls ok | failed | late | skipped | CPU s | CPU % of a core | peak MiB | points/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    prev_at, prev_cpu = sampler.started, 0.0
    for c in sampler.cycles:
        dt = max(c["at"] - prev_at, 1e-9)
        cpu = c["cpu_s"] - prev_cpu
        print(
            f"| {c['cycle']} | {c['ok']} | {c['failed']} | {c['late']} | {c['skipped']} | {cpu:.1f} | "
            f"{100 * cpu / dt:.0f} % | {c['hwm_mib']:.0f} | {c['written'] / dt:.0f} |"
        )
        prev_at, prev_cpu = c["at"], c["cpu_s"]
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
