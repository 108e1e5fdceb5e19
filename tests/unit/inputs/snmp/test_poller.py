"""SnmpPoller against FakeSnmpClient: recordings, rates, reboots, relabelling, failures, state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import netpoll.inputs.snmp.poller
from netpoll.errors import SnmpError, SnmpTimeout
from netpoll.inputs.snmp.fake import FakeSnmpClient
from netpoll.inputs.snmp.poller import ROW_CAP_FACTOR, ROW_CAP_MIN, SnmpPoller, row_cap
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inputs.snmp.types import Oid, SnmpValue, parse_oid
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings
from netpoll.probe import Budget
from netpoll.restarts import RestartNotices
from netpoll.sample import Sample
from tests.fakeclock import VirtualClock
from tests.harness.snmpsim import lab_snmprec_dir

LAB = lab_snmprec_dir()
RECORDINGS = sorted(LAB.glob("*.snmprec"))

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.6."
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1."


class FakePool:
    def __init__(self) -> None:
        self.clients: dict[str, FakeSnmpClient] = {}

    def client(self, device: Device) -> FakeSnmpClient:
        return self.clients[device.name]


def device(name: str, *, profile: str | None = None, interval: float = 60.0) -> Device:
    creds = CommunityCredentials(profile="lab", version="2c", community=name)  # type: ignore[arg-type]
    return Device(
        name=name,
        address="127.0.0.1",
        site="lab",
        snmp=SnmpSettings(credentials=creds, profile=profile, interval_s=interval),
    )


def small_agent() -> dict[Oid, SnmpValue]:
    data: dict[str, SnmpValue] = {
        "1.3.6.1.2.1.1.1.0": b"Linux test",
        "1.3.6.1.2.1.1.2.0": parse_oid("1.3.6.1.4.1.8072.3.2.10"),
        SYS_UPTIME: 100_000,
        "1.3.6.1.2.1.1.5.0": b"box",
        "1.3.6.1.4.1.2021.11.11.0": 75,
        "1.3.6.1.2.1.2.2.1.2.1": b"lo",
        "1.3.6.1.2.1.2.2.1.2.2": b"eth0",
        "1.3.6.1.2.1.2.2.1.8.1": 1,
        "1.3.6.1.2.1.2.2.1.8.2": 1,
        IF_NAME + "1": b"lo",
        IF_NAME + "2": b"eth0",
        IF_HC_IN + "1": 0,
        IF_HC_IN + "2": 1_000,
        "1.3.6.1.2.1.31.1.1.1.15.2": 100,
    }
    return {parse_oid(k): v for k, v in data.items()}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """The poller's clock, moved by the test: rates over exact intervals, deadlines without waiting."""
    virtual = VirtualClock()
    virtual.patch(monkeypatch, netpoll.inputs.snmp.poller)
    return virtual


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


async def poll(poller: SnmpPoller, dev: Device, seconds: float = 60.0) -> list[Sample]:
    """The samples of one poll with a budget of ``seconds``."""
    return (await poller.run(dev, Budget.start(seconds))).samples


def by(samples: list[Sample], measurement: str) -> list[Sample]:
    return [s for s in samples if s.measurement == measurement]


def snmp(samples: list[Sample]) -> dict[str, Any]:
    (sample,) = by(samples, "snmp")
    return dict(sample.fields)


def iface(samples: list[Sample], name: str) -> dict[str, Any]:
    return next(dict(s.fields) for s in by(samples, "interface") if s.tags["ifName"] == name)


