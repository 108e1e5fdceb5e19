"""A ping target that forges ICMP errors beside 100 healthy targets, all inside a test-made namespace.

The forger (a raw socket in the namespace, on its own address) answers each echo request netpoll sends it
with host-unreachables quoting netpoll's identifier and the 200 sequence numbers after its own, as the issue
measured it (100/100 healthy targets showed loss when the sequence numbers ran consecutively across targets
and the quoted destination was not checked). ``QUOTE_OTHERS`` makes it also quote healthy targets' addresses:
then only the random sequence numbers stand between it and a hit (a guess hits with probability in-flight
requests / 65,536; see docs/icmp.md), so that variant is measured, not asserted.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from netpoll.inputs.icmp import IcmpProber, ResultCode
from netpoll.inputs.icmp.channel import REFUSED
from tests.harness.netns import Netns

pytestmark = pytest.mark.network

FORGER = textwrap.dedent(
    """
    import socket, struct, sys, time
    me, prober, targets, others = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4] == "1"

    def checksum(data):
        if len(data) % 2:
            data += b"\\0"
        total = sum(struct.unpack(f"!{len(data) // 2}H", data))
        total = (total >> 16) + (total & 0xFFFF)
        return ~(total + (total >> 16)) & 0xFFFF

    def ip_header(src, dst):
        addresses = socket.inet_aton(src) + socket.inet_aton(dst)
        return struct.pack("!BBHHHBBH", 0x45, 0, 84, 0, 0, 64, 1, 0) + addresses

    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.bind((me, 0))
    sock.settimeout(0.2)
    print("ready", flush=True)
    # One burst per echo request it gets (15: 3 rounds of 5), then it ends by itself; at most 20 s.
    deadline, forged, turn, bursts = time.monotonic() + 20, 0, 0, 0
    while time.monotonic() < deadline and bursts < 15:
        try:
            packet, source = sock.recvfrom(2048)
        except TimeoutError:
            continue
        ihl = (packet[0] & 0x0F) * 4
        dst = socket.inet_ntoa(packet[16:20])
        kind, _, _, ident, seq = struct.unpack("!BBHHH", packet[ihl : ihl + 8])
        if kind != 8 or dst != me:
            continue
        for delta in range(1, 201):
            quoted_dst = targets[turn % len(targets)] if others and delta % 2 == 0 else me
            turn += 1
            echo = struct.pack("!BBHHH", 8, 0, 0, ident, (seq + delta) & 0xFFFF)
            quoted = ip_header(prober, quoted_dst) + echo
            body = struct.pack("!BBHI", 3, 1, 0, 0) + quoted
            error = struct.pack("!BBHI", 3, 1, checksum(body), 0) + quoted
            sock.sendto(error, (prober, 0))
            forged += 1
        bursts += 1
    print(forged, flush=True)
    """
)


@pytest.mark.parametrize("quote_others", [False, True])
async def test_forged_icmp_errors_make_no_healthy_target_lossy(
    netns_factory: Callable[..., Netns], quote_others: bool
) -> None:
    ns = netns_factory("npforge")
    base = ns.network.network_address
    healthy = [str(base + 10 + i) for i in range(100)]
    forger = str(base + 200)
    ns.add_addresses([*healthy, forger])
    process = ns.popen(
        [sys.executable, "-c", FORGER, forger, ns.host_ip, ",".join(healthy), "1" if quote_others else "0"],
        stdout=asyncio.subprocess.PIPE,
        text=True,
    )
    refused_before = REFUSED["forged_error"] + REFUSED["stray_error"]
    try:
        # The forger's socket is open (a slow start would leave the first echoes unanswered by forgeries).
        assert process.stdout is not None
        assert await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20) == "ready\n"
        async with IcmpProber(mode="raw") as prober:
            results = await asyncio.gather(
                *(
                    prober.probe_stats(target, count=5, interval=0.1, timeout=1.0)
                    for _ in range(3)
                    for target in [forger, *healthy]
                )
            )
    finally:
        try:
            out, _ = process.communicate(timeout=25)
        except subprocess.TimeoutExpired:  # the namespace's removal kills it
            out = ""
    sent = int(out.split()[-1]) if out.split() else 0
    by_target = [r for r in results if r.address != forger]
    lossy = sorted({r.address for r in by_target if r.stats.loss_pct > 0})
    refused = REFUSED["forged_error"] + REFUSED["stray_error"] - refused_before
    print(
        f"forger sent {sent} host-unreachables; {len(by_target)} healthy probes, lossy targets: {lossy}; "
        f"{refused} forged errors counted and refused"
    )
    assert sent >= 1000
    if quote_others:  # measured: 1,500 blind guesses of destination and sequence
        assert len(lossy) <= 3
        return
    assert lossy == []
    assert all(r.stats.result_code is ResultCode.OK for r in by_target)
    assert refused > sent // 2  # counted (most quote no request in flight, a few another destination)
