"""Every producer, run for real, writes only what ``netpoll.measurements`` declares, with the declared types.

Producers: the SNMP poller on every lab recording (snmpsim) and on the generated demo devices, ping on
loopback, the self-monitoring record, and the alert records the default rules make of all of it. (The daemon
end to end, MQTT counters included, is checked the same way in test_alerts_daemon.py and, through the
dashboards' lab data, in test_dashboards.py.) The last test checks the other way round: every declared field
was written by one of them, so the model (and the docs generated from it) holds nothing stale.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from netpoll.alerts.engine import AlertEngine
from netpoll.alerts.rules import load_rules
from netpoll.config import TrapsConfig
from netpoll.daemon.scheduler import CycleStats
from netpoll.daemon.selfmon import SelfMonitor, SinkFigures
from netpoll.daemon.traps import TrapIntake
from netpoll.demo.lab import write_lab
from netpoll.demo.simulator import Simulator
from netpoll.inputs.icmp import IcmpProber
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inputs.traps.catalog import load_trap_names
from netpoll.inputs.traps.receiver import TrapReceiver
from netpoll.inputs.traps.sources import Sources
from netpoll.inventory.loader import load_inventory
from netpoll.inventory.models import CommunityCredentials, Device, PingSettings, SnmpSettings
from netpoll.measurements import MODEL, TABLE_MEASUREMENTS
from netpoll.naming import TelegrafNaming
from netpoll.probe import Budget
from netpoll.sample import Sample
from tests.harness.ports import free_port
from tests.harness.process import require_binary

pytestmark = pytest.mark.network


# What the producer tests below saw written, for the last test: measurement → field names; and which ran.
SEEN: dict[str, set[str]] = {}
PRODUCERS_RUN: set[str] = set()
# Declared fields no producer here can write, and why.
NOT_EXERCISED = {
    **{
        (
            name,
            field.name,
        ): "per-row tables, off in the shipped profiles: tests/integration/test_snmp_tables.py"
        for name, measurement in TABLE_MEASUREMENTS.items()
        for field in measurement.fields
    },
    ("snmp", "sessions_util_pct"): "PAN-OS only; no lab recording of one",
    ("snmp", "config_changed"): "no lab recording has it: tests/integration/test_security_signals.py",
    ("snmp", "config_changed_uptime_s"): "as config_changed: tests/integration/test_security_signals.py",
    (
        "snmp",
        "partial",
    ): "when a deadline cuts the profile tables: tests/integration/test_snmp_slow_device.py",
}


def check(producer: str, samples: Iterable[Sample]) -> None:
    """Every sample fits the model (each distinct problem once, with the device it was first seen on)."""
    found: dict[str, str] = {}
    for sample in samples:
        SEEN.setdefault(sample.measurement, set()).update(sample.fields)
        for problem in MODEL.problems(sample):
            found.setdefault(problem, sample.tags.get("device", sample.tags.get("instance", "?")))
    assert not found, "\n".join(f"{device}: {problem}" for problem, device in sorted(found.items()))
    PRODUCERS_RUN.add(producer)


async def poll_twice(devices: list[Device]) -> list[Sample]:
    """Two polls of every device (the second gives the rates)."""
    samples: list[Sample] = []
    async with SnmpClientPool() as pool:
        poller = SnmpPoller(pool, load_profiles())
        for _ in range(2):
            polls = await asyncio.gather(*(poller.run(device, Budget.start(120)) for device in devices))
            samples += [sample for poll in polls for sample in poll.samples]
            await asyncio.sleep(1.0)
    return samples


def alerts_of(samples: list[Sample]) -> list[Sample]:
    """The ``alert`` records the default rules make of these samples."""
    return [alert.to_sample() for alert in AlertEngine(load_rules(None)).evaluate(samples)]


async def test_lab_recordings(snmpsim_lab: Any) -> None:
    devices = [
        Device(
            name=community,
            address=snmpsim_lab.host,
            site="lab",
            tags={"rack": "r1"},
            snmp=SnmpSettings(
                credentials=CommunityCredentials(profile="lab", version="2c", community=SecretStr(community)),
                port=snmpsim_lab.port,
                timeout_s=5,
                retries=2,
            ),
        )
        for community in snmpsim_lab.communities
    ]
    # And one that never answers: the record of a failed poll.
    public = CommunityCredentials(profile="lab", version="2c", community=SecretStr("public"))
    silent_snmp = SnmpSettings(credentials=public, port=free_port("udp"), timeout_s=0.3, retries=0)
    silent = Device(name="silent", address="127.0.0.1", snmp=silent_snmp)
    samples = await poll_twice([*devices, silent])
    assert {s.measurement for s in samples} == {"interface", "snmp"}  # the shipped tables are off
    ok = [s.tags["device"] for s in samples if s.measurement == "snmp" and s.fields.get("poll_ok") == 1]
    assert sorted(ok) == sorted(2 * [device.name for device in devices])
    assert any("in_bps" in s.fields for s in samples), "no rates: the second poll did not count"
    # What the time-series output writes with ``naming: telegraf``: Telegraf's tags and fields beside them.
    check("lab recordings", [*samples, *alerts_of(samples), *TelegrafNaming()(samples)])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """The generated demo lab: (recordings, inventory file, SNMP port)."""
    port = free_port("udp")
    recordings, inventory_file = write_lab(tmp_path_factory.mktemp("demo"), port, 1.0)
    return recordings, inventory_file, port


async def test_demo_devices(demo: tuple[Path, Path, int], tmp_path: Path) -> None:
    recordings, inventory_file, port = demo
    devices = [device for device in load_inventory([inventory_file]).devices if device.snmp is not None]
    assert devices
    addresses = sorted({device.address for device in devices})
    community = next(recordings.glob("*.snmprec")).stem  # snmpsim: the community is the file stem
    async with Simulator(recordings, addresses, port, tmp_path, community):
        samples = await poll_twice(devices)
    failed = [s.fields.get("error") for s in samples if s.measurement == "snmp" and s.fields["poll_ok"] != 1]
    assert not failed, failed
    check("demo devices", [*samples, *alerts_of(samples)])


async def test_ping_on_loopback(demo: tuple[Path, Path, int]) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: raw ICMP sockets (ping_group_range is '1 0' outside a test's namespace)")
    quick = PingSettings(count=2, packet_interval_s=0.01, timeout_s=1.0)
    targets = [device.model_copy(update={"ping": quick}) for device in load_inventory([demo[1]]).devices]
    async with IcmpProber() as prober:
        results = await asyncio.gather(*(prober.run(device, Budget.start(10)) for device in targets))
        samples = [sample for result in results for sample in result.samples]
        echo = await prober.probe_stats("::1", count=2, interval=0.01, timeout=1.0)
        samples.append(echo.sample(device="::1"))
        # An address that names no host (an unknown scope; no DNS query): the record of a probe that
        # could not run, with its error.
        bad = await prober.probe_stats("fe80::1%nosuchif0", count=1, timeout=0.5)
    assert all(sample.fields["reachable"] == 1 for sample in samples), samples
    samples.append(bad.sample(device="bad"))
    assert samples[-1].fields["error"].startswith("no such host"), samples[-1]
    (renamed,) = TelegrafNaming()(samples[-1:])
    assert (samples[-1].fields["result_code"], renamed.fields["result_code"]) == (2, 1)
    check("ping", [*samples, *alerts_of(samples), *TelegrafNaming()(samples)])


def test_self_monitoring_records() -> None:
    monitor = SelfMonitor("poller1", "1/2")
    cycle = CycleStats(polls_ok=5, polls_failed=1, polls_skipped=2, polls_late=1, poll_lag_ms_max=12.5)
    mqtt = {"queued": 2, "published": 7, "dropped": 1, "enqueued": 10, "connected": 1}
    samples = [
        monitor.cycle_sample(cycle, SinkFigures(3, 100, 4.5, 1000, 2), devices=4),
        monitor.cycle_sample(CycleStats(), SinkFigures(0, 0, 0.0, 1000, 2), devices=4, mqtt=mqtt),
    ]
    assert set(samples[1].fields) == MODEL["netpoll"].field_names
    check("self-monitoring", samples)


async def test_trap_records() -> None:
    """Real net-snmp v1 and v2c traps, from an inventory device (site, role, free tags) and from anyone;
    a wrong community through the daemon's intake (its ``trap_auth`` record)."""
    snmptrap = require_binary("snmptrap", "Debian package snmp")
    credentials = CommunityCredentials(profile="c", version="2c", community=SecretStr("public"))
    r1 = Device(
        name="r1", address="127.0.0.1", site="par1", role="router", tags={"rack": "a1"},
        snmp=SnmpSettings(credentials=credentials),
    )  # fmt: skip
    samples = []
    for sources in (Sources([r1]), None):
        async with TrapReceiver([("127.0.0.1", 0)], sources, names=load_trap_names()) as receiver:
            target = f"127.0.0.1:{receiver.addresses[0][1]}"
            for version in (["-v1", "-c", "public", target, "1.3.6.1.4.1.8072", "127.0.0.1", "3", "0", ""],
                            ["-v2c", "-c", "public", target, "", "1.3.6.1.6.3.1.1.5.1"]):  # fmt: skip
                proc = await asyncio.create_subprocess_exec(
                    snmptrap, *version, "1.3.6.1.2.1.2.2.1.1.3", "i", "3"
                )
                assert await asyncio.wait_for(proc.wait(), 10) == 0
                samples.append((await asyncio.wait_for(anext(aiter(receiver)), 5)).to_sample())
    assert [s.tags["trap"] for s in samples] == ["linkUp", "coldStart"] * 2
    assert samples[0].fields["severity"] == "info"  # from the shipped generic profile's traps: section
    intake = TrapIntake(TrapsConfig(enabled=True, listen=("127.0.0.1:0",)), [r1], emit=samples.extend)
    async with intake:
        target = f"127.0.0.1:{intake.receiver.addresses[0][1]}"
        guess = ["-v2c", "-c", "guessed", target, "", "1.3.6.1.6.3.1.1.5.1"]
        proc = await asyncio.create_subprocess_exec(snmptrap, *guess)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        for _ in range(100):  # bounded: 5 s
            if samples[-1].measurement == "trap_auth":
                break
            await asyncio.sleep(0.05)
    assert samples[-1].measurement == "trap_auth"
    check("traps", samples)


def test_every_declared_field_is_written_by_a_producer() -> None:
    """The model declares nothing no producer writes (a stale declaration would be a stale doc table)."""
    expected = {"lab recordings", "demo devices", "ping", "self-monitoring", "traps"}
    if expected != PRODUCERS_RUN:
        pytest.skip(f"needs the producer tests of this module to run first; ran {sorted(PRODUCERS_RUN)}")
    missing = [
        f"{name}.{field}"
        for name in MODEL
        for field in sorted(MODEL[name].field_names - SEEN.get(name, set()))
        if (name, field) not in NOT_EXERCISED
    ]
    assert not missing, f"declared but written by no producer here: {missing}"
