"""Interface selection against real agents (snmpsim): an exclude rule removes exactly the matching interfaces
of a lab recording, and a 200-interface device of which 4 are selected is polled, after the label walk, with
GETs of those rows: the request PDUs counted at a UDP relay in front of snmpsim, for both backends."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inventory.models import (
    CommunityCredentials,
    Device,
    InterfaceRules,
    InterfaceSelection,
    SnmpSettings,
)
from netpoll.probe import Budget
from netpoll.sample import Sample
from tests.harness.iftable_rec import write_snmprec
from tests.harness.udp_delay import DelayRelay

pytestmark = pytest.mark.network

LAB_DEVICE = "cisco-ios-c2960x"  # 146 interfaces: Vlan SVIs, Null0, FastEthernet0, stack ports, Gi1/0/x
EXCLUDE = InterfaceSelection(exclude=InterfaceRules(ifName=("^(Vl|Nu)",), ifType=(24, 53)))


def _device(host: str, port: int, community: str, backend: str, selection: InterfaceSelection) -> Device:
    creds = CommunityCredentials(profile="lab", version="2c", community=SecretStr(community))
    settings = SnmpSettings(
        credentials=creds,
        port=port,
        backend=backend,  # type: ignore[arg-type]
        timeout_s=5,
        retries=2,
        interfaces=selection,
    )
    return Device(name=f"{community}-{backend}", address=host, snmp=settings)


def _names(samples: list[Sample]) -> set[str]:
    return {s.tags["ifName"] for s in samples if s.measurement == "interface"}


async def test_exclude_rule_removes_the_matching_lab_interfaces(snmpsim_lab: Any) -> None:
    host, port = snmpsim_lab.host, snmpsim_lab.port
    async with SnmpClientPool() as pool:
        poller = SnmpPoller(pool, load_profiles(), explain=True)
        every = await poller.run(
            _device(host, port, LAB_DEVICE, "gufo", InterfaceSelection()), Budget.start(60)
        )
        selected = await poller.run(_device(host, port, LAB_DEVICE, "pysnmp", EXCLUDE), Budget.start(60))
        decisions = poller.decisions(f"{LAB_DEVICE}-pysnmp")
    assert every.ok, every.error
    assert selected.ok, selected.error
    all_names, kept = _names(every.samples), _names(selected.samples)
    matching = {d.row.name for d in decisions if re.search("^(Vl|Nu)", d.row.name) or d.if_type in (24, 53)}
    print(f"{LAB_DEVICE}: {len(all_names)} interfaces, {len(matching)} match the rule, {len(kept)} written")
    assert matching, "the rule must match something in the recording"
    assert kept == all_names - matching
    dropped = {d.row.name: d.dropped_by for d in decisions if d.dropped_by}
    assert set(dropped) == matching
    assert dropped.get("Vlan1", dropped.get("Vl1")) == "exclude ifName '^(Vl|Nu)'"


@pytest.fixture(scope="module")
def relay(snmpsim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DelayRelay]:
    data = tmp_path_factory.mktemp("if200")
    write_snmprec(data, 200)
    agent = snmpsim_factory(data)
    counting = DelayRelay((agent.host, agent.port), 0.0)  # no delay: it only counts the request PDUs
    yield counting
    counting.stop()


FOUR = InterfaceSelection(include=InterfaceRules(ifAlias=("^uplink-",)))


async def _requests(relay: DelayRelay, device: Device, polls: int, **poller_args: Any) -> list[int]:
    counts = []
    async with SnmpClientPool() as pool:
        poller = SnmpPoller(pool, load_profiles(), **poller_args)
        for _ in range(polls):
            before = relay.requests
            result = await poller.run(device, Budget.start(60))
            assert result.ok, result.error
            counts.append(relay.requests - before)
            expected = 4 if device.snmp and device.snmp.interfaces == FOUR else 200
            assert len([s for s in result.samples if s.measurement == "interface"]) == expected
    return counts


@pytest.mark.parametrize("backend", ["gufo", "pysnmp"])
async def test_four_of_two_hundred_take_a_tenth_of_the_pdus(relay: DelayRelay, backend: str) -> None:
    def device(name: str, selection: InterfaceSelection) -> Device:
        return _device(relay.host, relay.port, "if200", backend, selection).model_copy(update={"name": name})

    # A poll that walks every row: label_every=1 makes every poll read labels and walk the counters.
    walk = await _requests(relay, device("walk", InterfaceSelection()), 2, label_every=1)
    every = await _requests(relay, device("every", InterfaceSelection()), 3)
    four = await _requests(relay, device("four", FOUR), 3)
    cycle_every, cycle_four = every[0] + 9 * every[2], four[0] + 9 * four[2]
    print(
        f"{backend}: request PDUs per poll, 200 interfaces: walking every row {walk}; all selected {every}"
        f" (label poll, then GETs of every known cell); 4 selected {four} (label poll, then GETs of 4 rows);"
        f" steady 4-selected poll = {four[2] / walk[1]:.1%} of a full walk, {four[2] / every[2]:.1%} of the"
        f" all-selected poll; 10-poll cycle {cycle_four} vs {cycle_every} ({cycle_four / cycle_every:.1%})"
    )
    assert four[1] == four[2] <= 0.10 * walk[1]
    assert four[2] <= 0.10 * every[2]
    assert four[0] < every[0]  # the label poll GETs 4 rows' counters instead of walking 200


def _explain(snmpsim_lab: Any, tmp_path: Path, fmt: str) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "credentials:\n"
        "  lab: {version: 2c, community: '${NETPOLL_TEST_COMMUNITY}'}\n"
        "devices:\n"
        "  - name: c2960x\n"
        f"    address: '{snmpsim_lab.host}:{snmpsim_lab.port}'\n"
        "    snmp:\n"
        "      credentials: lab\n"
        "      interfaces:\n"
        "        exclude: {ifName: '^(Vl|Nu)', ifType: [softwareLoopback, propVirtual]}\n"
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "netpoll",
            "poll",
            "-i",
            str(inventory),
            "c2960x",
            "--explain",
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NETPOLL_TEST_COMMUNITY": LAB_DEVICE, "COLUMNS": "200"},
        check=False,
    )


def test_poll_explain_names_the_rule(snmpsim_lab: Any, tmp_path: Path) -> None:
    done = _explain(snmpsim_lab, tmp_path, "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    rows = out["interfaces"]
    written = {r["tags"]["ifName"] for r in out["records"] if r["measurement"] == "interface"}
    assert len(rows) == 146
    assert written == {r["ifName"] for r in rows if r["selected"]}
    dropped = {r["ifName"]: r["dropped_by"] for r in rows if not r["selected"]}
    assert dropped["Vl1"] == "exclude ifName '^(Vl|Nu)'"
    assert all(r["ifType_name"] for r in rows)  # ifType is read for --explain
    table = _explain(snmpsim_lab, tmp_path, "table")
    assert table.returncode == 0, table.stderr
    assert f"c2960x: interface selection, {len(written)} of 146 selected" in table.stdout
    assert "exclude ifName '^(Vl|Nu)'" in table.stdout
