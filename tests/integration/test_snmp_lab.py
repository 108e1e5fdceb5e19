"""Every lab recording, served by snmpsim, polled with both backends and checked against snmpbulkwalk."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from typing import Any

import pytest
from pydantic import SecretStr

from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings
from netpoll.probe import Budget
from netpoll.sample import Sample

pytestmark = pytest.mark.network

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

# The profile each recording must pick and the device fields it must produce (what the recording holds).
EXPECTED: dict[str, tuple[str, set[str]]] = {
    "cisco-asa-5555": ("cisco-asa", {"mem_used_pct", "sessions", "temperature_c"}),
    "cisco-ios-c2960x": ("cisco", {"cpu_pct", "cpu_1min_pct", "mem_used_pct", "temperature_c"}),
    "cisco-iosxe-c9500x": ("cisco", {"cpu_pct", "mem_used_pct", "temperature_c"}),
    "cisco-nxos-n3k-c3064pq": ("cisco-nxos", {"cpu_pct", "mem_used_pct", "temperature_c"}),
    "fortinet-fortigate-1500d": ("fortinet", {"cpu_pct", "mem_used_pct", "sessions"}),
    "hpe-arubaos-cx-8325": ("hpe-aruba", {"cpu_pct", "mem_used_pct"}),
    "juniper-junos-vmx": ("juniper", {"cpu_pct", "mem_used_pct", "temperature_c"}),
    "mikrotik-routeros-crs317": ("mikrotik", {"cpu_pct", "mem_used_pct", "temperature_c"}),
    "netsnmp-linux-fullwalk": ("linux-netsnmp", {"cpu_pct", "mem_used_pct"}),
    "netsnmp-linux-rhel8": ("linux-netsnmp", {"cpu_pct", "mem_used_pct"}),
    "ubiquiti-edgeos-edgerouter": ("ubiquiti", {"cpu_pct", "mem_used_pct"}),
}


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text.strip()


def _netsnmp(tool: str, agent: Any, community: str, oid: str) -> dict[int, str]:
    """``snmpbulkwalk``/``snmpget`` output as {last sub-identifier: value}."""
    binary = shutil.which(tool)
    if binary is None:
        pytest.skip(f"{tool} not installed (Debian package snmp)")
    argv = [binary, "-m", "", "-v2c", "-c", community, "-On", "-Oq", "-Oa", "-t", "5", "-r", "2"]
    argv += [f"{agent.host}:{agent.port}", oid]
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=60, env={**os.environ, "MIBS": ""}
    ).stdout
    values: dict[int, str] = {}
    for line in out.splitlines():
        if not line.startswith(f".{oid}"):
            continue  # a continuation line of a multi-line string
        oid_text, _, value = line.partition(" ")
        values[int(oid_text.rsplit(".", 1)[1])] = _unquote(value)
    return values


@pytest.fixture(scope="module")
def reference(snmpsim_lab: Any) -> dict[str, dict[str, Any]]:
    """What plain net-snmp tools see on each recording: sysName, ifDescr and ifName by ifIndex."""
    ref: dict[str, dict[str, Any]] = {}
    for community in snmpsim_lab.communities:
        ref[community] = {
            "sysName": _netsnmp("snmpget", snmpsim_lab, community, SYS_NAME).get(0),
            "ifDescr": _netsnmp("snmpbulkwalk", snmpsim_lab, community, IF_DESCR),
            "ifName": _netsnmp("snmpbulkwalk", snmpsim_lab, community, IF_NAME),
        }
    return ref


def _device(agent: Any, community: str, backend: str) -> Device:
    creds = CommunityCredentials(profile="lab", version="2c", community=SecretStr(community))
    settings = SnmpSettings(credentials=creds, port=agent.port, backend=backend, timeout_s=5, retries=2)  # type: ignore[arg-type]
    return Device(name=community, address=agent.host, snmp=settings)


@pytest.mark.parametrize("backend", ["pysnmp", "gufo"])
async def test_every_recording_matches_snmpbulkwalk(
    snmpsim_lab: Any, reference: dict[str, dict[str, Any]], backend: str
) -> None:
    assert set(EXPECTED) <= set(snmpsim_lab.communities), "a lab recording is missing"
    devices = [_device(snmpsim_lab, c, backend) for c in snmpsim_lab.communities]
    async with SnmpClientPool() as pool:
        poller = SnmpPoller(pool, load_profiles())
        polls = await asyncio.gather(*(poller.run(d, Budget.start(120)) for d in devices))
        results: list[list[Sample]] = [poll.samples for poll in polls]
    problems: list[str] = []
    for device, samples in zip(devices, results, strict=True):
        name = device.name
        ref = reference[name]
        status = next(s for s in samples if s.measurement == "snmp")
        fields = dict(status.fields)
        if fields.get("poll_ok") != 1:
            problems.append(f"{name}: poll failed: {fields.get('error')}")
            continue
        if fields.get("sys_name") != ref["sysName"]:
            problems.append(f"{name}: sysName {fields.get('sys_name')!r} != {ref['sysName']!r}")
        interfaces = {int(s.tags["ifIndex"]): s for s in samples if s.measurement == "interface"}
        expected_rows = set(ref["ifDescr"]) | set(ref["ifName"])
        if set(interfaces) != expected_rows:
            problems.append(f"{name}: {len(interfaces)} interfaces, snmpbulkwalk sees {len(expected_rows)}")
        for index, if_name in ref["ifName"].items():
            got = interfaces[index].tags["ifName"] if index in interfaces else None
            if got != if_name:
                problems.append(f"{name}: ifIndex {index} ifName {got!r} != {if_name!r}")
        if name in EXPECTED:
            profile, wanted = EXPECTED[name]
            if fields.get("profile") != profile:
                problems.append(f"{name}: profile {fields.get('profile')} != {profile}")
            missing = wanted - set(fields)
            if missing:
                problems.append(f"{name}: missing device fields {sorted(missing)}")
            for key in wanted & set(fields):
                value = fields[key]
                if key.endswith("_pct") and not 0 <= float(value) <= 100:
                    problems.append(f"{name}: {key}={value} out of range")
    assert not problems, "\n".join(problems)