@pytest.mark.lab
@pytest.mark.skipif(not RECORDINGS, reason=f"lab recordings not found in {LAB}")
@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
async def test_every_recording_polls(pool: FakePool, path: Path) -> None:
    fake = FakeSnmpClient.from_snmprec(path)
    pool.clients[fake.agent] = fake
    poller = SnmpPoller(pool, load_profiles())
    samples = await poll(poller, device(fake.agent))
    fields = snmp(samples)
    assert fields["poll_ok"] == 1, fields
    data = fake.data
    rows = {o[-1] for o in data if o[:-1] in (parse_oid("1.3.6.1.2.1.2.2.1.2"), parse_oid(IF_NAME[:-1]))}
    interfaces = by(samples, "interface")
    assert len(interfaces) == len(rows)
    names = {o[-1]: v.decode() for o, v in data.items() if o[:-1] == parse_oid(IF_NAME[:-1])}  # type: ignore[union-attr]
    for s in interfaces:
        index = int(s.tags["ifIndex"])
        if index in names:
            assert s.tags["ifName"] == names[index]
    if not path.stem.startswith("cisco-asa"):  # the ASA recording has no CPU objects
        assert "cpu_pct" in fields
    assert "mem_used_pct" in fields
    # A second poll of static data: rates exist and are 0, no reboot.
    again = await poll(poller, device(fake.agent))
    assert snmp(again)["rebooted"] == 0
    with_hc = [s for s in by(again, "interface") if "ifHCInOctets" in s.fields]
    assert all(s.fields["in_bps"] == 0.0 for s in with_hc)


async def test_rates_reboot_and_state_round_trip(pool: FakePool, clock: VirtualClock) -> None:
    fake = pool.clients["r1"] = FakeSnmpClient(small_agent())
    poller = SnmpPoller(pool, load_profiles())
    dev = device("r1")
    first = await poll(poller, dev)
    assert snmp(first)["profile"] == "linux-netsnmp"
    assert snmp(first)["cpu_pct"] == 25.0
    assert "in_bps" not in iface(first, "eth0")

    clock.advance(0.05)
    fake.set(IF_HC_IN + "2", 1_000 + 125_000)
    fake.set(SYS_UPTIME, 100_010)
    second = await poll(poller, dev)
    eth0 = iface(second, "eth0")
    assert eth0["in_bps"] > 0
    assert eth0["in_util_pct"] == pytest.approx(eth0["in_bps"] / 1e6)
    assert snmp(second)["rebooted"] == 0

    # Persist and restore into a new poller: rates continue.
    state = json.loads(json.dumps(poller.export_state()))
    poller2 = SnmpPoller(pool, load_profiles())
    poller2.import_state(state)
    fake.set(IF_HC_IN + "2", 1_000 + 250_000)
    fake.set(SYS_UPTIME, 100_020)
    clock.advance(0.1)
    third = await poll(poller2, dev)
    assert iface(third, "eth0")["in_bps"] > 0

    # Reboot: uptime went down, counters restarted: no rates, rebooted=1.
    fake.set(SYS_UPTIME, 500)
    fake.set(IF_HC_IN + "2", 10)
    clock.advance(0.1)
    fourth = await poll(poller2, dev)
    assert snmp(fourth)["rebooted"] == 1
    assert "in_bps" not in iface(fourth, "eth0")
    fake.set(IF_HC_IN + "2", 20)
    clock.advance(0.1)
    fifth = await poll(poller2, dev)
    assert snmp(fifth)["rebooted"] == 0
    assert iface(fifth, "eth0")["in_bps"] > 0


