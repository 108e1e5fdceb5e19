"""Trap benches: decoding throughput per core against net-snmp's snmptrapd, and a flood beside the poller.

``throughput``: a Python sender on loopback sends the same paced stream of SNMPv2c traps (linkDown with
ifIndex, ifAdminStatus and ifOperStatus, 64 variants of request-id and ifIndex) to each receiver in turn, in
the same run:

- ``netpoll``: ``TrapReceiver`` in a process of its own, with an inventory device for the sender (so the
  source and community are matched as in the daemon), per-source rate limit off, every accepted trap made into
  its ``trap`` record (``Trap.to_sample()``); CPU = that process's CPU from ready to the last trap;
- ``snmptrapd``: net-snmp's (Debian package snmptrapd), ``authCommunity log`` for the community, one log line
  per trap (``format2``), no name resolution, no MIBs; CPU from /proc/PID/stat over the same span.

Printed: traps sent, decoded (netpoll) or logged (snmptrapd), CPU seconds, traps per CPU second, and the ratio
netpoll / snmptrapd. Pace the stream (``--rate``) at what both keep up with, so both do the same work.

``decode``: the decoders alone, in this process: CPU microseconds per message for ``decode`` (the BER fast
path) and ``decode_pysnmp`` (pysnmp alone) on the throughput stream's linkDown, a v1 linkDown and a v2c trap
with every value type (net-snmp 5.9.3's encodings, from the unit tests).

``flood``: 10,000 traps/s for 10 s while 1,000 devices are polled (root: a network namespace). In a
namespace it creates, one net-snmp snmpd answers SNMP v2c on 1,000 loopback addresses (127.2.x.y); the
netpoll daemon (``Daemon``, the same object ``netpoll run`` runs, shipped alert rules, line-protocol files)
polls them every ``--interval`` seconds, and a ``TrapReceiver`` runs in the same process and event loop,
its traps made into ``trap`` records and handed to the daemon's pipeline (``Daemon.emit``). Once the daemon
has done a whole cycle, a sender process floods the receiver from ``--sources`` of the polled devices'
addresses (with their community, so every trap is from a known device) at ``--rate`` for ``--seconds``.
Printed per cycle: polls ok / failed / late / skipped (the daemon's own ``netpoll`` records); the receiver's
counters (received, accepted, rate-limited and queue drops); RSS before and after the flood and the peak.

Run: ``.venv/bin/python bench/traps.py throughput [--traps 10000] [--rate 1000]`` (about 30 s);
``.venv/bin/python bench/traps.py decode [--count 2000]`` (a few seconds);
``.venv/bin/python bench/traps.py flood [--devices 1000] [--rate 10000] [--seconds 10]`` (about 1 minute).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyasn1.codec.ber import encoder  # type: ignore[import-untyped]  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from pysnmp.proto import api  # noqa: E402

from netpoll.inputs.traps.receiver import TrapReceiver  # noqa: E402
from netpoll.inputs.traps.sources import Sources  # noqa: E402
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings  # noqa: E402
from tests.harness.ports import free_port  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
COMMUNITY = "public"
V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IDLE_S = 3.0  # a receiver that saw nothing new for this long is done


def link_down(request_id: int, if_index: int, community: str = COMMUNITY) -> bytes:
    """One SNMPv2c linkDown trap as a device sends it (sysUpTime, snmpTrapOID, ifIndex, admin, oper)."""
    pdu = V2C.SNMPv2TrapPDU()
    V2C.apiTrapPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_varbinds(
        pdu,
        [
            (SYS_UPTIME, V2C.TimeTicks(8_640_000 + request_id)),
            (SNMP_TRAP_OID, V2C.ObjectIdentifier(LINK_DOWN)),
            ((*IF_ENTRY, 1, if_index), V2C.Integer(if_index)),
            ((*IF_ENTRY, 7, if_index), V2C.Integer(1)),
            ((*IF_ENTRY, 8, if_index), V2C.Integer(2)),
        ],
    )
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    V2C.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def packets(community: str = COMMUNITY, variants: int = 64) -> list[bytes]:
    return [link_down(1000 + i, i % 48 + 1, community) for i in range(variants)]


def send(
    port: int,
    count: int,
    rate: float,
    sources: Sequence[str] = ("127.0.0.1",),
    community: str = COMMUNITY,
    deadline_s: float = 120.0,
) -> tuple[int, float]:
    """Send ``count`` traps to 127.0.0.1:``port`` at ``rate`` per second, round-robin over the source
    addresses (each a socket bound to it); (sent, seconds). Paced in 10 ms slices; bounded by ``deadline_s``.
    """
    payloads = packets(community)
    socks = []
    for address in sources:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((address, 0))
        socks.append(sock)
    target = ("127.0.0.1", port)
    per_slice = max(1, round(rate / 100))
    sent = 0
    start = time.perf_counter()
    try:
        while sent < count and time.perf_counter() - start < deadline_s:
            for _ in range(min(per_slice, count - sent)):
                with contextlib.suppress(BlockingIOError):  # the loopback send queue was full: lost
                    socks[sent % len(socks)].sendto(payloads[sent % len(payloads)], target)
                sent += 1
            due = start + sent / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
    finally:
        for sock in socks:
            sock.close()
    return sent, time.perf_counter() - start


def udp_rcvbuf_errors() -> int:
    """The kernel's count of UDP datagrams dropped because a socket's receive buffer was full (this netns)."""
    rows = [
        line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")
    ]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Result:
    """What one receiver made of the stream."""

    name: str
    sent: int
    decoded: int
    cpu_s: float
    note: str = ""

    @property
    def per_cpu_s(self) -> float:
        return self.decoded / self.cpu_s if self.cpu_s else float("nan")


# --- netpoll's receiver, in a process of its own -----------------------------------------------------------


def sender_device(community: str = COMMUNITY) -> Device:
    credentials = CommunityCredentials(profile="bench", version="2c", community=SecretStr(community))
    return Device(name="sender", address="127.0.0.1", snmp=SnmpSettings(credentials=credentials))


async def serve(port: int, expect: int) -> None:
    """The child: receive until ``expect`` traps or ``IDLE_S`` without one; print JSON figures."""
    receiver = TrapReceiver([("127.0.0.1", port)], Sources([sender_device()]), rate_per_source=1e9)
    async with receiver:
        _big_receive_buffer(receiver)
        print("ready", flush=True)
        records = 0
        cpu0 = time.process_time()
        last = time.monotonic()
        iterator = aiter(receiver)
        while records < expect:
            try:
                trap = await asyncio.wait_for(anext(iterator), timeout=IDLE_S)
            except TimeoutError:
                if time.monotonic() - last >= IDLE_S:
                    break
                continue
            trap.to_sample()
            records += 1
            last = time.monotonic()
            # Let the loop read the socket between traps (a backlog in the queue is handled without
            # suspending otherwise, and the kernel drops what the socket buffer cannot hold meanwhile).
            await asyncio.sleep(0)
        cpu = time.process_time() - cpu0
        stats = receiver.stats
    # The idle wait at the end costs no CPU worth counting (the loop sleeps).
    print(
        json.dumps(
            {
                "records": records,
                "cpu_s": cpu,
                "received": stats.received,
                "queue_dropped": stats.queue_dropped,
            }
        ),
        flush=True,
    )


def _big_receive_buffer(receiver: TrapReceiver) -> None:
    """32 MiB of socket buffer: a backlog waits in the kernel instead of being dropped there (the CPU per
    trap is what is measured, and the event loop reads one datagram per turn)."""
    for transport in receiver._transports:
        sock = transport.get_extra_info("socket")
        option = getattr(socket, "SO_RCVBUFFORCE", 33) if os.geteuid() == 0 else socket.SO_RCVBUF
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, 32 << 20)


def measure_netpoll(count: int, rate: float) -> Result:
    port = free_port("udp")
    child = subprocess.Popen(
        [sys.executable, __file__, "_serve", "--port", str(port), "--expect", str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("netpoll receiver did not start")
        sent, seconds = send(port, count, rate)
        figures = json.loads(child.stdout.readline())
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    note = (
        f"received {figures['received']:,}, queue drops {figures['queue_dropped']:,}; sent in {seconds:.1f} s"
    )
    return Result("netpoll TrapReceiver", sent, figures["records"], figures["cpu_s"], note)


# --- net-snmp snmptrapd ------------------------------------------------------------------------------------


def _lines(log: Path) -> int:
    try:
        with log.open("rb") as handle:
            return sum(1 for line in handle if line.startswith(b"trap "))
    except FileNotFoundError:
        return 0


def measure_snmptrapd(count: int, rate: float, binary: str) -> Result:
    work = Path(tempfile.mkdtemp(prefix="netpoll-bench-snmptrapd-"))
    port = free_port("udp")
    conf = work / "snmptrapd.conf"
    conf.write_text(f"authCommunity log {COMMUNITY}\nformat2 trap %a %v\\n\n")
    log = work / "snmptrapd.log"
    argv = [binary, "-f", "-C", "-c", str(conf), "-n", "-Lf", str(log), "-p", str(work / "pid"),
            f"udp:127.0.0.1:{port}"]  # fmt: skip
    env = {"PATH": os.environ.get("PATH", ""), "MIBS": "", "MIBDIRS": "/nonexistent",
           "SNMP_PERSISTENT_DIR": str(work / "persist")}  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while "NET-SNMP version" not in (log.read_text() if log.exists() else ""):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"snmptrapd did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.05)
        cpu0 = proc_cpu_s(proc.pid)
        sent, seconds = send(port, count, rate)
        logged, last_change = _lines(log), time.monotonic()
        while logged < count and time.monotonic() - last_change < IDLE_S:
            time.sleep(0.2)
            now = _lines(log)
            if now != logged:
                logged, last_change = now, time.monotonic()
        cpu = proc_cpu_s(proc.pid) - cpu0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    note = f"one log line per trap; sent in {seconds:.1f} s"
    return Result("net-snmp snmptrapd", sent, logged, cpu, note)


def throughput_table(results: Sequence[Result], reference: Result) -> str:
    rows = [
        "| receiver | traps sent | decoded / logged | CPU s | traps per CPU s | / snmptrapd | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ratio = r.per_cpu_s / reference.per_cpu_s if reference.per_cpu_s else float("nan")
        rows.append(
            f"| {r.name} | {r.sent:,} | {r.decoded:,} | {r.cpu_s:.2f} | {r.per_cpu_s:,.0f} | {ratio:.2f} "
            f"| {r.note} |"
        )
    return "\n".join(rows)


def throughput_main(args: argparse.Namespace) -> int:
    binary = shutil.which("snmptrapd") or (
        "/usr/sbin/snmptrapd" if Path("/usr/sbin/snmptrapd").exists() else None
    )
    if binary is None:
        print("snmptrapd not installed (Debian package snmptrapd): no comparison", file=sys.stderr)
        return 2
    started = time.perf_counter()
    ours = measure_netpoll(args.traps, args.rate)
    theirs = measure_snmptrapd(args.traps, args.rate, binary)
    print(throughput_table([ours, theirs], theirs))
    ratio = ours.per_cpu_s / theirs.per_cpu_s
    print(
        f"\nnetpoll decodes {ours.per_cpu_s:,.0f} traps per CPU second,"
        f" snmptrapd logs {theirs.per_cpu_s:,.0f}: ratio {ratio:.2f};"
        f" total bench time {time.perf_counter() - started:.1f} s"
    )
    failures = [f"{r.name} handled {r.decoded:,} of {r.sent:,}" for r in (ours, theirs) if r.decoded < r.sent]
    for failure in failures:
        print(f"FAIL {failure} (lower --rate so both keep up)", file=sys.stderr)
    return 1 if failures else 0


# --- the decoders alone -----------------------------------------------------------------------------------


def decode_main(args: argparse.Namespace) -> int:
    from netpoll.inputs.traps.decode import decode, decode_pysnmp
    from tests.unit.inputs.traps import datagrams

    cases = {
        "v2c linkDown (the throughput stream's)": link_down(1005, 6),
        "v1 linkDown (net-snmp)": datagrams.V1_LINK_DOWN,
        "v2c, every value type (net-snmp)": datagrams.NETSNMP_V2C_TYPES,
    }
    print("| message | bytes | fast path µs | pysnmp µs | pysnmp / fast path |")
    print("|---|---:|---:|---:|---:|")
    for name, datagram in cases.items():
        figures = []
        for decoder, count in ((decode, args.count * 20), (decode_pysnmp, args.count)):
            start = time.process_time()
            for _ in range(count):
                decoder(datagram)
            figures.append((time.process_time() - start) / count * 1e6)
        fast, slow = figures
        print(f"| {name} | {len(datagram)} | {fast:.1f} | {slow:.0f} | {slow / fast:.0f} |")
    return 0


# --- flood beside the poller -------------------------------------------------------------------------------


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def self_monitoring(data_dir: Path) -> list[dict[str, float]]:
    """The daemon's ``netpoll`` records (one per cycle) from its line-protocol files, in time order."""
    cycles = []
    for path in sorted(data_dir.glob("netpoll-*.lp")):
        for line in path.read_text().splitlines():
            if not line.startswith("netpoll,"):
                continue
            _series, fields, stamp = line.rsplit(" ", 2)
            values = dict(item.split("=", 1) for item in fields.split(","))
            record = {key: float(value.rstrip("i")) for key, value in values.items() if value[-1:] != '"'}
            record["time_s"] = int(stamp) / 1e9
            cycles.append(record)
    return sorted(cycles, key=lambda record: record["time_s"])


