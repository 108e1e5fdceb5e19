"""Interface selection against real agents (snmpsim): an exclude rule removes exactly the matching interfaces
of a lab recording, and a 200-interface device of which 4 are selected is polled, after the label walk, with
GETs of those rows, and its label polls keep the labels while ifTableLastChange stays: the request PDUs
counted at a UDP relay in front of snmpsim, for both backends."""

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
from netpoll.inputs.snmp.poller import LABEL_EVERY, SnmpPoller
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
        # Set, so walks never size themselves to ifNumber for an agent that seems slow (a loaded machine):
        # the request counts below do not depend on how fast snmpsim answers.
        max_repetitions=25,
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


# The same 200 interfaces under four communities: without ifTableLastChange (the label polls walk, as on an
# agent that lacks it), with it, with it changed and row 5 become an uplink, and with it unchanged but row
# 4's ifAlias edited (which does not move ifTableLastChange).
LAST_CHANGE = 4200
RECORDINGS = {
    "if200": {},
    "if200lc": {"last_change": LAST_CHANGE},
    "if200added": {"last_change": LAST_CHANGE + 100, "aliases": {5: "uplink-5"}},
    "if200alias": {"last_change": LAST_CHANGE, "aliases": {4: "spare"}},
}


@pytest.fixture(scope="module")
def relay(snmpsim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DelayRelay]:
    data = tmp_path_factory.mktemp("if200")
    for name, variant in RECORDINGS.items():
        write_snmprec(data, 200, name, **variant)
    agent = snmpsim_factory(data)
    counting = DelayRelay((agent.host, agent.port), 0.0)  # no delay: it only counts the request PDUs
    yield counting
    counting.stop()


FOUR = InterfaceSelection(include=InterfaceRules(ifAlias=("^uplink-",)))
CYCLE = LABEL_EVERY + 1  # polls 0 (labels walked) to LABEL_EVERY (the next label poll)
WANT = [4] * LABEL_EVERY


async def _requests(
    relay: DelayRelay, devices: list[Device], expected: list[int] | int, **poller_args: Any
) -> list[int]:
    """Poll ``devices[i]`` as poll i (one device name, one poller): the request PDUs of each poll."""
    counts = []
    wanted = expected if isinstance(expected, list) else [expected] * len(devices)
    async with SnmpClientPool() as pool:
        poller = SnmpPoller(pool, load_profiles(), **poller_args)
        for device, interfaces in zip(devices, wanted, strict=True):
            before = relay.requests
            result = await poller.run(device, Budget.start(60))
            assert result.ok, result.error
            counts.append(relay.requests - before)
            assert len([s for s in result.samples if s.measurement == "interface"]) == interfaces
    return counts


def _on(relay: DelayRelay, backend: str, name: str, selection: InterfaceSelection, **snmp: Any) -> Device:
    """Device ``name`` polled through the relay, reading the recording ``community``."""
    community = snmp.pop("community", "if200lc")
    device = _device(relay.host, relay.port, community, backend, selection)
    assert device.snmp is not None
    return device.model_copy(update={"name": name, "snmp": device.snmp.model_copy(update=snmp)})


@pytest.mark.parametrize("backend", ["gufo", "pysnmp"])
async def test_four_of_two_hundred_take_a_tenth_of_the_pdus(relay: DelayRelay, backend: str) -> None:
    """Over a whole label cycle (11 polls, the label polls 0 and 10 included), 4 selected of 200 take at
    most 10% of the request PDUs of reading every row on every poll (labels walked, counters by GET: fewer
    requests than a full walk)."""
    every_row = _on(relay, backend, "walk", InterfaceSelection(), labels_max_age_s=0)
    # label_every=1 and labels_max_age_s=0: every poll walks the labels of every row and reads their counters
    # (by GETs: fewer requests than walks of 200 rows).
    walk = await _requests(relay, [every_row] * 2, 200, label_every=1)
    every = await _requests(relay, [_on(relay, backend, "every", InterfaceSelection())] * 2, 200)
    four = await _requests(relay, [_on(relay, backend, "four", FOUR)] * CYCLE, 4)
    # An agent without ifTableLastChange: every label poll walks the labels of every row.
    old = await _requests(relay, [_on(relay, backend, "old", FOUR, community="if200")] * CYCLE, 4)
    walks = walk[0] + (CYCLE - 1) * walk[1]  # the first poll also picks the profile and finds absent tables
    # All 200 selected, read by GETs between label walks: at least this over the cycle (its label poll 10
    # takes more than the polls before it).
    gets = every[0] + (CYCLE - 1) * every[1]
    print(
        f"{backend}: request PDUs per poll, 200 interfaces: walking every row {walk}; all selected {every};"
        f" 4 selected {four}; 4 selected, agent without ifTableLastChange {old}. Over {CYCLE} polls:"
        f" 4 selected {sum(four)} = {sum(four) / walks:.1%} of walking every row ({walks}),"
        f" <= {sum(four) / gets:.1%} of all selected (>= {gets}); without ifTableLastChange {sum(old)} ="
        f" {sum(old) / walks:.1%} / <= {sum(old) / gets:.1%}"
    )
    assert sum(four) <= 0.10 * walks
    # Against every row read by GETs (50 requests a poll since the GETs are packed by bytes, 62 before; the
    # first poll 91, 184 before) the 4 rows' first poll, mostly its walks of ifDescr, ifName and ifAlias (27
    # of 42 requests), weighs more.
    assert sum(four) <= 0.12 * gets
    steady = four[1]
    assert four[1:LABEL_EVERY] == [steady] * (LABEL_EVERY - 1)
    assert steady <= 0.10 * every[1]
    # The label poll keeps the labels: the steady poll and one GET of the 4 rows' label cells.
    assert four[LABEL_EVERY] == steady + 1
    assert old[LABEL_EVERY] > 4 * four[LABEL_EVERY]  # the walk of every row's labels, 9 requests a column
    assert four[0] < every[0]  # the label poll GETs 4 rows' counters instead of walking 200


@pytest.mark.parametrize("backend", ["gufo", "pysnmp"])
async def test_a_changed_interface_table_is_walked_again(relay: DelayRelay, backend: str) -> None:
    """The label poll after ifTableLastChange moved walks every row's labels (and finds a new uplink); one
    after an ifAlias edit of a selected row (ifTableLastChange as it was) does too, seen by its label GET."""
    steady = [_on(relay, backend, "changed", FOUR)] * LABEL_EVERY
    added = _on(relay, backend, "changed", FOUR, community="if200added")
    edited = _on(relay, backend, "changed", FOUR, community="if200alias")
    moved = await _requests(relay, [*steady, added], [*WANT, 5])
    aliased = await _requests(relay, [*steady, edited], [*WANT, 3])
    print(f"{backend}: label poll after ifTableLastChange moved {moved}; after an ifAlias edit {aliased}")
    kept = moved[1] + 1  # a label poll that keeps the labels (test above)
    assert moved[-1] > 4 * kept
    assert aliased[-1] > 4 * kept


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
