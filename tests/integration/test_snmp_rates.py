"""Real traffic over a veth: ``netpoll poll --samples 2 --every 5`` rates match the kernel's byte counts.

snmpd runs inside a test-made namespace (198.18.0.0/15 only), with its interface-table cache disabled so its
counters are the kernel's at request time. After the first poll, a bounded TCP exchange sends a known
amount in each direction over the veth; it is over long before the second poll, so both polls see flat
counters and the bps must equal the kernel's byte delta x 8 / the time between the two samples.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]

PAYLOAD = 20_000_000  # bytes each way
NS_CACHE_TIMEOUT_IFTABLE = ".1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2"
NS_CACHE_TIMEOUT_IFXTABLE = ".1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.31.1.1"
SNMP_IN_PKTS = ".1.3.6.1.2.1.11.1.0"

# Runs inside the namespace: accept one connection, read PAYLOAD bytes, send PAYLOAD bytes back, exit.
SINK = """
import socket, sys
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
srv = socket.create_server((host, port))
srv.settimeout(60)
print("ready", flush=True)
conn, _ = srv.accept()
conn.settimeout(30)
got = 0
while got < size:
    chunk = conn.recv(1 << 20)
    if not chunk:
        break
    got += len(chunk)
block = b"y" * (1 << 20)
sent = 0
while sent < size:
    sent += conn.send(block[: min(len(block), size - sent)])
conn.close()
"""


def _stat(netns: Any, counter: str) -> int:
    out = netns.exec(["cat", f"/sys/class/net/{netns.ns_if}/statistics/{counter}"])
    return int(out.stdout)


def _snmp_in_pkts(snmpget: str, agent: Any) -> int:
    """The agent's snmpInPkts: every SNMP message it received, this GET included."""
    done = subprocess.run(
        [
            snmpget,
            "-m",
            "",
            "-v2c",
            "-c",
            agent.community,
            "-Oqv",
            f"{agent.host}:{agent.port}",
            SNMP_IN_PKTS,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "MIBS": ""},
    )
    return int(done.stdout.split()[0])


def _quiet(snmpget: str, agent: Any, deadline: float) -> int:
    """Wait until nobody but us talks to the agent for 0.5 s (the poll in progress is over): snmpInPkts."""
    last = _snmp_in_pkts(snmpget, agent)
    while True:
        time.sleep(0.5)
        now = _snmp_in_pkts(snmpget, agent)
        if now == last + 1:  # only our own GET
            return now
        assert time.monotonic() < deadline, "the first poll never ended"
        last = now


def _exchange(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=10) as sock:
        block = b"x" * (1 << 20)
        sent = 0
        while sent < PAYLOAD:
            sent += sock.send(block[: min(len(block), PAYLOAD - sent)])
        got = 0
        while got < PAYLOAD:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    assert got == PAYLOAD


def _targets(selected: bool, agent: Any, netns: Any, tmp_path: Path) -> list[str]:
    """The poll's target: the agent ad hoc; or, with a selection, an inventory device that selects the veth
    alone (so after the label walk its counters are read by GET of that one row: docs/inventory.md)."""
    if not selected:
        return [f"{agent.host}:{agent.port}"]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "credentials:\n"
        "  ro: {version: 2c, community: '${NETPOLL_SNMP_COMMUNITY}'}\n"
        "devices:\n"
        f"  - name: ns\n"
        f"    address: '{agent.host}:{agent.port}'\n"
        "    snmp:\n"
        "      credentials: ro\n"
        "      interfaces:\n"
        f"        include: {{ifName: '^{netns.ns_if}$'}}\n"
    )
    return ["--inventory", str(inventory), "ns"]