async def _cycles(daemon: Any, running: asyncio.Task[int], cycle_no: int, deadline: float) -> None:
    """Wait until the daemon has counted ``cycle_no`` cycles (it has no event for it: poll its counter)."""
    while daemon.cycle_no < cycle_no and time.monotonic() < deadline and not running.done():  # noqa: ASYNC110
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def _beside(daemon: Any, devices: Sequence[Device]) -> AsyncIterator[TrapReceiver]:
    """A receiver in the daemon's loop whose traps go to its pipeline, for a daemon without trap intake."""
    receiver = TrapReceiver([("127.0.0.1", 0)], Sources(devices))
    async with receiver:

        async def consume() -> None:
            async for trap in receiver:
                daemon.emit([trap.to_sample()])
                await asyncio.sleep(0)  # give the loop back between traps (polls, the socket)

        consumer = asyncio.create_task(consume())
        try:
            yield receiver
        finally:
            consumer.cancel()


async def flood_child(args: argparse.Namespace) -> None:
    """In the namespace: the daemon (with its own trap intake where it has one), the flood from a sender."""
    import dataclasses

    from netpoll.daemon.app import Daemon, RunSettings
    from netpoll.inventory.loader import load_inventory

    work = Path(args.work)
    settings = RunSettings(
        inventories=(Path(args.inventory),), data_dir=work / "data", state_dir=work / "state",
        snmp_concurrency=512, snmp_backend="gufo", console=False,
    )  # fmt: skip
    intake = "traps" in {f.name for f in dataclasses.fields(RunSettings)}
    if intake:  # the daemon's own receiver (``traps:``), as `netpoll run` has it
        import netpoll.config

        port = free_port("udp")
        # Looked up by name: the bench also runs where the daemon has no trap intake.
        traps = vars(netpoll.config)["TrapsConfig"](enabled=True, listen=(f"127.0.0.1:{port}",))
        changes: dict[str, Any] = {"traps": traps}
        settings = dataclasses.replace(settings, **changes)
    (work / "data").mkdir(exist_ok=True)
    (work / "state").mkdir(exist_ok=True)
    daemon = Daemon(settings)
    running = asyncio.create_task(daemon.run())
    async with contextlib.AsyncExitStack() as stack:
        deadline = time.monotonic() + 4 * args.interval + 60
        # Two whole cycles first: profiles picked, labels read, the first polls' catch-up over.
        await _cycles(daemon, running, 3, deadline)
        if intake:
            receiver = vars(daemon)["_traps"].receiver  # the daemon's own, for its counters
        else:
            receiver = await stack.enter_async_context(
                _beside(daemon, load_inventory([Path(args.inventory)]).devices)
            )
            port = receiver.addresses[0][1]
        before_kib, kernel0 = rss_kib(), udp_rcvbuf_errors()
        flood_start = time.time()
        sender = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "_send", "--port", str(port), "--rate", str(args.rate),
            "--seconds", str(args.seconds), "--sources", args.sources, "--community", args.community,
        )  # fmt: skip
        await sender.wait()
        flood_end = time.time()
        after_flood_kib = rss_kib()
        # Two more cycles: what the flood left queued is worked off, and polls after it are counted too.
        await _cycles(daemon, running, daemon.cycle_no + 2, deadline + 60)
        after_kib, kernel = rss_kib(), udp_rcvbuf_errors() - kernel0
        receiver.refresh_kernel_drops()
        stats = receiver.stats
    daemon.stop_event.set()
    await asyncio.wait_for(running, 60)
    figures = {
        "intake": "daemon" if intake else "beside", "flood_start": flood_start, "flood_end": flood_end,
        "rss_before_kib": before_kib, "rss_after_flood_kib": after_flood_kib, "rss_after_kib": after_kib,
        "hwm_kib": rss_kib("VmHWM"), "received": stats.received, "accepted": stats.events,
        "rate_dropped": stats.rate_dropped, "queue_dropped": stats.queue_dropped,
        "unknown_source": stats.unknown_source, "kernel_dropped": kernel,
        "netpoll_kernel_dropped": stats.kernel_dropped,
        "cycles": self_monitoring(work / "data"),
    }  # fmt: skip
    print(json.dumps(figures), flush=True)


