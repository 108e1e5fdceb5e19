"""Per-row profile tables against real agents, with both backends.

- ``tests/data/snmprec/``: recordings written from the MIB structures for the tables no lab recording has
  (ARISTA-BGP4V2-MIB and Arista's entity sensors, CISCO-BGP4-MIB cbgpPeer2Table, JUNIPER-DOM-MIB,
  POWER-ETHERNET-MIB, a generic switch's hrStorage and hrProcessor), served by snmpsim;
- the lab recordings (BGP4-MIB, BGP4-V2-MIB-JUNIPER, ENTITY-SENSOR-MIB, CISCO-ENTITY-SENSOR-MIB, hrStorage,
  hrProcessor);
- net-snmp snmpd (hrStorage, hrProcessor of this host).

The shipped tables are off in the shipped profiles: the user profiles in ``tests/data/profiles/`` turn them
all on, the way a user does with ``profiles_dir`` or ``--profiles DIR``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from netpoll.alerts.engine import AlertEngine
from netpoll.alerts.rules import parse_rules
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import ProfileSet, load_profiles
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings
from netpoll.measurements import TABLE_MEASUREMENTS
from netpoll.probe import Budget
from netpoll.sample import Sample

pytestmark = pytest.mark.network

DATA = Path(__file__).resolve().parents[1] / "data"
USER_PROFILES = DATA / "profiles"
BACKENDS = ["pysnmp", "gufo"]


def _device(agent: Any, community: str, backend: str) -> Device:
    creds = CommunityCredentials(profile="lab", version="2c", community=SecretStr(community))
    settings = SnmpSettings(credentials=creds, port=agent.port, backend=backend, timeout_s=5, retries=2)  # type: ignore[arg-type]
    return Device(name=community, address=agent.host, snmp=settings)


async def _poll_twice(devices: list[Device], profiles: ProfileSet) -> dict[str, list[Sample]]:
    """The second poll's samples of each device (the first picks the profile and starts the rates)."""
    async with SnmpClientPool() as pool:
        poller = SnmpPoller(pool, profiles)
        polls: list[Any] = []
        for _ in range(2):
            polls = await asyncio.gather(*(poller.run(d, Budget.start(60)) for d in devices))
    return {d.name: p.samples for d, p in zip(devices, polls, strict=True)}


def _rows(samples: list[Sample], measurement: str, key: str) -> dict[str, Sample]:
    return {s.tags[key]: s for s in samples if s.measurement == measurement}


def _check_model(profiles: ProfileSet, samples: dict[str, list[Sample]]) -> None:
    model = profiles.model()
    problems = sorted({p for rows in samples.values() for s in rows for p in model.problems(s)})
    assert not problems, problems


async def _poll_every_recording(agent: Any, backend: str) -> dict[str, list[Sample]]:
    """Every recording the agent serves, polled twice with every table on; the samples fit the model."""
    profiles = load_profiles(user_dir=USER_PROFILES)
    samples = await _poll_twice([_device(agent, c, backend) for c in agent.communities], profiles)
    _check_model(profiles, samples)
    return samples


