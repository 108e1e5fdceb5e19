"""ICMP probing against loopback and a network namespace the test creates (nftables injects the loss)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netpoll.cli.main import main
from netpoll.inputs.icmp import IcmpProber, ResultCode
from netpoll.inputs.icmp.channel import Channel
from netpoll.inventory.models import Device, PingSettings
from netpoll.probe import Budget
from tests.harness.netns import Netns

pytestmark = pytest.mark.network

RTT_FIELDS = {
    "minimum_response_ms",
    "average_response_ms",
    "maximum_response_ms",
    "standard_deviation_ms",
    "jitter_ms",
}


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names other than localhost fail as NXDOMAIN without a query: no DNS traffic leaves the host.

    The prober reaches the resolver through ``loop.getaddrinfo``, which calls ``socket.getaddrinfo``.
    """
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in (None, "localhost"):
            return real(host, *args, **kwargs)
        try:
            ipaddress.ip_address(str(host).split("%", 1)[0])
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: raw ICMP sockets and network namespaces")


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1"])
async def test_loopback_no_loss_small_rtt(address: str) -> None:
    _need_root()
    # The TTL (hop limit) a loopback reply arrives with: what this host's kernel sends replies with.
    sysctl = "ipv4/ip_default_ttl" if ":" not in address else "ipv6/conf/lo/hop_limit"
    host_ttl = int(Path("/proc/sys/net", sysctl).read_text())  # noqa: ASYNC240 (procfs, never blocks)
    async with IcmpProber() as prober:
        result = await prober.probe_stats(address, count=5, interval=0.02, timeout=1.0)
    stats = result.stats
    assert (stats.transmitted, stats.received, stats.loss_pct) == (5, 5, 0.0)
    assert stats.result_code is ResultCode.OK
    assert all(0 < rtt < 5 for rtt in result.rtts_ms), result.rtts_ms
    assert stats.min_ms is not None
    assert stats.max_ms is not None
    assert 0 < stats.min_ms <= stats.max_ms < 5
    assert stats.ttl == host_ttl


async def test_ttl_is_read_from_the_reply(netns_factory: Callable[..., Netns]) -> None:
    """A namespace that answers with TTL 37: the ``ttl`` field is the reply's, not a constant (raw socket)."""
    ns = netns_factory("npicmp")
    ns.sysctl("net.ipv4.ip_default_ttl", 37)
    async with IcmpProber(mode="raw") as prober:
        result = await prober.probe_stats(ns.ns_ip, count=2, interval=0.01, timeout=1.0)
    assert result.stats.received == 2
    assert result.sample(device="ns").fields["ttl"] == 37


async def test_device_sample_is_telegraf_ping() -> None:
    _need_root()
    device = Device(
        name="lo-router",
        address="127.0.0.1",
        site="lab",
        role="core",
        tags={"rack": "r1"},
        ping=PingSettings(count=3, packet_interval_s=0.01, timeout_s=1.0, payload_size=100),
    )
    async with IcmpProber() as prober:
        result = await prober.run(device, Budget.start(10.0))
    assert result.ok
    assert result.error is None
    assert not result.cut
    (sample,) = result.samples
    assert sample.measurement == "ping"
    assert dict(sample.tags) == {
        "device": "lo-router",
        "url": "127.0.0.1",
        "site": "lab",
        "role": "core",
        "rack": "r1",
    }
    assert sample.fields["packets_transmitted"] == 3
    assert sample.fields["packets_received"] == 3
    assert sample.fields["result_code"] == 0
    assert sample.fields["reachable"] == 1
    assert sample.fields.keys() >= RTT_FIELDS
    assert sample.to_line_protocol().startswith(
        "ping,device=lo-router,rack=r1,role=core,site=lab,url=127.0.0.1 "
    )


async def test_unresolvable_name_is_result_code_2() -> None:
    _need_root()
    async with IcmpProber(resolve_timeout=3.0) as prober:
        result = await prober.probe_stats("does-not-exist.invalid", count=2, interval=0.01, timeout=0.5)
    sample = result.sample(device="does-not-exist.invalid")
    assert sample.fields["result_code"] == 2
    assert sample.fields["reachable"] == 0
    assert sample.fields["packets_transmitted"] == 0
    assert sample.fields["percent_packet_loss"] == 100.0
    assert not RTT_FIELDS & sample.fields.keys()
    assert dict(sample.tags) == {"device": "does-not-exist.invalid", "url": "does-not-exist.invalid"}
    # Why, in the record: Telegraf's "no such host" (naming: telegraf writes its result code 1 for it).
    assert str(sample.fields["error"]).startswith(
        "no such host: name 'does-not-exist.invalid' does not resolve"
    )


