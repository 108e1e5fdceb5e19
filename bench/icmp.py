"""ICMP bench: netpoll's IcmpProber against fping on the same loopback targets, in the same run.

For each size (default 1,000 and 5,000 addresses of 127.1.0.0/16), count 3:
- netpoll: every target probed at once in this process (interval 1 s, timeout 1 s); wall time and process CPU
  (user + system, getrusage(RUSAGE_SELF)) around the probing only;
- fping: ``fping -C 3 -i 1 -q`` on the same targets; wall time and CPU of the child (RUSAGE_CHILDREN).
Prints a Markdown table (the README's figures) and checks the acceptance: no reply lost, netpoll's CPU per
echo at or below fping's, RTT median below 1 ms with all targets in flight. Exit 1 if a check fails.

Run as root (raw socket) or with net.ipv4.ping_group_range covering your group: ``python bench/icmp.py``.
Traffic goes to 127.1.0.0/16 only.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netpoll.inputs.icmp import IcmpProber

COUNT = 3
NETWORK = ipaddress.ip_network("127.1.0.0/16")


@dataclass
class Run:
    tool: str
    targets: int
    echoes: int
    replies: int
    wall_s: float
    cpu_s: float
    rtt_median_ms: float
    rtt_p99_ms: float
    first_round_median_ms: float | None = None  # netpoll: the echo sent while every target is in flight

    @property
    def cpu_per_echo_us(self) -> float:
        return self.cpu_s / self.echoes * 1e6


def targets(n: int) -> list[str]:
    hosts = NETWORK.hosts()
    return [str(next(hosts)) for _ in range(n)]


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def run_netpoll(addresses: list[str], mode: str) -> tuple[Run, str]:
    async with IcmpProber(mode=mode) as prober:  # type: ignore[arg-type]
        kind = prober.socket_kinds["IPv4"]
        cpu0, wall0 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
        results = await asyncio.gather(
            *(prober.probe_stats(a, count=COUNT, interval=1.0, timeout=1.0) for a in addresses)
        )
        wall, cpu = time.perf_counter() - wall0, _cpu(resource.RUSAGE_SELF) - cpu0
    rtts = [rtt for result in results for rtt in result.rtts_ms]
    first = [result.rtts_ms[0] for result in results if result.stats.received == COUNT]
    run = Run(
        tool=f"netpoll ({kind} socket)",
        targets=len(addresses),
        echoes=sum(result.stats.transmitted for result in results),
        replies=len(rtts),
        wall_s=wall,
        cpu_s=cpu,
        rtt_median_ms=statistics.median(rtts) if rtts else float("nan"),
        rtt_p99_ms=_p99(rtts) if rtts else float("nan"),
        first_round_median_ms=statistics.median(first) if first else None,
    )
    return run, kind


def run_fping(addresses: list[str], fping: str) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(addresses) + "\n")
        listing.flush()
        cpu0, wall0 = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
        done = subprocess.run(
            [fping, "-C", str(COUNT), "-i", "1", "-q", "-f", listing.name],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        wall, cpu = time.perf_counter() - wall0, _cpu(resource.RUSAGE_CHILDREN) - cpu0
    rtts: list[float] = []
    echoes = 0
    for line in done.stderr.splitlines():  # "127.1.0.1 : 0.05 0.03 -"
        if " : " not in line:
            continue
        for value in line.split(" : ", 1)[1].split():
            echoes += 1
            if value != "-":
                rtts.append(float(value))
    return Run(
        tool="fping -C 3 -i 1",
        targets=len(addresses),
        echoes=echoes,
        replies=len(rtts),
        wall_s=wall,
        cpu_s=cpu,
        rtt_median_ms=statistics.median(rtts) if rtts else float("nan"),
        rtt_p99_ms=_p99(rtts) if rtts else float("nan"),
    )


def table(runs: list[Run]) -> str:
    rows = [
        "| targets x 3 | tool | wall s | CPU s | CPU µs/echo | replies/echoes | RTT median ms | RTT p99 ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        rows.append(
            f"| {run.targets:,} | {run.tool} | {run.wall_s:.2f} | {run.cpu_s:.3f} "
            f"| {run.cpu_per_echo_us:.1f} "
            f"| {run.replies:,}/{run.echoes:,} | {run.rtt_median_ms:.3f} | {run.rtt_p99_ms:.3f} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--mode", choices=("auto", "dgram", "raw"), default="auto")
    parser.add_argument("--json", action="store_true", help="also print the runs as JSON")
    args = parser.parse_args()
    if max(args.sizes) > NETWORK.num_addresses - 2:
        parser.error(f"at most {NETWORK.num_addresses - 2} targets")
    fping = shutil.which("fping")
    started = time.perf_counter()
    runs: list[Run] = []
    failures: list[str] = []
    for size in args.sizes:
        addresses = targets(size)
        ours, _kind = asyncio.run(run_netpoll(addresses, args.mode))
        runs.append(ours)
        if ours.replies != ours.echoes:
            failures.append(f"{size}: netpoll lost {ours.echoes - ours.replies} of {ours.echoes} replies")
        if not ours.rtt_median_ms < 1.0:
            failures.append(f"{size}: netpoll RTT median {ours.rtt_median_ms:.3f} ms is not below 1 ms")
        if fping is None:
            print("fping not installed (Debian package fping): no comparison", file=sys.stderr)
            continue
        theirs = run_fping(addresses, fping)
        runs.append(theirs)
        ratio = ours.cpu_per_echo_us / theirs.cpu_per_echo_us
        print(
            f"{size:>6} targets: netpoll {ours.cpu_per_echo_us:.1f} µs/echo, "
            f"fping {theirs.cpu_per_echo_us:.1f} µs/echo, ratio {ratio:.2f}; "
            f"wall {ours.wall_s:.2f} s vs {theirs.wall_s:.2f} s; "
            f"first-round RTT median {ours.first_round_median_ms} ms",
            file=sys.stderr,
        )
        if ratio > 1.0:
            failures.append(f"{size}: netpoll CPU per echo is {ratio:.2f}x fping's")
    total = time.perf_counter() - started
    print(table(runs))
    print(f"\ntotal bench time {total:.1f} s")
    if args.json:
        print(json.dumps([asdict(run) | {"cpu_per_echo_us": run.cpu_per_echo_us} for run in runs], indent=2))
    if total > 120:
        failures.append(f"bench took {total:.0f} s (limit 120 s)")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
