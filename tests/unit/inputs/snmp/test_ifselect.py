"""Interface selection: the rules' decisions (table), and the poller with a selection against a fake agent
of 200 interfaces: unselected rows are not written, and after the label walk the selected rows are read with
GETs, not walks (requests counted as GETBULK would send them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import netpoll.inputs.snmp.poller
import netpoll.inputs.snmp.profiles
from netpoll.errors import ConfigError
from netpoll.inputs.snmp.fake import FakeSnmpClient
from netpoll.inputs.snmp.ifselect import selector
from netpoll.inputs.snmp.metrics import InterfaceRow
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inputs.snmp.types import Oid, SnmpValue
from netpoll.inventory.models import (
    CommunityCredentials,
    Device,
    InterfaceRules,
    InterfaceSelection,
    SnmpSettings,
)
from netpoll.probe import Budget
from tests.fakeclock import VirtualClock
from tests.harness.iftable_rec import write_snmprec


def _row(name: str, descr: str = "", alias: str = "") -> InterfaceRow:
    return InterfaceRow(1, name, {"ifName": name, "ifDescr": descr, "ifAlias": alias}, None)


@pytest.mark.parametrize(
    ("selection", "row", "if_type", "admin", "dropped_by"),
    [
        (InterfaceSelection(), _row("Gi0/1"), 6, 2, None),
        (
            InterfaceSelection(exclude=InterfaceRules(ifType=(24,))),
            _row("Lo0"),
            24,
            1,
            "exclude ifType softwareLoopback(24)",
        ),
        (
            InterfaceSelection(exclude=InterfaceRules(ifName=("^Vl",))),
            _row("Vl10"),
            135,
            1,
            "exclude ifName '^Vl'",
        ),
        (
            InterfaceSelection(include=InterfaceRules(ifAlias=("uplink",))),
            _row("Gi0/2", alias="user"),
            6,
            1,
            "matches no include rule",
        ),
        (
            InterfaceSelection(include=InterfaceRules(ifAlias=("uplink",))),
            _row("Gi0/1", alias="uplink-1"),
            6,
            1,
            None,
        ),
        # The exclude wins over the include.
        (
            InterfaceSelection(include=InterfaceRules(ifDescr=("Gig",)), exclude=InterfaceRules(ifType=(6,))),
            _row("Gi0/1", descr="GigabitEthernet0/1"),
            6,
            1,
            "exclude ifType ethernetCsmacd(6)",
        ),
        (InterfaceSelection(admin_down="drop"), _row("Gi0/1"), 6, 2, "admin down (admin_down: drop)"),
        (InterfaceSelection(admin_down="drop"), _row("Gi0/1"), 6, 1, None),
        (InterfaceSelection(admin_down="keep"), _row("Gi0/1"), 6, 2, None),
        # An unknown ifType (column absent) matches no ifType rule.
        (InterfaceSelection(exclude=InterfaceRules(ifType=(24,))), _row("lo"), None, None, None),
    ],
)
def test_decisions(
    selection: InterfaceSelection,
    row: InterfaceRow,
    if_type: int | None,
    admin: int | None,
    dropped_by: str | None,
) -> None:
    (decision,) = selector(selection).decide(
        [row], {(1,): if_type} if if_type else {}, {(1,): admin} if admin else {}
    )
    assert decision.dropped_by == dropped_by


def test_profile_default_under_the_inventory() -> None:
    profile = InterfaceSelection(exclude=InterfaceRules(ifType=(24,)), admin_down="drop")
    assert InterfaceSelection().over(profile) == profile
    mine = InterfaceSelection(exclude=InterfaceRules(), admin_down="keep")
    assert mine.over(profile) == mine
    assert selector(InterfaceSelection()) is selector(InterfaceSelection())  # compiled once


class CountingAgent(FakeSnmpClient):
    """Counts requests as the wire would carry them: a GET is one, a walk one per page (+ the end)."""

    repetitions = 25
    requests = 0

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        self.requests += 1
        return await super().get(oids)

    async def walk(self, root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        rows = await super().walk(root, max_rows)
        self.requests += len(rows) // self.repetitions + 1
        return rows


class Pool:
    def __init__(self, agent: CountingAgent) -> None:
        self.agent = agent

    def client(self, device: Device) -> CountingAgent:
        return self.agent


def _device(selection: InterfaceSelection, version: str = "2c") -> Device:
    creds = CommunityCredentials(profile="lab", version=version, community="c")  # type: ignore[arg-type]
    return Device(name="sw", address="127.0.0.1", snmp=SnmpSettings(credentials=creds, interfaces=selection))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """The poller's clock: one per test, shared by its polls."""
    virtual = VirtualClock()
    virtual.patch(monkeypatch, netpoll.inputs.snmp.poller)
    return virtual