@pytest.mark.parametrize("selected", [False, True], ids=["every-interface", "veth-selected"])
def test_rates_match_kernel_counters(
    netns_factory: Any, snmpd_factory: Any, free_port: Any, tmp_path: Path, selected: bool
) -> None:
    snmpset, snmpget = shutil.which("snmpset"), shutil.which("snmpget")
    if snmpset is None or snmpget is None:
        pytest.skip("snmpset/snmpget not installed (Debian package snmp)")
    netns = netns_factory("nprt")
    agent = snmpd_factory(netns=netns)
    for oid in (NS_CACHE_TIMEOUT_IFTABLE, NS_CACHE_TIMEOUT_IFXTABLE):
        # nsCacheTimeout 0: counters come from the kernel at request time, not from a 3 s old cache.
        done = subprocess.run(
            [
                snmpset,
                "-m",
                "",
                "-v2c",
                "-c",
                agent.rw_community,
                f"{agent.host}:{agent.port}",
                oid,
                "i",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "MIBS": ""},
        )
        assert done.returncode == 0 or oid == NS_CACHE_TIMEOUT_IFXTABLE, done.stderr

    port = 5001
    sink = netns.popen(
        [sys.executable, "-c", SINK, netns.ns_ip, str(port), str(PAYLOAD)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout is not None
        assert sink.stdout.readline().strip() == "ready"
        rx0, tx0 = _stat(netns, "rx_bytes"), _stat(netns, "tx_bytes")
        env = {**os.environ, "NETPOLL_SNMP_COMMUNITY": agent.community}
        cli = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "netpoll",
                "poll",
                *_targets(selected, agent, netns, tmp_path),
                "--samples",
                "2",
                "--every",
                "5",
                "--format",
                "json",
                "--timeout",
                "2",
                "--retries",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            # The first poll has begun when the agent counts messages besides our own GETs. (A packet count on
            # the veth was fooled by the new link's IPv6 chatter: the exchange then came before the first poll
            # and both polls saw the same counters, ~3.5 kbit/s.)
            deadline = time.monotonic() + 30
            last = _snmp_in_pkts(snmpget, agent)
            while (now := _snmp_in_pkts(snmpget, agent)) == last + 1:
                assert time.monotonic() < deadline, "netpoll poll never sent a request"
                assert cli.poll() is None, cli.stderr.read() if cli.stderr else ""
                last = now
                time.sleep(0.05)
            # The exchange goes between the two polls: after the first one's last request (the agent quiet,
            # not a guess of how long a poll takes on a loaded machine), and before the second one's first.
            before = _quiet(snmpget, agent, time.monotonic() + 30)
            _exchange(netns.ns_ip, port)
            assert _snmp_in_pkts(snmpget, agent) == before + 1, "the exchange overlapped the second poll"
            out, err = cli.communicate(timeout=60)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        assert cli.returncode == 0, err
        rx1, tx1 = _stat(netns, "rx_bytes"), _stat(netns, "tx_bytes")
    finally:
        sink.wait(timeout=30)
        if sink.stdout is not None:
            sink.stdout.close()

    records = json.loads(out)
    rows = [r for r in records if r["measurement"] == "interface" and r["tags"]["ifName"] == netns.ns_if]
    if selected:  # the loopback is not selected: not written
        assert {r["tags"]["ifName"] for r in records if r["measurement"] == "interface"} == {netns.ns_if}
    assert len(rows) == 2, [r["tags"] for r in records if r["measurement"] == "interface"]
    first, second = rows
    print("DEBUG", first, second, rx0, rx1, file=sys.stderr)
    elapsed = (second["time"] - first["time"]) / 1e9
    assert 4.0 < elapsed < 7.0
    expected_in = (rx1 - rx0) * 8 / elapsed
    expected_out = (tx1 - tx0) * 8 / elapsed
    assert rx1 - rx0 > PAYLOAD
    assert tx1 - tx0 > PAYLOAD
    fields = second["fields"]
    print(  # shown with -s: the figures behind the 2 % check
        f"{'selected' if selected else 'all'}: elapsed {elapsed:.3f}s"
        f" in_bps {fields['in_bps']:.0f} (kernel {expected_in:.0f}) "
        f"out_bps {fields['out_bps']:.0f} (kernel {expected_out:.0f})"
    )
    assert fields["in_bps"] == pytest.approx(expected_in, rel=0.02)
    assert fields["out_bps"] == pytest.approx(expected_out, rel=0.02)
    # The raw counters moved by exactly what the rates say.
    in_delta = fields["ifHCInOctets"] - first["fields"]["ifHCInOctets"]
    assert in_delta * 8 / elapsed == pytest.approx(fields["in_bps"])
