"""SNMP sessions bench: what a device costs in sockets, CPU and memory under each way of holding its session.

One net-snmp snmpd answers SNMP v2c on ``--devices`` loopback addresses (127.3.x.y); every contender polls
every device ``--rounds`` times with ``SnmpPoller`` (the shipped profiles: scalars, walks, rates, records),
each round spread evenly over ``--spread`` seconds as the daemon's hashed phases spread a device's polls over
its interval (at most 256 at once, the scheduler's bound). Each contender runs in a fresh process of its own,
so memory figures are its own:

- ``gufo, session for life``: the gufo backend keeping every device's session (one connected UDP socket) open
  until the pool closes (``session_idle_s=None``; netpoll before issue 17);
- ``gufo, session while polling``: the default, a session closed after a second without a request
  (``IdleSessions``) and opened again by the next poll;
- ``pysnmp, shared sockets``: the pysnmp backend, every device on two engines (one UDP socket each) with
  request-id demultiplexing by pysnmp.

Reported: sockets open at most while polling and after the last round, CPU µs per poll over the steady-state
rounds (the first, with profile pick and label reads, is a warm-up), and RSS growth from before the pool to
the end, per device. Run: ``.venv/bin/python bench/snmp_sessions.py [--devices 1000] [--rounds 3]
[--pysnmp]``; 127/8 only; about ``3 x (rounds + 1) x spread`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netpoll.inputs.snmp.client import SnmpClientPool  # noqa: E402
from netpoll.inputs.snmp.poller import SnmpPoller  # noqa: E402
from netpoll.inputs.snmp.profiles import load_profiles  # noqa: E402
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings  # noqa: E402
from netpoll.probe import Budget  # noqa: E402
from tests.harness.process import open_sockets  # noqa: E402
from tests.harness.snmpd import start_snmpd  # noqa: E402

CONTENDERS = {
    "gufo-life": ("gufo, session for life", "gufo", None),
    "gufo-idle": ("gufo, session while polling", "gufo", 1.0),
    "pysnmp": ("pysnmp, shared sockets", "pysnmp", None),
}
CONCURRENCY = 256


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def poll_fleet(
    key: str, targets: list[tuple[str, int, str]], rounds: int, spread: float
) -> dict[str, Any]:
    _, backend, idle = CONTENDERS[key]
    devices = [
        Device(
            name=f"dev{i:05d}",
            address=host,
            snmp=SnmpSettings(
                credentials=CommunityCredentials(profile="bench", version="2c", community=community),
                port=port,
                timeout_s=5.0,
                retries=1,
            ),
        )
        for i, (host, port, community) in enumerate(targets)
    ]
    profiles = load_profiles()
    sockets0, rss0 = open_sockets(), rss_kib()
    peak = 0
    slots = asyncio.Semaphore(CONCURRENCY)

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, open_sockets() - sockets0)
            await asyncio.sleep(0.05)

    async with SnmpClientPool(backend=backend, session_idle_s=idle) as pool:  # type: ignore[arg-type]
        poller = SnmpPoller(pool, profiles)

        async def one(device: Device, delay: float) -> bool:
            await asyncio.sleep(delay)
            async with slots:
                return (await poller.run(device, Budget.start(30))).ok

        watcher = asyncio.create_task(watch())
        failed = 0
        cpu = 0.0
        step = spread / len(devices)
        for n in range(rounds + 1):
            cpu0 = time.process_time()
            failed += sum(
                not ok for ok in await asyncio.gather(*(one(d, i * step) for i, d in enumerate(devices)))
            )
            if n:  # round 0 is the warm-up (profile pick, labels)
                cpu += time.process_time() - cpu0
            else:
                peak = 0
        await asyncio.sleep(2.5)  # the idle sweep's second, twice
        watcher.cancel()
        idle_sockets = open_sockets() - sockets0
        rss = rss_kib() - rss0
    return {
        "key": key,
        "polls": len(devices) * rounds,
        "failed": failed,
        "cpu_us_per_poll": cpu / (len(devices) * rounds) * 1e6,
        "peak_sockets": peak,
        "idle_sockets": idle_sockets,
        "rss_bytes_per_device": rss * 1024 / len(devices),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spread", type=float, default=5.0, help="seconds each round is spread over")
    parser.add_argument("--pysnmp", action="store_true", help="also measure the pysnmp backend (slow)")
    parser.add_argument("--one", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--targets", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        targets = [tuple(t) for t in json.loads(Path(args.targets).read_text())]
        print(json.dumps(asyncio.run(poll_fleet(args.one, targets, args.rounds, args.spread))))  # type: ignore[arg-type]
        return 0
    with tempfile.TemporaryDirectory(prefix="netpoll-sessions-") as tmp:
        work = Path(tmp)
        addrs = [f"127.3.{i // 250}.{i % 250 + 1}" for i in range(args.devices)]
        agent = start_snmpd(work / "snmpd", addrs)
        try:
            (work / "targets.json").write_text(
                json.dumps([[host, port, agent.community] for host, port in agent.addresses])
            )
            results = []
            for key in [k for k in CONTENDERS if args.pysnmp or k != "pysnmp"]:
                out = subprocess.run(
                    [sys.executable, __file__, "--one", key, "--targets", str(work / "targets.json"),
                     "--rounds", str(args.rounds), "--spread", str(args.spread)],
                    capture_output=True, text=True, check=True, timeout=600,
                ).stdout  # fmt: skip
                results.append(json.loads(out.splitlines()[-1]))
        finally:
            agent.stop()
    print(
        f"{args.devices} devices (snmpd on 127.3/16), {args.rounds} rounds after a warm-up, each spread over "
        f"{args.spread:g} s, at most {CONCURRENCY} at once"
    )
    print("| sessions | polls | failed | sockets while polling (peak) | after | CPU µs/poll | RSS B/device |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {CONTENDERS[r['key']][0]} | {r['polls']:,} | {r['failed']} | {r['peak_sockets']:,} | "
            f"{r['idle_sockets']:,} | {r['cpu_us_per_poll']:.0f} | {r['rss_bytes_per_device']:,.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