async def test_labels_are_read_now_and_then_and_on_change(pool: FakePool) -> None:
    fake = pool.clients["r1"] = FakeSnmpClient(small_agent())
    poller = SnmpPoller(pool, load_profiles(), label_every=3)
    dev = device("r1")
    name_walks = []
    real_walk = fake.walk

    async def counting_walk(root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        if root == parse_oid(IF_NAME[:-1]):
            name_walks.append(root)
        return await real_walk(root, max_rows)

    fake.walk = counting_walk  # type: ignore[method-assign]
    for _ in range(4):
        await poll(poller, dev)
    assert len(name_walks) == 2  # poll 1 and poll 3 (every 3rd)

    # A new interface appears: labels are re-read in the same poll, and it is reported.
    fake.set(IF_HC_IN + "3", 5)
    fake.set("1.3.6.1.2.1.2.2.1.8.3", 1)
    fake.set(IF_NAME + "3", b"eth1")
    samples = await poll(poller, dev)
    assert len(name_walks) == 3
    assert "eth1" in {s.tags["ifName"] for s in by(samples, "interface")}


async def test_failure_is_a_sample_not_an_exception(pool: FakePool) -> None:
    fake = pool.clients["r1"] = FakeSnmpClient(small_agent(), agent="r1")
    fake.error = SnmpTimeout("r1", "no response within 2s x 2 tries")
    poller = SnmpPoller(pool, load_profiles())
    samples = await poll(poller, device("r1"))
    fields = snmp(samples)
    assert fields["poll_ok"] == 0
    assert "no response" in fields["error"]
    assert samples[0].tags["device"] == "r1"


def test_unknown_profile_and_deadline(pool: FakePool, clock: VirtualClock) -> None:
    clock.run(_unknown_profile_and_deadline(pool))


async def _unknown_profile_and_deadline(pool: FakePool) -> None:
    fake = pool.clients["r1"] = FakeSnmpClient(small_agent())
    poller = SnmpPoller(pool, load_profiles())
    fields = snmp(await poll(poller, device("r1", profile="nope")))
    assert fields["poll_ok"] == 0
    assert "unknown profile 'nope'" in fields["error"]

    async def hang(root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        await asyncio.sleep(10)
        return []

    fake.walk = hang  # type: ignore[method-assign]
    result = await SnmpPoller(pool, load_profiles()).run(device("r1"), Budget.start(0.1))
    assert not result.ok
    assert result.cut
    assert result.error == "poll deadline of 0.1s exceeded"
    fields = snmp(result.samples)
    assert fields["poll_ok"] == 0
    assert fields["error"] == result.error
    assert fields["varbinds"] > 0  # the scalars GET answered before the walk hung


async def test_result_is_explicit_and_a_spent_budget_sends_nothing(pool: FakePool) -> None:
    fake = pool.clients["r1"] = FakeSnmpClient(small_agent())
    poller = SnmpPoller(pool, load_profiles())
    result = await poller.run(device("r1"), Budget.start(60.0))
    assert result.ok
    assert result.error is None
    assert not result.cut
    assert result.duration_s >= 0
    assert snmp(result.samples)["poll_ok"] == 1
    calls = dict(fake.calls)
    spent = Budget(seconds=5.0, deadline=asyncio.get_running_loop().time() - 1.0)
    result = await poller.run(device("r1"), spent)
    assert (result.ok, result.cut, result.error) == (False, True, "poll deadline of 5s exceeded")
    assert fake.calls == calls  # not a single request


async def test_forced_profile_and_forget(pool: FakePool) -> None:
    pool.clients["r1"] = FakeSnmpClient(small_agent())
    poller = SnmpPoller(pool, load_profiles())
    fields = snmp(await poll(poller, device("r1", profile="generic")))
    assert fields["profile"] == "generic"
    assert "r1" in poller.export_state()["devices"]
    poller.forget("r1")
    assert poller.export_state()["devices"] == {}


async def test_a_changed_forced_profile_gives_its_fields_at_once(pool: FakePool) -> None:
    pool.clients["r1"] = FakeSnmpClient(small_agent())
    poller = SnmpPoller(pool, load_profiles(), label_every=100)
    for _ in range(2):
        assert "cpu_pct" not in snmp(await poll(poller, device("r1", profile="generic")))
    fields = snmp(await poll(poller, device("r1", profile="linux-netsnmp")))
    assert fields["profile"] == "linux-netsnmp"
    assert fields["cpu_pct"] == 25.0  # 100 - ssCpuIdle


async def test_a_saved_profile_that_no_longer_exists_is_picked_again(pool: FakePool) -> None:
    pool.clients["r1"] = FakeSnmpClient(small_agent())
    first = SnmpPoller(pool, load_profiles())
    await poll(first, device("r1"))
    state = first.export_state()
    state["devices"]["r1"]["profile"] = "removed-vendor"
    poller = SnmpPoller(pool, load_profiles())
    poller.import_state(state)
    for _ in range(2):
        fields = snmp(await poll(poller, device("r1")))
        assert fields["profile"] == "linux-netsnmp"
        assert fields["cpu_pct"] == 25.0


async def test_zero_interfaces(pool: FakePool) -> None:
    data = {
        k: v
        for k, v in small_agent().items()
        if k[:7] not in (parse_oid("1.3.6.1.2.1.2"), parse_oid("1.3.6.1.2.1.31"))
    }
    pool.clients["r1"] = FakeSnmpClient(data)
    samples = await poll(SnmpPoller(pool, load_profiles()), device("r1"))
    assert by(samples, "interface") == []
    assert snmp(samples)["poll_ok"] == 1


IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_OPER = "1.3.6.1.2.1.2.2.1.8."


async def test_counters_are_read_by_get_between_walks(pool: FakePool, clock: VirtualClock) -> None:
    # ifNumber matches the interfaces found: between label polls the known counter cells are GET, not walked.
    fake = pool.clients["r1"] = FakeSnmpClient({**small_agent(), parse_oid(IF_NUMBER): 2})
    poller = SnmpPoller(pool, load_profiles(), label_every=5)
    dev = device("r1")
    await poll(poller, dev)
    walks = fake.calls["walk"]
    clock.advance(0.01)
    fake.set(IF_HC_IN + "2", 1_000 + 125_000)
    second = await poll(poller, dev)
    assert fake.calls["walk"] == walks  # no walk at all: scalars and counters by GET
    # Poll 1: pick + profile scalars, and the cells the labels found (one GET, not 14 walks); poll 2: the
    # scalars with that chunk of cells in the same GET (their answer leaves the room).
    assert fake.calls["get"] == 4
    eth0 = iface(second, "eth0")
    assert eth0["in_bps"] > 0
    assert eth0["ifHCInOctets"] == 126_000
    assert eth0["oper_status"] == 1
    assert snmp(second)["varbinds"] == 6 + 4  # the scalars the agent has, ifOperStatus and ifHCInOctets x 2

    # An interface goes away and another takes its place (ifNumber unchanged): a cell is missing, so the
    # counters are walked in the same poll and the new interface is reported with its labels.
    for column in ("1.3.6.1.2.1.2.2.1.2.", IF_OPER, IF_NAME, IF_HC_IN):
        fake.remove(column + "1")
    fake.set("1.3.6.1.2.1.2.2.1.2.3", b"eth1")
    fake.set(IF_OPER + "3", 1)
    fake.set(IF_NAME + "3", b"eth1")
    fake.set(IF_HC_IN + "3", 7)
    clock.advance(0.01)
    third = await poll(poller, dev)
    assert fake.calls["walk"] > walks
    assert {s.tags["ifName"] for s in by(third, "interface")} == {"eth0", "eth1"}
    assert iface(third, "eth0")["in_bps"] == 0.0

    # ifNumber changes (an interface added): labels and counters are walked at once.
    walks = fake.calls["walk"]
    fake.set("1.3.6.1.2.1.2.2.1.2.4", b"eth2")
    fake.set(IF_OPER + "4", 2)
    fake.set(IF_NUMBER, 3)
    fourth = await poll(poller, dev)
    assert fake.calls["walk"] > walks
    assert iface(fourth, "eth2")["oper_status"] == 2


async def test_counters_are_walked_when_ifnumber_disagrees_or_get_is_refused(pool: FakePool) -> None:
    # ifNumber says 5 but the labels find 2 interfaces: GETs could miss new ones, so every poll walks.
    fake = pool.clients["r1"] = FakeSnmpClient({**small_agent(), parse_oid(IF_NUMBER): 5})
    poller = SnmpPoller(pool, load_profiles())
    dev = device("r1")
    await poll(poller, dev)
    walks = fake.calls["walk"]
    await poll(poller, dev)
    assert fake.calls["walk"] > walks

    # An agent that refuses the GET of the cells (tooBig, ...): walked this time and from then on.
    fake.set(IF_NUMBER, 2)
    poller = SnmpPoller(pool, load_profiles())
    await poll(poller, dev)
    real_get = fake.get
    refused = []

    async def refusing_get(oids: list[Oid]) -> dict[Oid, SnmpValue]:
        if parse_oid(IF_HC_IN + "1") in oids:
            refused.append(oids)
            raise SnmpError("r1", "tooBig")
        return await real_get(oids)

    fake.get = refusing_get  # type: ignore[method-assign,assignment]
    for _ in range(3):
        walks = fake.calls["walk"]
        fields = snmp(await poll(poller, dev))
        assert fields["poll_ok"] == 1
        assert fake.calls["walk"] > walks
    # Refused in one poll only: the cells with the scalars, then alone (the scalars alone answered).
    assert len(refused) == 2
    assert set(refused[1]) < set(refused[0])


async def test_a_failing_poll_does_not_turn_cell_gets_off(pool: FakePool) -> None:
    # A GET that fails along with everything else (agent unreachable) is no refusal: GETs resume after.
    fake = pool.clients["r1"] = FakeSnmpClient({**small_agent(), parse_oid(IF_NUMBER): 2})
    poller = SnmpPoller(pool, load_profiles())
    dev = device("r1")
    await poll(poller, dev)
    real_get = fake.get

    async def cells_fail(oids: list[Oid]) -> dict[Oid, SnmpValue]:
        if parse_oid(IF_HC_IN + "1") in oids:
            fake.error = SnmpError("r1", "network is unreachable")  # and the walk after it too
            raise fake.error
        return await real_get(oids)

    fake.get = cells_fail  # type: ignore[method-assign,assignment]
    assert snmp(await poll(poller, dev))["poll_ok"] == 0
    fake.get = real_get  # type: ignore[method-assign]
    fake.error = None
    walks = fake.calls["walk"]
    assert snmp(await poll(poller, dev))["poll_ok"] == 1
    assert fake.calls["walk"] == walks


async def test_an_endless_table_is_cut_at_the_row_cap_named_in_the_error(pool: FakePool) -> None:
    agent = small_agent()
    for i in range(3, ROW_CAP_MIN + 10):  # far more ifName rows than ifNumber (2) says
        agent[parse_oid(IF_NAME + str(i))] = b"x"
    pool.clients["r1"] = FakeSnmpClient(agent)
    result = await SnmpPoller(pool, load_profiles()).run(device("r1"), Budget.start(10))
    assert not result.ok
    assert result.error is not None
    assert f"more than {ROW_CAP_MIN} rows" in result.error
    assert "ifName" in result.error
    assert f"at least {ROW_CAP_MIN}" in result.error


@pytest.mark.parametrize(
    ("if_number", "cap"), [(None, ROW_CAP_MIN), (2, ROW_CAP_MIN), (5000, 5000 * ROW_CAP_FACTOR)]
)
def test_row_cap_follows_if_number(if_number: int | None, cap: int) -> None:
    assert row_cap(if_number)[0] == cap


BAD_COMMUNITY_NAMES = "1.3.6.1.2.1.11.4.0"
CCM_RUNNING_LAST_CHANGED = "1.3.6.1.4.1.9.9.43.1.1.1.0"


async def test_security_rates_none_across_a_reboot(pool: FakePool, clock: VirtualClock) -> None:
    fake = pool.clients["r1"] = FakeSnmpClient(small_agent())
    fake.set(BAD_COMMUNITY_NAMES, 1_000)
    poller = SnmpPoller(pool, load_profiles())
    dev = device("r1")
    assert "bad_community_names_ps" not in snmp(await poll(poller, dev))
    clock.advance(10)
    fake.set(SYS_UPTIME, 101_000)
    fake.set(BAD_COMMUNITY_NAMES, 1_050)
    second = snmp(await poll(poller, dev))
    assert second["bad_community_names_ps"] == pytest.approx(5.0, rel=1e-3)
    assert "usm_wrong_digests_ps" not in second  # the agent does not have the counter

    # The state round trip keeps the reading; then a reboot: the counter restarted, no rate on that poll.
    poller2 = SnmpPoller(pool, load_profiles())
    poller2.import_state(json.loads(json.dumps(poller.export_state())))
    clock.advance(10)
    fake.set(SYS_UPTIME, 102_000)
    fake.set(BAD_COMMUNITY_NAMES, 1_060)
    assert snmp(await poll(poller2, dev))["bad_community_names_ps"] == pytest.approx(1.0, rel=1e-3)
    clock.advance(10)
    fake.set(SYS_UPTIME, 500)
    fake.set(BAD_COMMUNITY_NAMES, 3)
    rebooted = snmp(await poll(poller2, dev))
    assert rebooted["rebooted"] == 1
    assert "bad_community_names_ps" not in rebooted


async def test_unexpected_reboot_unless_a_restart_trap_came(pool: FakePool, clock: VirtualClock) -> None:
    fake = pool.clients["r1"] = FakeSnmpClient(small_agent())
    notices = RestartNotices()
    poller = SnmpPoller(pool, load_profiles(), restarts=notices)
    dev = device("r1")
    assert snmp(await poll(poller, dev))["unexpected_reboot"] == 0
    clock.advance(60)
    fake.set(SYS_UPTIME, 1_000)  # rebooted 10 s ago, and nothing announced it
    assert snmp(await poll(poller, dev))["unexpected_reboot"] == 1
    clock.advance(60)
    fake.set(SYS_UPTIME, 7_000)
    assert snmp(await poll(poller, dev))["unexpected_reboot"] == 0
    clock.advance(60)
    fake.set(SYS_UPTIME, 2_000)  # rebooted 20 s ago; its coldStart came 15 s ago
    notices.note("r1", clock.time_ns() - 15 * 10**9)
    fields = snmp(await poll(poller, dev))
    assert (fields["rebooted"], fields["unexpected_reboot"]) == (1, 0)


async def test_config_changed_compares_with_the_last_poll(pool: FakePool, clock: VirtualClock) -> None:
    data = small_agent()
    data[parse_oid("1.3.6.1.2.1.1.2.0")] = parse_oid("1.3.6.1.4.1.9.1.1208")
    fake = pool.clients["r1"] = FakeSnmpClient(data)
    fake.set(CCM_RUNNING_LAST_CHANGED, 4_200)
    poller = SnmpPoller(pool, load_profiles())
    dev = device("r1")
    seen = []
    for last_change in (4_200, 4_200, 90_000, 90_000):
        fake.set(CCM_RUNNING_LAST_CHANGED, last_change)
        fields = snmp(await poll(poller, dev))
        seen.append((fields["profile"], fields.get("config_changed"), fields["config_changed_uptime_s"]))
        clock.advance(60)
    assert seen == [("cisco", None, 42.0), ("cisco", 0, 42.0), ("cisco", 1, 900.0), ("cisco", 0, 900.0)]


async def test_devices_of_one_model_share_their_cell_plan(pool: FakePool) -> None:
    """Equal per-device plans (same profile, same interface indexes) are held once, not once per device."""
    data = small_agent()
    data[parse_oid("1.3.6.1.2.1.2.1.0")] = 2  # ifNumber vouches for the interface set: counters by GET
    other = dict(data)
    other[parse_oid("1.3.6.1.2.1.2.1.0")] = 3
    other[parse_oid(IF_NAME + "3")] = b"eth1"
    other[parse_oid(IF_HC_IN + "3")] = 7
    for name, agent in (("r1", data), ("r2", dict(data)), ("r3", other)):
        pool.clients[name] = FakeSnmpClient(agent)
    poller = SnmpPoller(pool, load_profiles())
    for _ in range(2):
        for name in ("r1", "r2", "r3"):
            assert snmp(await poll(poller, device(name)))["poll_ok"] == 1
    state = poller._state
    assert state["r1"].cells is not None
    assert state["r1"].cells is state["r2"].cells
    assert state["r1"].signature is state["r2"].signature
    assert state["r3"].cells != state["r1"].cells


HR_PROCESSOR_LOAD = "1.3.6.1.2.1.25.3.3.1.2"


class RootsWalked(FakeSnmpClient):
    """Records the root of every walk."""

    def __init__(self, data: dict[Oid, SnmpValue]) -> None:
        super().__init__(data)
        self.roots: list[Oid] = []

    async def walk(self, root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        self.roots.append(root)
        return await super().walk(root, max_rows)


@pytest.mark.parametrize(("idle", "walked"), [(75, False), (None, True)], ids=["ssCpuIdle", "no-ssCpuIdle"])
async def test_a_full_poll_skips_alternatives_after_one_the_scalars_answer(
    pool: FakePool, idle: int | None, walked: bool
) -> None:
    # cpu_pct: ssCpuIdle (a scalar), else avg hrProcessorLoad (a column). With ssCpuIdle answering, the first
    # poll (a full one) does not walk hrProcessorLoad, whose value would never be taken.
    data = {**small_agent(), parse_oid(HR_PROCESSOR_LOAD + ".196608"): 40}
    if idle is None:
        del data[parse_oid("1.3.6.1.4.1.2021.11.11.0")]
    fake = pool.clients["r1"] = RootsWalked(data)
    fields = snmp(await poll(SnmpPoller(pool, load_profiles()), device("r1")))
    assert fields["cpu_pct"] == (25.0 if idle is not None else 40.0)
    assert (parse_oid(HR_PROCESSOR_LOAD) in fake.roots) is walked