async def test_slow_resolver_is_result_code_2(monkeypatch: pytest.MonkeyPatch) -> None:
    _need_root()

    release = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(10.0)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    try:
        async with IcmpProber(resolve_timeout=0.2) as prober:
            started = time.monotonic()
            result = await prober.probe_stats("slow.example", count=1, timeout=0.5)
            assert time.monotonic() - started < 3.0  # the resolver would take 10 s
    finally:
        release.set()
    assert result.stats.result_code is ResultCode.ERROR
    assert result.error is not None
    assert "within 0.2 s" in result.error


async def test_hanging_resolver_leaves_the_default_executor_free(monkeypatch: pytest.MonkeyPatch) -> None:
    _need_root()
    release = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> Any:
        release.wait(60.0)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        async with IcmpProber(resolve_timeout=0.1) as prober:
            results = await asyncio.gather(
                *(prober.probe_stats(f"n{i}.example", count=1, timeout=0.5) for i in range(20))
            )
            assert all(r.stats.result_code is ResultCode.ERROR for r in results)
            # The outputs' worker-thread work (InfluxDB sends, spool files) still gets a thread at once.
            done = asyncio.ensure_future(asyncio.to_thread(lambda: 42))
            await asyncio.wait({done}, timeout=30.0)  # a bound against a hang, not a timing assertion
            assert done.done()
            assert done.result() == 42
    finally:
        release.set()