@pytest.fixture(scope="module")
def recordings(snmpsim_factory: Callable[..., Any]) -> Any:
    return snmpsim_factory(DATA / "snmprec")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_tables_of_the_written_recordings(recordings: Any, backend: str) -> None:
    samples = await _poll_every_recording(recordings, backend)
    for name, rows in samples.items():
        status = next(s for s in rows if s.measurement == "snmp")
        assert status.fields["poll_ok"] == 1, (name, status.fields)

    arista = samples["arista-eos-leaf"]
    peers = _rows(arista, "bgp_peer", "peer")
    assert set(peers) == {"192.0.2.1", "2001:db8::2", "198.51.100.9", "192.0.2.5"}
    assert peers["192.0.2.1"].fields == {
        "state": 6,
        "state_text": "established",
        "admin_status": 2,
        "remote_as": 65001,
        "established_s": 86400,
        "in_updates_ps": 0.0,  # a static recording: the counter did not move between the polls
        "out_updates_ps": 0.0,
    }
    assert peers["198.51.100.9"].tags["instance"] == "2"
    assert peers["2001:db8::2"].fields["state_text"] == "active"
    sensors = _rows(arista, "sensor", "sensor")
    assert sensors["Cpu temp sensor"].fields["value"] == pytest.approx(45.2)
    assert sensors["Cpu temp sensor"].tags["sensor_type"] == "celsius"
    assert sensors["Fan Tray 1 Fan 1 Sensor 1"].fields["value"] == 8160.0
    assert sensors["Power supply 1 input current sensor"].fields["value"] == pytest.approx(1.35)  # milli
    assert sensors["Power supply 1 output power sensor"].fields["value"] == pytest.approx(162.5)
    assert sensors["Power supply 2 input current sensor"].fields["status_text"] == "nonoperational"
    optics = _rows(arista, "optical", "sensor")
    rx1 = optics["DOM Rx Power for transceiver in Ethernet1"]
    assert (rx1.tags["ifName"], rx1.fields) == ("Ethernet1", {"rx_dbm": pytest.approx(-2.35)})
    assert optics["DOM Tx Power for transceiver in Ethernet1"].fields == {"tx_dbm": pytest.approx(-1.1)}
    assert optics["DOM Rx Power for transceiver in Ethernet2"].fields == {"rx_dbm": pytest.approx(-40.2)}
    assert len(optics) == 4  # the transceiver's temperature is a sensor, not an optical level

    cisco = _rows(samples["cisco-iosxr-edge"], "bgp_peer", "peer")
    assert set(cisco) == {"203.0.113.1", "2001:db8:ffff::1", "203.0.113.9"}
    assert cisco["2001:db8:ffff::1"].fields["established_s"] == 123000
    assert cisco["2001:db8:ffff::1"].tags["index"] == "2.16.32.1.13.184.255.255.0.0.0.0.0.0.0.0.0.1"
    assert cisco["203.0.113.9"].fields["state_text"] == "connect"

    juniper = _rows(samples["juniper-mx-dom"], "optical", "sensor")
    assert set(juniper) == {"xe-0/0/0", "xe-0/0/1"}
    assert juniper["xe-0/0/0"].fields == {
        "rx_dbm": pytest.approx(-3.12),
        "tx_dbm": pytest.approx(-1.5),
        "temperature_c": 35.0,
    }

    switch = samples["poe-access-switch"]
    ports = _rows(switch, "poe_port", "port")
    assert set(ports) == {"1/1", "1/2", "1/3", "2/1"}
    assert ports["1/1"].fields["detection_text"] == "deliveringPower"
    assert (ports["2/1"].fields["detection_text"], ports["2/1"].fields["overload_count"]) == ("fault", 7)
    storage = _rows(switch, "storage", "storage")
    assert storage["Physical memory"].fields == {
        "size_bytes": 524288 * 1024,
        "used_bytes": 262144 * 1024,
        "used_pct": 50.0,
    }
    assert storage["Physical memory"].tags["storage_type"] == "ram"
    assert "used_pct" not in storage["/flash"].fields  # size 0: no percentage
    cpus = {s.tags["index"]: s.fields["load_pct"] for s in switch if s.measurement == "processor"}
    assert cpus == {"196608": 12.0, "196609": 87.0}

    # Between them, the recordings give every field the model declares for the shipped tables.
    written = {(s.measurement, f) for rows in samples.values() for s in rows for f in s.fields}
    declared = {(name, f.name) for name, m in TABLE_MEASUREMENTS.items() for f in m.fields}
    assert declared <= written, sorted(declared - written)