FOUR = InterfaceSelection(include=InterfaceRules(ifAlias=("^uplink-",)))


def _polls(
    tmp_path: Path,
    clock: VirtualClock,
    selection: InterfaceSelection,
    version: str = "2c",
    count: int = 3,
    explain: bool = True,
) -> tuple[list[int], list[list[Any]], SnmpPoller]:
    agent = CountingAgent.from_snmprec(write_snmprec(tmp_path, 200))
    poller = SnmpPoller(Pool(agent), load_profiles(), explain=explain)
    device = _device(selection, version)

    async def run() -> tuple[list[int], list[list[Any]]]:
        requests, samples = [], []
        for _ in range(count):
            before = agent.requests
            result = await poller.run(device, Budget.start(30))
            assert result.ok, result.error
            requests.append(agent.requests - before)
            samples.append([s for s in result.samples if s.measurement == "interface"])
            clock.advance(60)
        return requests, samples

    requests, samples = clock.run(run())
    return requests, samples, poller


def test_four_of_two_hundred_are_read_by_get(tmp_path: Path, clock: VirtualClock) -> None:
    full, full_samples, _ = _polls(tmp_path / "full", clock, InterfaceSelection())
    few, few_samples, poller = _polls(tmp_path / "few", clock, FOUR)
    assert [len(s) for s in full_samples] == [200, 200, 200]
    assert [sorted(x.tags["ifName"] for x in s) for s in few_samples] == [
        ["Gi0/1", "Gi0/2", "Gi0/3", "Gi0/4"]
    ] * 3
    assert all("in_bps" in x.fields for x in few_samples[2]), [sorted(x.fields) for x in few_samples[2]]
    assert few_samples[1][0].fields["ifHCInOctets"] == full_samples[1][0].fields["ifHCInOctets"]
    # Poll 1: scalars, labels (+ifType for --explain), absent profile tables, then 1 GET for 4 x 14 cells
    # (~1,340 bytes of varbinds); polls 2 and 3: the scalars and that GET. Without a selection, poll 1 reads
    # 14 counter columns of 200 rows in ~50 GETs of 53-66 cells (fewer requests than walks of 9 pages each).
    print(f"requests per poll: all 200 interfaces {full}, 4 selected {few}")
    assert few[1:] == [2, 2]
    assert full[0] - few[0] >= 200 * 14 // 66
    assert full[0] < few[0] + 14 * 9
    decisions = poller.decisions("sw")
    assert len(decisions) == 200
    assert sum(d.dropped_by is None for d in decisions) == 4
    assert {d.dropped_by for d in decisions} == {None, "matches no include rule"}
    assert decisions[49].if_type == 24  # ifType read for --explain


def test_admin_down_drop_and_exclude(tmp_path: Path, clock: VirtualClock) -> None:
    selection = InterfaceSelection(exclude=InterfaceRules(ifType=(24, 135)), admin_down="drop")
    _, samples, poller = _polls(tmp_path, clock, selection)
    names = {s.tags["ifName"] for s in samples[0]}
    # Of 200 rows, every 10th is admin-down (the 4 loopbacks, every 50th, among them) and 4 are VLANs
    # (25, 75, 125, 175).
    assert len(names) == 200 - 20 - 4
    assert not {"Lo50", "Vl25", "Gi0/10"} & names
    reasons = {d.row.name: d.dropped_by for d in poller.decisions("sw")}
    assert reasons["Lo50"] == "exclude ifType softwareLoopback(24)"
    assert reasons["Vl25"] == "exclude ifType l2vlan(135)"
    assert reasons["Gi0/10"] == "admin down (admin_down: drop)"


def test_without_explain_only_the_dropped_interfaces_keep_their_decision(
    tmp_path: Path, clock: VirtualClock
) -> None:
    selection = InterfaceSelection(exclude=InterfaceRules(ifType=(24, 135)), admin_down="drop")
    _, samples, poller = _polls(tmp_path, clock, selection, count=2, explain=False)
    assert len(samples[1]) == 200 - 20 - 4
    reasons = {d.row.name: d.dropped_by for d in poller.decisions("sw")}
    assert len(reasons) == 20 + 4
    assert reasons["Gi0/10"] == "admin down (admin_down: drop)"


def test_v1_walks_on_label_polls(tmp_path: Path, clock: VirtualClock) -> None:
    # A v1 agent fails a whole GET over one missing cell: the label poll walks, the polls after GET.
    requests, samples, _ = _polls(tmp_path, clock, FOUR, version="1")
    assert [len(s) for s in samples] == [4, 4, 4]
    assert requests[0] > 14 * 9
    assert requests[1:] == [2, 2]