async def test_localhost_name_resolves_once_per_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    _need_root()
    lookups: list[str] = []
    resolve = socket.getaddrinfo

    def counting(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    async with IcmpProber() as prober:
        result = await prober.probe_stats("localhost", count=3, interval=0.01, timeout=1.0)
        assert lookups == ["localhost"]
        await prober.probe_stats("localhost", count=1, timeout=1.0)
        assert lookups == ["localhost", "localhost"]  # the next cycle resolves again
    assert result.stats.result_code is ResultCode.OK
    assert result.stats.received == 3
    assert result.ip in {"127.0.0.1", "::1"}


async def test_prober_refuses_reentry_and_use_when_closed() -> None:
    _need_root()
    prober = IcmpProber()
    with pytest.raises(RuntimeError, match="not open"):
        await prober.probe_stats("127.0.0.1")
    async with prober:
        with pytest.raises(RuntimeError, match="already open"):
            await prober.__aenter__()


# --- in a namespace -------------------------------------------------------------------------------------

LOSS_RULESET = """
table inet np_icmp_loss {
    chain input {
        type filter hook input priority 0; policy accept;
        icmp type echo-request numgen random mod 100 < 25 drop
    }
}
"""


@pytest.fixture
def lossy_ns(netns_factory: Callable[..., Netns]) -> Netns:
    ns = netns_factory("npicmp")
    ns.nft(LOSS_RULESET)
    return ns


def _silent_address(ns: Netns, offset: int = 50) -> str:
    """An address inside the namespace's subnet that no interface has: nothing answers it."""
    return str(ns.network.network_address + offset)


@pytest.mark.slow
async def test_injected_loss_is_measured(lossy_ns: Netns) -> None:
    async with IcmpProber() as prober:
        result = await prober.probe_stats(lossy_ns.ns_ip, count=1000, interval=0.002, timeout=1.0)
    stats = result.stats
    assert stats.transmitted == 1000
    assert 20.0 <= stats.loss_pct <= 30.0, stats
    assert stats.result_code is ResultCode.OK
    assert stats.jitter_ms is not None
    assert stats.jitter_ms >= 0


async def test_silent_address_is_total_loss_in_time(lossy_ns: Netns) -> None:
    count, interval, timeout = 3, 0.2, 2.0
    async with IcmpProber() as prober:
        started = time.monotonic()
        result = await prober.probe_stats(
            _silent_address(lossy_ns), count=count, interval=interval, timeout=timeout
        )
        elapsed = time.monotonic() - started
    sample = result.sample(device=result.address)
    # The last echo's timeout runs from its send, (count - 1) x interval = 0.4 s in: about 2.4 s in all, where
    # waiting out each echo in turn would take count x timeout = 6 s. A busy machine gets a second.
    assert elapsed <= (count - 1) * interval + timeout + 1.0, elapsed
    fields = sample.fields
    assert fields["packets_transmitted"] == 3
    assert fields["packets_received"] == 0
    assert fields["percent_packet_loss"] == 100.0
    assert fields["result_code"] == 1
    assert fields["reachable"] == 0
    assert not RTT_FIELDS & fields.keys()


@pytest.mark.slow
async def test_thousand_mixed_targets(netns_factory: Callable[..., Netns]) -> None:
    ns = netns_factory("npicmp")
    hosts = ipaddress.ip_network("127.3.0.0/16").hosts()
    good = [str(next(hosts)) for _ in range(700)]
    silent = [str(ns.network.network_address + offset) for offset in range(10, 210)]  # 200 nobody answers
    bad = [f"nope-{n}.invalid" for n in range(50)] + ["::ffff:999.1.1.1", "256.1.2.3"] * 25  # 100 errors
    targets = good + silent + bad
    assert len(targets) == 1000
    async with IcmpProber(resolve_timeout=5.0) as prober:
        started = time.monotonic()
        results = await asyncio.gather(
            *(prober.probe_stats(target, count=2, interval=0.3, timeout=1.0) for target in targets)
        )
        elapsed = time.monotonic() - started
    by_target = dict(zip(targets, results, strict=True))
    assert all(
        by_target[t].stats.result_code is ResultCode.OK and by_target[t].stats.loss_pct == 0 for t in good
    )
    assert all(by_target[t].stats.result_code is ResultCode.NO_REPLY for t in silent)
    assert all(by_target[t].stats.result_code is ResultCode.ERROR for t in bad)
    assert elapsed < 10, elapsed


# --- privileges -------------------------------------------------------------------------------------------

_AS_NOBODY = textwrap.dedent(
    """
    import asyncio, os, sys
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    from netpoll.errors import IcmpError
    from netpoll.inputs.icmp import IcmpProber

    async def main():
        try:
            async with IcmpProber() as prober:
                result = await prober.probe_stats("127.0.0.1", count=3, interval=0.01, timeout=1.0)
                stats = result.stats
                print(prober.socket_kinds["IPv4"], stats.received, stats.result_code.value, stats.ttl)
        except IcmpError as exc:
            print("IcmpError:", exc)
            sys.exit(3)

    asyncio.run(main())
    """
)


def _run_as_nobody(ns: Netns) -> subprocess.CompletedProcess[str]:
    return ns.exec([sys.executable, "-c", _AS_NOBODY], check=False, cwd="/", timeout=60)


def test_without_privileges_one_clear_error(netns_factory: Callable[..., Netns]) -> None:
    ns = netns_factory("npicmp")
    ns.sysctl("net.ipv4.ping_group_range", "1 0")  # datagram ICMP sockets off, as on a default host
    done = _run_as_nobody(ns)
    assert done.returncode == 3, done.stderr
    message = done.stdout
    assert "Traceback" not in done.stderr
    assert "ping_group_range" in message
    assert 'sysctl -w net.ipv4.ping_group_range="0 2147483647"' in message
    assert "CAP_NET_RAW" in message
    assert "setcap cap_net_raw+ep" in message
    assert "gid 65534" in message


def test_cli_without_privileges_is_one_line(netns_factory: Callable[..., Netns]) -> None:
    ns = netns_factory("npicmp")
    ns.sysctl("net.ipv4.ping_group_range", "1 0")
    code = (
        "import os, sys\nos.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "from netpoll.cli.main import main\nsys.exit(main(['ping', '127.0.0.1', '--count', '1']))\n"
    )
    done = ns.exec([sys.executable, "-c", code], check=False, cwd="/", timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("netpoll: cannot open an ICMP socket"), done.stderr


def test_unprivileged_datagram_sockets_with_ping_group_range(netns_factory: Callable[..., Netns]) -> None:
    ns = netns_factory("npicmp")
    ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    ns.sysctl("net.ipv4.ip_default_ttl", 41)  # the datagram socket reads the TTL too (IP_RECVTTL)
    done = _run_as_nobody(ns)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["dgram", "3", "0", "41"]


# --- netpoll ping ---------------------------------------------------------------------------------------

INVENTORY = """
devices:
  - name: lo-core
    address: 127.0.0.1
    site: lab
    snmp:
      enabled: false
    ping:
      count: 4
      packet_interval_s: 0.01
      timeout_s: 1
"""


def test_cli_ping_inventory_names_addresses_and_cidr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_root()
    inventory = tmp_path / "lab.yaml"
    inventory.write_text(INVENTORY)
    code = main(["ping", "lo-core", "::1", "127.0.0.8/30", "--inventory", str(inventory), "-f", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    by_device = {record["tags"]["device"]: record for record in out}
    assert list(by_device) == ["lo-core", "::1", "127.0.0.9", "127.0.0.10"]
    assert by_device["lo-core"]["tags"] == {"device": "lo-core", "url": "127.0.0.1", "site": "lab"}
    assert by_device["lo-core"]["fields"]["packets_transmitted"] == 4  # the device's own settings
    assert by_device["::1"]["fields"]["packets_transmitted"] == 3  # the defaults


def test_cli_ping_line_protocol_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    _need_root()
    assert main(["ping", "127.0.0.1", "-c", "2", "--interval", "0.01", "-f", "lp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "ping,device=127.0.0.1,url=127.0.0.1 packets_transmitted=2i,packets_received=2i"
    )
    assert main(["ping", "127.0.0.1", "no-such-host.invalid", "-c", "1", "-t", "0.5"]) == 2
    captured = capsys.readouterr()
    assert "no-such-host.invalid" in captured.out
    assert "does not resolve" in captured.err


def test_cli_ping_telegraf_naming(capsys: pytest.CaptureFixture[str]) -> None:
    """``--naming telegraf``: result code 1 for a name that does not resolve (netpoll: 2); ttl as read."""
    _need_root()
    argv = ["ping", "127.0.0.1", "no-such-host.invalid", "-c", "1", "-t", "0.5", "-f", "lp"]
    codes = {}
    for naming in ("netpoll", "telegraf"):
        assert main([*argv, "--naming", naming]) == 2  # the exit status keeps netpoll's meaning
        lines = capsys.readouterr().out.splitlines()
        codes[naming] = [line.split("result_code=")[1].split(",")[0] for line in lines]
        assert "ttl=" in lines[0]
        assert 'error="no such host: ' in lines[1]
    assert codes == {"netpoll": ["0i", "2i"], "telegraf": ["0i", "1i"]}


def test_cli_ping_misspelt_inventory_name_gets_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _need_root()

    def unknown(*args: Any, **kwargs: Any) -> Any:  # no query to the system's resolver
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    inventory = tmp_path / "lab.yaml"
    inventory.write_text(INVENTORY)
    assert main(["ping", "lo-cor", "--inventory", str(inventory), "-c", "1", "-t", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("lo-cor: ")
    assert err[0].endswith("; did you mean 'lo-core'?")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ping", "10.0.0.0/8"], "at most 65536"),
        (["ping", "foo/33"], "neither an inventory device nor a CIDR"),
    ],
)
def test_cli_ping_user_mistakes_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


async def test_closing_under_running_probes_neither_hangs_nor_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    _need_root()
    sent_to: set[str] = set()
    send = Channel.send

    def counted(
        channel: Channel, probe: Any, index: int, sockaddr: tuple[Any, ...], payload_size: int
    ) -> None:
        sent_to.add(sockaddr[0])
        send(channel, probe, index, sockaddr, payload_size)

    monkeypatch.setattr(Channel, "send", counted)
    prober = IcmpProber(burst=16)
    await prober.__aenter__()
    tasks = [
        asyncio.create_task(prober.probe_stats(f"127.4.0.{n}", count=3, interval=2.0, timeout=2.0))
        for n in range(1, 201)
    ]
    # Closed once every probe has sent its first echo (a few loop turns at 16 a burst, after the addresses'
    # resolution in worker threads, slow on a busy machine) and before any has ended (they run 6 s): each
    # then ends at its next send (2 s apart), which fails.
    async with asyncio.timeout(10):
        while len(sent_to) < 200:  # noqa: ASYNC110 - filled by the prober's sends
            await asyncio.sleep(0.01)
    await prober.__aexit__(None, None, None)
    async with asyncio.timeout(10):
        results = await asyncio.gather(*tasks)
    assert all(result.stats.transmitted >= 1 for result in results)
    assert all(result.error is not None for result in results)