async def test_a_rule_on_a_table_fires_per_row(recordings: Any) -> None:
    """Recording → poller → alert engine: one breach per BGP peer not established, entity = the peer."""
    profiles = load_profiles(user_dir=USER_PROFILES)
    rules = parse_rules(
        "rules:\n"
        "  - {name: bgp_peer_down, measurement: bgp_peer, field: state, comparison: '!=', breach: 6,"
        " when: {admin_status: 2}}\n",
        model=profiles.model(),
    )
    samples = await _poll_twice([_device(recordings, "arista-eos-leaf", "gufo")], profiles)
    alerts = AlertEngine(rules, model=profiles.model()).evaluate(samples["arista-eos-leaf"])
    # 192.0.2.5 is idle but administratively stopped (admin_status 1): not a breach.
    assert [(a.device, a.entity, a.state) for a in alerts] == [("arista-eos-leaf", "2001:db8::2", "breach")]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_tables_of_the_lab_recordings(snmpsim_lab: Any, backend: str) -> None:
    samples = await _poll_every_recording(snmpsim_lab, backend)
    found = {(name, s.measurement) for name, rows in samples.items() for s in rows}
    expected = {
        ("ubiquiti-edgeos-edgerouter", "bgp_peer"),  # BGP4-MIB
        ("juniper-junos-vmx", "bgp_peer"),  # BGP4-V2-MIB-JUNIPER
        ("cisco-asa-5555", "sensor"),  # ENTITY-SENSOR-MIB
        ("cisco-iosxe-c9500x", "sensor"),  # CISCO-ENTITY-SENSOR-MIB
        ("cisco-iosxe-c9500x", "optical"),  # CISCO-ENTITY-SENSOR-MIB dBm sensors
        ("cisco-nxos-n3k-c3064pq", "optical"),
        *((name, "storage") for name in ("netsnmp-linux-rhel8", "juniper-junos-vmx", "hpe-arubaos-cx-8325")),
        *((name, "processor") for name in ("netsnmp-linux-rhel8", "mikrotik-routeros-crs317")),
    }
    assert expected <= found, sorted(expected - found)
    peer = _rows(samples["ubiquiti-edgeos-edgerouter"], "bgp_peer", "peer")["172.16.200.1"]
    assert (peer.fields["state_text"], peer.fields["remote_as"]) == ("established", 65000)
    asa = _rows(samples["cisco-asa-5555"], "sensor", "sensor")
    assert asa["Chassis Fan Sensor 1"].tags["sensor_type"] == "rpm"
    optics = _rows(samples["cisco-iosxe-c9500x"], "optical", "sensor")
    assert optics["Fif1/0/10 Receive Power Sensor"].fields == {"rx_dbm": pytest.approx(-1.6)}
    rhel = samples["netsnmp-linux-rhel8"]
    assert len([s for s in rhel if s.measurement == "processor"]) == 24  # hrProcessorTable rows there
    assert all(0 <= s.fields["used_pct"] <= 100 for s in rhel if "used_pct" in s.fields)


async def _poll_snmpd_until_cpus(device: Device, profiles: ProfileSet) -> dict[str, list[Sample]]:
    """Poll until hrProcessorLoad is there: net-snmp answers it only once it has a minute of CPU history
    (the session's snmpd is usually older than that; the wait is bounded)."""
    deadline = asyncio.get_running_loop().time() + 75.0
    while True:
        polled = await _poll_twice([device], profiles)
        if any(s.measurement == "processor" for s in polled[device.name]):
            return polled
        if asyncio.get_running_loop().time() > deadline:
            return polled
        await asyncio.sleep(5.0)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_tables_of_snmpd(snmpd: Any, backend: str) -> None:
    """net-snmp's own hrStorage and hrProcessor rows of this host."""
    profiles = load_profiles(user_dir=USER_PROFILES)
    device = _device(snmpd, snmpd.community, backend)
    polled = await _poll_snmpd_until_cpus(device, profiles)
    _check_model(profiles, polled)
    samples = polled[device.name]
    status = next(s for s in samples if s.measurement == "snmp")
    assert status.fields["profile"] == "linux-netsnmp"
    storage = _rows(samples, "storage", "storage")
    memory = storage["Physical memory"]
    assert memory.tags["storage_type"] == "ram"
    assert isinstance(memory.fields["size_bytes"], int)
    assert memory.fields["size_bytes"] > 0
    assert 0 < float(memory.fields["used_pct"]) <= 100
    assert any(s.tags["storage_type"] == "fixedDisk" for s in storage.values()), sorted(storage)
    cpus = [s for s in samples if s.measurement == "processor"]
    assert cpus
    assert all(0 <= float(s.fields["load_pct"]) <= 100 for s in cpus)