def flood_report(figures: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Print the tables; the failures (late polls, unbounded memory, uncounted datagrams)."""
    print("| cycle | ends s after flood start | polls ok | failed | late | skipped | poll lag max ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    late = 0
    for n, cycle in enumerate(figures["cycles"], 1):
        at = cycle["time_s"] - figures["flood_start"]
        late += int(cycle.get("polls_late", 0)) if at > 0.5 else 0  # cycles from the flood on
        print(
            f"| {n} | {at:+.1f} | {cycle.get('polls_ok', 0):,.0f} | {cycle.get('polls_failed', 0):,.0f} "
            f"| {cycle.get('polls_late', 0):,.0f} | {cycle.get('polls_skipped', 0):,.0f} "
            f"| {cycle.get('poll_lag_ms', 0):,.0f} |"
        )
    sent = figures["sent"]
    counted = figures["accepted"] + figures["rate_dropped"] + figures["queue_dropped"]
    mib = {
        key: figures[key] / 1024
        for key in ("rss_before_kib", "rss_after_flood_kib", "rss_after_kib", "hwm_kib")
    }
    where = "the daemon's own (traps:)" if figures["intake"] == "daemon" else "beside the daemon, in its loop"
    print(f"\ntrap receiver: {where}")
    print(
        f"flood: {sent:,} traps in {figures['flood_end'] - figures['flood_start']:.1f} s from"
        f" {len(args.sources.split(','))} devices; received {figures['received']:,}, accepted"
        f" {figures['accepted']:,}, rate-limited {figures['rate_dropped']:,}, queue drops"
        f" {figures['queue_dropped']:,}; dropped by the kernel (socket buffer full)"
        f" {figures['kernel_dropped']:,} (/proc/net/snmp), {figures.get('netpoll_kernel_dropped', 0):,} by"
        f" netpoll's own count"
    )
    print(
        f"RSS MiB: before the flood {mib['rss_before_kib']:.0f},"
        f" right after {mib['rss_after_flood_kib']:.0f}, two cycles later {mib['rss_after_kib']:.0f};"
        f" peak {mib['hwm_kib']:.0f}"
    )
    failures = []
    if late:
        failures.append(f"{late} late polls in the cycles from the flood on")
    if counted != figures["received"] - figures["unknown_source"] - figures.get("undecoded", 0):
        failures.append(f"received {figures['received']:,} but counted {counted:,}")
    if mib["rss_after_flood_kib"] - mib["rss_before_kib"] > 200:
        failures.append("RSS grew by more than 200 MiB over the flood")
    return failures


def flood_main(args: argparse.Namespace) -> int:
    from tests.harness.netns import Netns, create_netns
    from tests.harness.snmpd import SnmpdAgent, start_snmpd

    if os.geteuid() != 0:
        print(
            "bench/traps.py flood needs root (a network namespace, snmpd on 1,000 addresses)", file=sys.stderr
        )
        return 2
    work = Path(tempfile.mkdtemp(prefix="netpoll-bench-flood-"))
    ns: Netns | None = None
    agent: SnmpdAgent | None = None
    try:
        ns = create_netns("nptrapf")
        addrs = [f"127.2.{i // 250}.{i % 250 + 1}" for i in range(args.devices)]
        community = f"bench-{os.urandom(4).hex()}"
        agent = start_snmpd(work / "snmpd", addresses=addrs, netns=ns, port=161,
                            extra_config=f"rocommunity {community} default")  # fmt: skip
        (work / "community").write_text(community + "\n")
        (work / "community").chmod(0o600)
        inventory = work / "inventory.yaml"
        lines = [
            "defaults:",
            f"  snmp: {{interval_s: {args.interval:g}, timeout_s: 5, retries: 1, credentials: bench}}",
            "credentials:",
            "  bench: {version: 2c, community_file: community}",
            "devices:",
            *(f"  - {{name: dev{i:04d}, address: {a}}}" for i, a in enumerate(addrs)),
        ]
        inventory.write_text("\n".join(lines) + "\n")
        args.sources = ",".join(addrs[: args.sources_count])
        args.community = community
        child = ns.popen(
            [sys.executable, __file__, "_flood", "--work", str(work), "--inventory", str(inventory),
             "--interval", str(args.interval), "--rate", str(args.rate), "--seconds", str(args.seconds),
             "--sources", args.sources, "--community", community],
            cwd=REPO, stdout=subprocess.PIPE, stderr=open(work / "child.log", "w"), text=True,  # noqa: SIM115
        )  # fmt: skip
        out, _ = child.communicate(timeout=8 * args.interval + 240)
        if child.returncode != 0 or not out.strip():
            print((work / "child.log").read_text()[-3000:], file=sys.stderr)
            return 1
        figures = json.loads(out.strip().splitlines()[-1])
        figures["sent"] = int(args.rate * args.seconds)
        failures = flood_report(figures, args)
        for failure in failures:
            print(f"FAIL {failure}", file=sys.stderr)
        return 1 if failures else 0
    finally:
        if agent is not None:
            agent.stop()
        if ns is not None:
            ns.remove()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    through = sub.add_parser("throughput", help="decoding throughput per core against snmptrapd")
    through.add_argument("--traps", type=int, default=10_000)
    through.add_argument("--rate", type=float, default=1_000.0, help="traps per second sent")
    alone = sub.add_parser("decode", help="CPU per message of the decoders alone")
    alone.add_argument("--count", type=int, default=2_000, help="messages per decoder (fast path: 20x)")
    flood = sub.add_parser("flood", help="a trap flood while 1,000 devices are polled (root)")
    flood.add_argument("--devices", type=int, default=1000)
    flood.add_argument("--interval", type=float, default=10.0, help="the devices' SNMP interval, s")
    flood.add_argument("--rate", type=float, default=10_000.0, help="traps per second")
    flood.add_argument("--seconds", type=float, default=10.0)
    flood.add_argument("--sources", dest="sources_count", type=int, default=20, help="sending devices")
    child = sub.add_parser("_serve", help=argparse.SUPPRESS)
    child.add_argument("--port", type=int, required=True)
    child.add_argument("--expect", type=int, required=True)
    inner = sub.add_parser("_flood", help=argparse.SUPPRESS)
    for name in ("--work", "--inventory", "--sources", "--community"):
        inner.add_argument(name, required=True)
    for name in ("--interval", "--rate", "--seconds"):
        inner.add_argument(name, type=float, required=True)
    sender = sub.add_parser("_send", help=argparse.SUPPRESS)
    sender.add_argument("--port", type=int, required=True)
    sender.add_argument("--rate", type=float, required=True)
    sender.add_argument("--seconds", type=float, required=True)
    sender.add_argument("--sources", required=True)
    sender.add_argument("--community", required=True)
    args = parser.parse_args(argv)
    if args.mode == "_serve":
        asyncio.run(serve(args.port, args.expect))
        return 0
    if args.mode == "_flood":
        asyncio.run(flood_child(args))
        return 0
    if args.mode == "_send":
        count = int(args.rate * args.seconds)
        send(args.port, count, args.rate, args.sources.split(","), args.community, args.seconds + 30)
        return 0
    if args.mode == "flood":
        return flood_main(args)
    if args.mode == "decode":
        return decode_main(args)
    return throughput_main(args)


if __name__ == "__main__":
    sys.exit(main())
