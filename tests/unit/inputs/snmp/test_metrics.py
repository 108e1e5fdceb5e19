"""Table-driven tests of the SNMP rate maths (no agents, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from netpoll.inputs.snmp.metrics import (
    MAX32,
    MAX64,
    InterfaceRow,
    UptimeState,
    counter_delta,
    counter_rate,
    device_uptime,
    if_state_from_json,
    if_state_to_json,
    interface_rows,
    interface_samples,
    marker_changed,
    speed_bps,
)
from netpoll.inputs.snmp.replies import STATS
from netpoll.inputs.snmp.types import Oid, SnmpValue

S = 1_000_000_000  # one second in ns
BASE = {"device": "r1", "agent_host": "127.0.0.1"}


def labels(*names: str, speeds: list[int] | None = None) -> dict[str, dict[Oid, SnmpValue]]:
    cols: dict[str, dict[Oid, SnmpValue]] = {
        "ifName": {(i + 1,): n.encode() for i, n in enumerate(names)},
        "ifDescr": {(i + 1,): f"descr {n}".encode() for i, n in enumerate(names)},
    }
    if speeds is not None:
        cols["ifHighSpeed"] = {(i + 1,): s for i, s in enumerate(speeds)}
    return cols


def cols(**columns: int) -> dict[str, dict[Oid, SnmpValue]]:
    """One interface (ifIndex 1), counters by name."""
    return {name: {(1,): value} for name, value in columns.items()}


def run_two(
    first: dict[str, int],
    second: dict[str, int],
    *,
    speed_mbps: int | None = 1000,
    dt_s: float = 10.0,
    rates: bool = True,
) -> dict[str, Any]:
    rows = interface_rows(labels("eth0", speeds=None if speed_mbps is None else [speed_mbps]), BASE)
    _, state = interface_samples(rows, cols(**first), None, 100 * S)
    samples, _ = interface_samples(rows, cols(**second), state, 100 * S + int(dt_s * S), rates=rates)
    assert len(samples) == 1
    return dict(samples[0].fields)


# --- counter_delta ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev", "cur", "bits", "max_delta", "expected"),
    [
        pytest.param(100, 350, 64, None, 250, id="forward"),
        pytest.param(MAX32 - 100, 50, 32, None, 150, id="32-bit wrap, speed unknown"),
        pytest.param(MAX32 - 100, 50, 32, 1e6, 150, id="32-bit wrap, plausible at line rate"),
        pytest.param(3_000_000_000, 1_000, 32, 1e6, None, id="32-bit down, implausible at line rate: reset"),
        pytest.param(MAX64 - 1000, 500, 64, None, 1500, id="64-bit wrap near the top"),
        pytest.param(5_000_000, 1_000, 64, None, None, id="64-bit backwards: reset, no rate"),
        pytest.param(7, 7, 32, None, 0, id="unchanged"),
    ],
)
def test_counter_delta(prev: int, cur: int, bits: int, max_delta: float | None, expected: int | None) -> None:
    assert counter_delta(prev, cur, bits, max_delta) == expected


# --- interface rates -------------------------------------------------------------------------------

RATE_CASES = [
    pytest.param(
        {"ifHCInOctets": 1000, "ifHCOutOctets": 0},
        {"ifHCInOctets": 1000 + 12_500_000, "ifHCOutOctets": 1_250_000},
        {"in_bps": 10_000_000.0, "out_bps": 1_000_000.0, "in_util_pct": 1.0, "out_util_pct": 0.1},
        {},
        id="64-bit octets → bps and util",
    ),
    pytest.param(
        {"ifInOctets": MAX32 - 1_000_000, "ifOutOctets": 10},
        {"ifInOctets": 250_000, "ifOutOctets": 20},
        {"in_bps": 1_250_000 * 8 / 10, "out_bps": 8.0},
        {},
        id="missing HC columns: 32-bit fallback with wrap",
    ),
    pytest.param(
        {"ifHCInOctets": MAX64 - 1_000, "ifHCOutOctets": MAX64 - 10},
        {"ifHCInOctets": 9_000, "ifHCOutOctets": 0},
        {"in_bps": 8_000.0, "out_bps": 8.0},
        {},
        id="64-bit wrap",
    ),
    pytest.param(
        {"ifHCInOctets": 9_000_000, "ifHCOutOctets": 100},
        {"ifHCInOctets": 10, "ifHCOutOctets": 900},
        {"out_bps": 640.0},
        {"in_bps", "in_util_pct"},
        id="counter backwards without reboot: no rate for that counter",
    ),
    pytest.param(
        {"ifInOctets": 1_000_000_000},
        {"ifInOctets": 5},
        {},
        {"in_bps"},
        id="32-bit backwards beyond line rate: reset, no rate",
    ),
    pytest.param(
        {
            "ifHCInUcastPkts": 0,
            "ifHCInMulticastPkts": 0,
            "ifHCInBroadcastPkts": 0,
            "ifInErrors": 0,
            "ifInDiscards": 5,
        },
        {
            "ifHCInUcastPkts": 900,
            "ifHCInMulticastPkts": 50,
            "ifHCInBroadcastPkts": 50,
            "ifInErrors": 10,
            "ifInDiscards": 25,
        },
        {"in_pps": 100.0, "in_errors_ps": 1.0, "in_discards_ps": 2.0, "in_error_pct": 10 * 100 / 1010},
        {"out_pps"},
        id="packets, errors, discards, error %",
    ),
    pytest.param(
        {"ifOutUcastPkts": 0, "ifOutErrors": 0},
        {"ifOutUcastPkts": 0, "ifOutErrors": 0},
        {"out_pps": 0.0, "out_errors_ps": 0.0, "out_error_pct": 0.0},
        {},
        id="idle: zero rates, not missing",
    ),
]


@pytest.mark.parametrize(("first", "second", "expected", "absent"), RATE_CASES)
def test_interface_rates(
    first: dict[str, int], second: dict[str, int], expected: dict[str, float], absent: set[str]
) -> None:
    fields = run_two(first, second)
    for key, value in expected.items():
        assert fields[key] == pytest.approx(value), key
    for key in absent:
        assert key not in fields
    for key, value in second.items():
        assert fields[key] == value  # raw counters under their MIB names


def test_zero_speed_gives_no_util() -> None:
    fields = run_two({"ifHCInOctets": 0}, {"ifHCInOctets": 1000}, speed_mbps=0)
    assert fields["speed_bps"] == 0
    assert fields["in_bps"] == pytest.approx(800.0)
    assert "in_util_pct" not in fields


def test_unknown_speed_gives_no_util() -> None:
    fields = run_two({"ifHCInOctets": 0}, {"ifHCInOctets": 1000}, speed_mbps=None)
    assert "speed_bps" not in fields
    assert "in_util_pct" not in fields


def test_no_rates_across_reboot() -> None:
    fields = run_two({"ifHCInOctets": 0}, {"ifHCInOctets": 1000}, rates=False)
    assert fields["ifHCInOctets"] == 1000
    assert "in_bps" not in fields


def test_first_poll_has_raw_counters_and_status_only() -> None:
    rows = interface_rows(labels("eth0", speeds=[100]), BASE)
    columns = cols(ifHCInOctets=5, ifOperStatus=1, ifAdminStatus=2)
    samples, state = interface_samples(rows, columns, None, S)
    (sample,) = samples
    assert sample.measurement == "interface"
    assert sample.time_ns == S
    assert dict(sample.fields) == {
        "ifHCInOctets": 5,
        "oper_status": 1,
        "admin_status": 2,
        "speed_bps": 100_000_000,
    }
    assert sample.tags == {**BASE, "ifName": "eth0", "ifIndex": "1", "ifDescr": "descr eth0", "ifAlias": ""}
    assert state is not None
    assert dict(state.items()) == {(1, "eth0"): (S, {"ifHCInOctets": 5})}


def test_zero_interfaces() -> None:
    rows = interface_rows({}, BASE)
    assert rows == []
    samples, state = interface_samples(rows, {}, None, S)
    assert samples == []
    assert state is None


def test_ifindex_renumbering_gives_no_bogus_rate() -> None:
    # Poll 1: eth0 is ifIndex 1, eth1 is ifIndex 2. Poll 2: they swapped (e.g. after a line card reload).
    rows1 = interface_rows(labels("eth0", "eth1"), BASE)
    c1 = {"ifHCInOctets": {(1,): 1_000, (2,): 9_000_000}}
    _, state = interface_samples(rows1, c1, None, S)
    rows2 = interface_rows(labels("eth1", "eth0"), BASE)
    c2 = {"ifHCInOctets": {(1,): 9_000_100, (2,): 1_100}}
    samples, state2 = interface_samples(rows2, c2, state, 11 * S)
    for sample in samples:
        assert "in_bps" not in sample.fields, sample.tags["ifName"]
    # From now on the new numbering has state and rates resume.
    c3 = {"ifHCInOctets": {(1,): 9_000_200, (2,): 1_200}}
    samples, _ = interface_samples(rows2, c3, state2, 21 * S)
    assert [s.fields["in_bps"] for s in samples] == [pytest.approx(80.0), pytest.approx(80.0)]


def test_rows_are_union_of_ifdescr_and_ifname() -> None:
    label_cols: dict[str, dict[Oid, SnmpValue]] = {
        "ifDescr": {(1,): b"GigabitEthernet0/1", (5001,): b"Port-channel1"},
        "ifName": {(1,): b"Gi0/1", (7,): b"Vl7"},
        "ifAlias": {(1,): b"uplink"},
        "ifSpeed": {(1,): 1_000_000_000, (5001,): MAX32 - 1},
        "ifHighSpeed": {(5001,): 20_000},
    }
    rows = interface_rows(label_cols, BASE)
    assert [(r.index, r.name, r.speed_bps) for r in rows] == [
        (1, "Gi0/1", 1_000_000_000),
        (7, "Vl7", None),
        (5001, "Port-channel1", 20_000_000_000),
    ]
    assert rows[0].tags["ifAlias"] == "uplink"


@pytest.mark.parametrize(
    ("high", "speed", "expected"),
    [
        (1000, None, 1_000_000_000),
        (0, 10_000_000, 10_000_000),
        (0, None, 0),
        (None, MAX32 - 1, None),
        (None, 0, 0),
        (None, None, None),
        (100_000, MAX32 - 1, 100_000_000_000),
    ],
)
def test_speed(high: int | None, speed: int | None, expected: int | None) -> None:
    assert speed_bps(high, speed) == expected


def test_state_json_round_trip() -> None:
    saved = [[1, "eth0", 5, {"ifHCInOctets": 7, "ifInErrors": MAX64 - 1}], [2, "eth 1", 6, {}]]
    state = if_state_from_json(saved)
    assert state is not None
    assert dict(state.items()) == {
        (1, "eth0"): (5, {"ifHCInOctets": 7, "ifInErrors": MAX64 - 1}),
        (2, "eth 1"): (6, {}),
    }
    assert if_state_to_json(state) == saved  # the saved form is unchanged
    assert if_state_to_json(None) == []


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(["x", 1], id="too short"),
        pytest.param(["x", "a", 2, {"c": 3}], id="index not a number"),
        pytest.param([1, "a", 2, ["c"]], id="counters not an object"),
        pytest.param([1, "a", -2, {"c": 3}], id="negative time"),
        pytest.param([1, "a", 2, {"c": MAX64}], id="counter beyond 64 bits"),
        pytest.param([1, "a", 2, {"c": -1}], id="negative counter"),
    ],
)
def test_state_json_drops_malformed_entries(entry: list[object]) -> None:
    state = if_state_from_json([entry, [1, "b", 2, {"c": 3}]])
    assert state is not None
    assert dict(state.items()) == {(1, "b"): (2, {"c": 3})}


def test_state_of_devices_with_the_same_interfaces_shares_its_layout() -> None:
    rows = interface_rows(labels("eth0", "eth1"), BASE)
    columns = {"ifHCInOctets": {(1,): 1, (2,): 2}, "ifInErrors": {(1,): 3, (2,): 4}}
    _, one = interface_samples(rows, columns, None, S)
    _, two = interface_samples(rows, columns, None, S)
    assert one is not None
    assert two is not None
    assert one.layout is two.layout
    assert dict(one.items()) == dict(two.items())


def test_rates_follow_an_interface_that_moved_in_the_list() -> None:
    # eth1 (ifIndex 2) first alone, then eth0 appears before it: its counters are found by key, not position.
    c1 = {"ifHCInOctets": {(2,): 1_000}}
    _, state = interface_samples(interface_rows(labels("eth0", "eth1"), BASE)[1:], c1, None, S)
    c2 = {"ifHCInOctets": {(1,): 5, (2,): 1_100}}
    samples, _ = interface_samples(interface_rows(labels("eth0", "eth1"), BASE), c2, state, 11 * S)
    assert "in_bps" not in samples[0].fields
    assert samples[1].fields["in_bps"] == pytest.approx(80.0)


def test_row_without_ifname_uses_ifdescr() -> None:
    rows = interface_rows({"ifDescr": {(3,): b"eth3\x00"}}, BASE)
    assert rows == [
        InterfaceRow(
            3, "eth3", {**BASE, "ifName": "eth3", "ifIndex": "3", "ifDescr": "eth3", "ifAlias": ""}, None
        )
    ]


# --- uptime and reboots ----------------------------------------------------------------------------

UPTIME_CASES = [
    # (prev ticks, prev wraps, prev uptime_s, elapsed s, cur ticks, engine_time, expected uptime_s, rebooted)
    pytest.param(None, 0, 0.0, 0, 12_345, None, 123.45, False, id="first poll"),
    pytest.param(10_000, 0, 100.0, 60, 16_000, None, 160.0, False, id="normal"),
    pytest.param(10_000_000, 0, 100_000.0, 60, 500, None, 5.0, True, id="reboot: uptime went down"),
    pytest.param(
        MAX32 - 3_000,
        0,
        (MAX32 - 3_000) / 100,
        60,
        3_000,
        None,
        (MAX32 + 3_000) / 100,
        False,
        id="sysUpTime 497-day wrap is not a reboot",
    ),
    pytest.param(
        MAX32 - 3_000,
        0,
        (MAX32 - 3_000) / 100,
        60,
        3_000,
        50_000_000,
        50_000_000.0,
        False,
        id="beyond the wrap snmpEngineTime wins",
    ),
    pytest.param(
        500, 1, (MAX32 + 500) / 100, 60, 6_500, None, (MAX32 + 6_500) / 100, False, id="wrap count is kept"
    ),
    pytest.param(500, 1, (MAX32 + 500) / 100, 60, 100, None, 1.0, True, id="reboot after a wrap"),
]


@pytest.mark.parametrize(
    ("prev_ticks", "wraps", "prev_uptime", "elapsed", "ticks", "engine", "expected", "rebooted"), UPTIME_CASES
)
def test_device_uptime(
    prev_ticks: int | None,
    wraps: int,
    prev_uptime: float,
    elapsed: int,
    ticks: int,
    engine: int | None,
    expected: float,
    rebooted: bool,
) -> None:
    prev = None if prev_ticks is None else UptimeState(1000 * S, prev_ticks, wraps, prev_uptime)
    uptime, did_reboot, state = device_uptime(prev, ticks, engine, None, (1000 + elapsed) * S)
    assert uptime == pytest.approx(expected)
    assert did_reboot is rebooted
    assert state is not None
    assert UptimeState.from_json(state.to_json()) == state


def test_uptime_falls_back_to_hr_system_uptime() -> None:
    uptime, rebooted, _ = device_uptime(None, None, None, 4200, S)
    assert (uptime, rebooted) == (42.0, False)
    assert device_uptime(None, None, None, None, S) == (None, False, None)


@pytest.mark.parametrize(
    ("high", "low", "expected"),
    [
        (1000, 1_000_000_000, 1_000_000_000),
        (0, 10_000_000, 10_000_000),
        (None, -1_000_000, None),  # a negative ifSpeed (utilisation -480468 % before)
        (-5, 100_000_000, 100_000_000),  # a negative ifHighSpeed: ifSpeed instead
        (2**32, 100_000_000, 100_000_000),  # beyond a Gauge32
        (4_000_000_000, None, None),  # 4 Pbit/s: absurd
        (400_000, 2**32 - 1, 400_000_000_000),
        (None, 2**32 - 1, None),  # saturated ifSpeed and no ifHighSpeed
        (0, None, 0),
    ],
)
def test_speed_from_the_agent_is_checked(high: int | None, low: int | None, expected: int | None) -> None:
    assert speed_bps(high, low) == expected


def test_counters_outside_their_type_are_absent_and_counted() -> None:
    before = STATS.refused_values
    rows = [InterfaceRow(1, "eth0", {"device": "r1", "ifName": "eth0"}, None)]
    columns = {"ifHCInOctets": {(1,): -5}, "ifHCOutOctets": {(1,): 2**64}, "ifInErrors": {(1,): 7}}
    samples, _ = interface_samples(rows, columns, None, 1)
    assert "ifHCInOctets" not in samples[0].fields
    assert "ifHCOutOctets" not in samples[0].fields
    assert STATS.refused_values - before == 2


@pytest.mark.parametrize(
    ("prev", "raw", "seconds", "expected"),
    [
        pytest.param(None, 10, 60, None, id="first-poll"),
        pytest.param(100, 160, 60, 1.0, id="steady"),
        pytest.param(100, 100, 60, 0.0, id="flat"),
        pytest.param(100, 160, 0, None, id="no-interval"),
        pytest.param(MAX32 - 30, 30, 60, 1.0, id="32-bit-wrap"),
        pytest.param(1_000, 5, 60, None, id="reset-not-wrap"),
        pytest.param(MAX32 // 2, 5, 60, None, id="fall-from-mid-range-is-reset"),
        pytest.param(MAX32 + 100, MAX32 + 160, 60, 1.0, id="64-bit"),
        pytest.param(MAX64 - 30, 30, 60, 1.0, id="64-bit-wrap"),
        pytest.param(100, -1, 60, None, id="negative-from-a-broken-agent"),
    ],
)
def test_counter_rate(prev: int | None, raw: int, seconds: int, expected: float | None) -> None:
    t0 = 1_000 * 10**9
    before = None if prev is None else (t0, prev)
    assert counter_rate(before, raw, t0 + seconds * 10**9) == expected


@pytest.mark.parametrize(
    ("prev", "raw", "expected"), [(None, 5, None), (5, 5, 0), (5, 6, 1), (6, 5, 1)], ids=str
)
def test_marker_changed(prev: int | None, raw: int, expected: int | None) -> None:
    assert marker_changed(None if prev is None else (0, prev), raw) == expected
