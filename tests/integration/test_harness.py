"""The test harness's fixtures against the real servers they start."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import aiomqtt
import icmplib
import pytest
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS

from tests.harness.influxdb1 import InfluxDB1
from tests.harness.mosquitto import MqttBroker
from tests.harness.netns import Netns
from tests.harness.process import ServerProcess, ServerStartError, require_binary
from tests.harness.snmpd import (
    IF_TABLE_CACHE_TIMEOUT_OID,
    SYS_DESCR_OID,
    SYS_OBJECT_ID_OID,
    SnmpdAgent,
)
from tests.harness.snmpsim import SnmpsimAgent
from tests.harness.victoriametrics import VictoriaMetrics

pytestmark = pytest.mark.network


def snmp(tool: str, args: Sequence[str], target: str, *oids: str) -> str:
    """Run a net-snmp tool (numeric OIDs, one try) and return its output; fail with its stderr."""
    binary = shutil.which(tool)
    if binary is None:
        pytest.skip(f"{tool} not found: needs Debian package snmp")
    argv = [binary, *args, "-On", "-r", "1", "-t", "2", "-M", "/dev/null", target, *oids]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_snmpd_v2c_get(snmpd: SnmpdAgent) -> None:
    out = snmp("snmpget", ["-v2c", "-c", snmpd.community], f"{snmpd.host}:{snmpd.port}", SYS_DESCR_OID)
    assert out.startswith(f".{SYS_DESCR_OID} = STRING: ")
    assert snmpd.pid > 0


@pytest.mark.parametrize(
    "user", ["sha256_aes128", "sha_aes", "md5_des", "sha512_aes256", "sha_nopriv", "noauth_nopriv"]
)
def test_snmpd_v3_get(snmpd: SnmpdAgent, user: str) -> None:
    v3 = snmpd.v3_users[user]
    out = snmp("snmpget", v3.netsnmp_args(), f"{snmpd.host}:{snmpd.port}", SYS_DESCR_OID)
    assert f".{SYS_DESCR_OID} = STRING: " in out


def test_snmpd_rw_community_sets_cache_timeout(snmpd: SnmpdAgent) -> None:
    target = f"{snmpd.host}:{snmpd.port}"
    out = snmp("snmpset", ["-v2c", "-c", snmpd.rw_community], target, IF_TABLE_CACHE_TIMEOUT_OID, "i", "0")
    assert out.strip().endswith("INTEGER: 0")


def test_snmpd_many_addresses(snmpd_factory: Callable[..., SnmpdAgent]) -> None:
    addresses = [f"127.2.{i // 250}.{i % 250 + 1}" for i in range(200)]
    agent = snmpd_factory(addresses=addresses)
    assert len(agent.addresses) == 200
    for host, port in (agent.addresses[0], agent.addresses[-1]):
        out = snmp("snmpget", ["-v2c", "-c", agent.community], f"{host}:{port}", SYS_OBJECT_ID_OID)
        assert "OID: .1.3.6.1.4.1.8072" in out


def test_snmpd_inside_netns(
    netns_factory: Callable[..., Netns], snmpd_factory: Callable[..., SnmpdAgent]
) -> None:
    ns = netns_factory()
    agent = snmpd_factory(netns=ns)
    assert (agent.host, agent.port) == (ns.ns_ip, 161)
    out = snmp("snmpget", ["-v2c", "-c", agent.community], f"{agent.host}:161", SYS_DESCR_OID)
    assert "STRING:" in out
    out = snmp(
        "snmpset",
        ["-v2c", "-c", agent.rw_community],
        f"{agent.host}:161",
        IF_TABLE_CACHE_TIMEOUT_OID,
        "i",
        "0",
    )
    assert "INTEGER: 0" in out


@pytest.mark.parametrize(
    ("community", "sys_object_id"),
    [
        ("mikrotik-routeros-crs317", ".1.3.6.1.4.1.14988.1"),
        ("juniper-junos-vmx", ".1.3.6.1.4.1.2636.1.1.1.2.108"),
    ],
)
def test_snmpsim_lab_get(snmpsim_lab: SnmpsimAgent, community: str, sys_object_id: str) -> None:
    assert community in snmpsim_lab.communities
    assert len(snmpsim_lab.communities) >= 11
    out = snmp(
        "snmpget", ["-v2c", "-c", community], f"{snmpsim_lab.host}:{snmpsim_lab.port}", SYS_OBJECT_ID_OID
    )
    assert out.strip() == f".{SYS_OBJECT_ID_OID} = OID: {sys_object_id}"


def test_snmpsim_factory_serves_moving_counters(
    snmpsim_factory: Callable[..., SnmpsimAgent], tmp_path: Path
) -> None:
    (tmp_path / "moving.snmprec").write_text(
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10\n1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=1000\n"
    )
    agent = snmpsim_factory(tmp_path)
    assert agent.communities == ["moving"]
    target = f"{agent.host}:{agent.port}"

    def uptime() -> int:
        return int(snmp("snmpget", ["-v2c", "-c", "moving", "-Ot"], target, "1.3.6.1.2.1.1.3.0").split()[-1])

    first = uptime()
    time.sleep(0.3)
    assert uptime() > first


async def _round_trip(broker: MqttBroker, topic: str, payload: bytes) -> bytes:
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"sub-{topic}") as sub:
        await sub.subscribe(topic, qos=1)
        async with aiomqtt.Client(broker.host, broker.port) as pub:
            await pub.publish(topic, payload, qos=1)
        async with asyncio.timeout(5):
            async for message in sub.messages:
                return bytes(message.payload)  # type: ignore[arg-type]
    raise AssertionError("no message")


async def test_mosquitto_round_trip(mosquitto: MqttBroker) -> None:
    assert await _round_trip(mosquitto, "netpoll/test/harness", b"hello") == b"hello"


def test_shared_broker_left_stopped_by_a_test(mosquitto: MqttBroker) -> None:
    mosquitto.stop()  # as a failing reconnect test might leave it


async def test_shared_broker_restarted_after_such_a_test(mosquitto: MqttBroker) -> None:
    assert mosquitto.pid > 0
    assert await _round_trip(mosquitto, "netpoll/test/restarted", b"back") == b"back"


async def test_mosquitto_restart_keeps_queued_messages(mosquitto_factory: Callable[..., MqttBroker]) -> None:
    broker = mosquitto_factory()
    topic = "netpoll/test/persist"
    # A persistent session (clean_session=False) subscribed at QoS 1, then offline.
    async with aiomqtt.Client(broker.host, broker.port, identifier="persist-sub", clean_session=False) as sub:
        await sub.subscribe(topic, qos=1)
    async with aiomqtt.Client(broker.host, broker.port) as pub:
        await pub.publish(topic, b"queued", qos=1)
    port = broker.port
    broker.stop()
    broker.start()
    assert broker.port == port
    async with aiomqtt.Client(broker.host, broker.port, identifier="persist-sub", clean_session=False) as sub:
        async with asyncio.timeout(5):
            async for message in sub.messages:
                assert message.payload == b"queued"
                break
    assert await _round_trip(broker, "netpoll/test/after", b"again") == b"again"


def _write_influx_v2(url: str, lines: str) -> None:
    with InfluxDBClient(url=url, token="any", org="any") as client:
        client.write_api(write_options=SYNCHRONOUS).write(bucket="any", record=lines)


def test_victoriametrics_write_then_export(victoriametrics: VictoriaMetrics) -> None:
    _write_influx_v2(
        victoriametrics.url, "interface,device=r1,ifName=ge-0/0/0 in_bps=1.5,out_bps=2 1700000000123000000"
    )
    series = victoriametrics.export('{__name__=~"interface_.*", device="r1"}')
    by_name = {s["metric"]["__name__"]: s for s in series}
    assert set(by_name) == {"interface_in_bps", "interface_out_bps"}
    assert by_name["interface_in_bps"]["metric"]["ifName"] == "ge-0/0/0"
    assert by_name["interface_in_bps"]["values"] == [1.5]
    assert by_name["interface_in_bps"]["timestamps"] == [1700000000123]


def test_victoriametrics_restart_keeps_data(victoriametrics: VictoriaMetrics) -> None:
    _write_influx_v2(victoriametrics.url, "snmp,device=r2 poll_ok=1i 1700000001000000000")
    victoriametrics.flush()
    port = victoriametrics.port
    victoriametrics.stop()
    victoriametrics.start()
    assert victoriametrics.port == port
    assert [s["values"] for s in victoriametrics.export('{__name__="snmp_poll_ok", device="r2"}')] == [[1]]
    _write_influx_v2(victoriametrics.url, "snmp,device=r3 poll_ok=0i 1700000002000000000")
    assert len(victoriametrics.export('{__name__="snmp_poll_ok"}')) == 2


def test_influxdb1_influxql(influxdb1: InfluxDB1) -> None:
    influxdb1.create_database("netpoll")
    influxdb1.write(
        "netpoll", "ping,device=r1,url=198.18.0.2 average_response_ms=1.25,reachable=true 1700000000000000000"
    )
    answer = influxdb1.query("netpoll", 'SELECT "average_response_ms" FROM "ping" WHERE "device" = \'r1\'')
    series = answer["results"][0]["series"][0]
    assert series["name"] == "ping"
    assert series["values"] == [[1700000000000000000, 1.25]]


def test_netns_ping_sysctl_nft(netns_factory: Callable[..., Netns]) -> None:
    ns = netns_factory()
    assert ns.host_ip.startswith("198.1")
    assert ns.ns_ip.endswith(".2")
    assert ns.prefixlen == 24
    assert (
        ns.name in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    )
    # raw-socket echo from the host (root) into the namespace
    assert icmplib.ping(ns.ns_ip, count=1, timeout=2, privileged=True).is_alive
    # per-namespace sysctl: datagram ICMP sockets enabled inside only
    ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    assert ns.exec(["cat", "/proc/sys/net/ipv4/ping_group_range"]).stdout.split() == ["0", "2147483647"]
    # extra device addresses inside, routed from the host
    extra = ns.network.network_address + 10
    ns.add_addresses([str(extra)])
    assert icmplib.ping(str(extra), count=1, timeout=2, privileged=True).is_alive
    # nftables inside the namespace: drop echo requests to the extra address
    if shutil.which("nft"):
        rule = f"ip daddr {extra} icmp type echo-request drop"
        ns.nft(f"table inet t {{\n chain c {{\n type filter hook input priority 0;\n {rule}\n }}\n}}\n")
        assert not icmplib.ping(str(extra), count=1, timeout=0.5, privileged=True).is_alive
        assert icmplib.ping(ns.ns_ip, count=1, timeout=2, privileged=True).is_alive


def test_netns_removed_at_teardown(netns_factory: Callable[..., Netns]) -> None:
    from tests.harness.netns import create_netns

    ns = create_netns("nptmp")
    sleeper = None
    try:
        sleeper = ns.popen(["sleep", "30"])
    finally:
        ns.remove()  # also kills what still runs inside
        if sleeper is not None:
            assert sleeper.wait(5) != 0
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert ns.name not in listed
    assert f"{ns.host_if}@" not in links


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_server_fails_under_ci_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="needs Debian package nosuchpkg"):
        require_binary("netpoll-no-such-server", "Debian package nosuchpkg")


def test_server_that_dies_reports_its_log(tmp_path: Path) -> None:
    proc = ServerProcess(
        "dies", ["sh", "-c", "echo boom-marker; exit 3"], log_dir=tmp_path, ready=lambda _p: False, timeout=5
    )
    with pytest.raises(ServerStartError, match=r"(?s)exited with status 3.*boom-marker"):
        proc.start()