def _profiles_with(tmp_path: Path, select: str) -> Path:
    mibs = tmp_path / "mibs"
    mibs.mkdir(parents=True)
    shipped = Path(netpoll.inputs.snmp.profiles.DEFAULT_DIR)
    (mibs / "generic.yaml").write_text((shipped / "generic.yaml").read_text())
    (mibs / "edge.yaml").write_text(
        f"extends: generic\nmatch: ['1.3.6.1.4.1.99999']\ninterfaces:\n  select: {select}\n"
    )
    return mibs


def test_a_profile_default_selection(tmp_path: Path) -> None:
    profiles = load_profiles(
        _profiles_with(tmp_path, "{exclude: {ifType: [softwareLoopback]}, admin_down: drop}")
    )
    assert profiles["edge"].if_select == InterfaceSelection(
        exclude=InterfaceRules(ifType=(24,)), admin_down="drop"
    )
    assert profiles["generic"].if_select is None


def test_a_profile_selection_is_checked(tmp_path: Path) -> None:
    mibs = _profiles_with(tmp_path, "{exclude: {ifType: [softwareLoopbak]}, admin_down: shut}")
    with pytest.raises(ConfigError) as info:
        load_profiles(mibs)
    assert [p.split(": ", 1)[1] for p in info.value.problems] == [
        "interfaces.select: admin_down: must be one of 'keep' or 'drop', got 'shut' (text)",
    ]
    mibs = _profiles_with(tmp_path / "2", "{exclude: {ifType: [softwareLoopbak]}}")
    with pytest.raises(ConfigError) as info:
        load_profiles(mibs)
    assert [p.split(": ", 1)[1] for p in info.value.problems] == [
        "interfaces.select.exclude.ifType: unknown ifType 'softwareLoopbak';"
        " did you mean 'softwareLoopback'?",
    ]


def _label_cycle(
    tmp_path: Path,
    clock: VirtualClock,
    selection: InterfaceSelection,
    polls: int,
    changes: dict[int, dict[Oid, SnmpValue]] | None = None,
    **recording: Any,
) -> tuple[list[int], list[int]]:
    """Requests and interfaces written per poll, a minute apart; ``changes``: agent data set before poll i."""
    agent = CountingAgent.from_snmprec(write_snmprec(tmp_path, 200, **recording))
    poller = SnmpPoller(Pool(agent), load_profiles())
    device = _device(selection)

    async def run() -> tuple[list[int], list[int]]:
        requests, written = [], []
        for i in range(polls):
            agent.data.update((changes or {}).get(i, {}))
            before = agent.requests
            result = await poller.run(device, Budget.start(30))
            assert result.ok, result.error
            requests.append(agent.requests - before)
            written.append(sum(s.measurement == "interface" for s in result.samples))
            clock.advance(60)
        return requests, written

    return clock.run(run())


def test_label_polls_keep_the_labels_until_labels_max_age(tmp_path: Path, clock: VirtualClock) -> None:
    # ifTableLastChange and ifNumber stay: the label polls 10-50 keep the labels (their one extra request is
    # the GET of the 4 rows' label cells); poll 60, an hour after the walk, walks them (labels_max_age_s).
    requests, written = _label_cycle(tmp_path, clock, FOUR, 61, last_change=4200)
    assert written == [4] * 61
    steady = requests[1]
    assert requests[0] > 10 * steady
    assert requests[60] > 5 * steady  # ifDescr, ifName and ifAlias walked: 9 requests each
    assert requests[1:60] == [steady + 1 if i % 10 == 0 else steady for i in range(1, 60)]


def test_a_moved_if_table_last_change_walks_the_labels(tmp_path: Path, clock: VirtualClock) -> None:
    # Row 5 renamed an uplink and ifTableLastChange moved (poll 5): the label poll 10 walks and selects it.
    moved = {5: {(1, 3, 6, 1, 2, 1, 31, 1, 5, 0): 4300, (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18, 5): b"uplink-5"}}
    requests, written = _label_cycle(tmp_path, clock, FOUR, 11, moved, last_change=4200)
    assert written == [4] * 10 + [5]
    assert requests[10] > 5 * requests[9]


def test_an_admin_down_port_opened_again_is_selected_at_the_label_poll(
    tmp_path: Path, clock: VirtualClock
) -> None:
    # Row 10 (admin-down in the recording) is an uplink that admin_down: drop drops; opened at poll 3, its
    # ifAdminStatus GET with the label cells on label poll 10 sees it up: the labels are walked, it is back.
    selection = InterfaceSelection(include=InterfaceRules(ifAlias=("^uplink-",)), admin_down="drop")
    opened = {3: {(1, 3, 6, 1, 2, 1, 2, 2, 1, 7, 10): 1}}
    requests, written = _label_cycle(
        tmp_path, clock, selection, 11, opened, last_change=4200, aliases={10: "uplink-10"}
    )
    assert written == [4] * 10 + [5]
    assert requests[10] > 5 * requests[9]
