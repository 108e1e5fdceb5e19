"""Telegraf naming of output records (``naming: telegraf``): pure, table-driven."""

from __future__ import annotations

import pytest

from netpoll import naming
from netpoll.measurements import MODEL
from netpoll.naming import TelegrafNaming, interface_fields, ping_fields, renamer, snmp_fields
from netpoll.sample import FieldValue, Sample

T = 1_700_000_000_000_000_000


def _interface(device: str = "r1", **fields: FieldValue) -> Sample:
    tags = {"device": device, "agent_host": "127.0.0.1", "ifName": "eth0", "ifIndex": "2"}
    return Sample("interface", tags, {"ifHCInOctets": 10, **fields}, T)


def _snmp(device: str = "r1", **fields: FieldValue) -> Sample:
    return Sample("snmp", {"device": device, "agent_host": "127.0.0.1"}, {"poll_ok": 1, **fields}, T)


@pytest.mark.parametrize(
    ("speed_bps", "high", "low"),
    [
        (10_000_000_000, 10_000, 4_294_967_295),  # beyond a Gauge32: ifSpeed saturates, as agents send it
        (1_000_000_000, 1_000, 1_000_000_000),
        (100_000_000, 100, 100_000_000),
        (512_000, 0, 512_000),  # under 1 Mbit/s ifHighSpeed is 0
        (0, 0, 0),
    ],
)
def test_interface_speeds(speed_bps: int, high: int, low: int) -> None:
    assert interface_fields({"speed_bps": speed_bps}) == {"ifHighSpeed": high, "ifSpeed": low}


def test_interface_status_under_if_mib_names() -> None:
    assert interface_fields({"oper_status": 2, "admin_status": 1, "in_bps": 5.0}) == {
        "ifOperStatus": 2,
        "ifAdminStatus": 1,
    }
    assert interface_fields({"in_bps": 5.0}) == {}  # nothing to name: nothing added


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"uptime_s": 1234.56}, {"uptime": 123456}),
        ({"uptime_s": 4_294_967_296 / 100 + 10.0}, {"uptime": 4_294_968_296}),  # past the 497-day wrap
        ({"poll_ok": 0, "error": "timeout"}, {}),
    ],
)
def test_snmp_uptime_in_timeticks(fields: dict[str, FieldValue], expected: dict[str, FieldValue]) -> None:
    assert snmp_fields(fields) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"result_code": 0, "ttl": 64}, {}),
        ({"result_code": 1}, {}),  # no reply: 1 in both
        (
            {"result_code": 2, "error": "no such host: name 'x.example' does not resolve: ..."},
            {"result_code": 1},
        ),
        ({"result_code": 2, "error": "no such host: invalid address 'fe80::1%zz': ..."}, {"result_code": 1}),
        ({"result_code": 2, "error": "send to 198.18.0.1 failed: Network is unreachable"}, {}),
        ({"result_code": 2}, {}),
    ],
)
def test_ping_result_code_as_telegraf_defines_it(
    fields: dict[str, FieldValue], expected: dict[str, FieldValue]
) -> None:
    assert ping_fields(fields) == expected


def test_hostname_from_the_polls_own_snmp_record_then_remembered() -> None:
    rename = TelegrafNaming()
    first = rename([_interface(oper_status=1), _snmp(sys_name="core1.par1", uptime_s=5.0)])
    assert [s.tags.get("hostname") for s in first] == ["core1.par1", "core1.par1"]
    assert first[0].fields["ifOperStatus"] == 1
    assert first[1].fields["uptime"] == 500
    failed = rename([_snmp(poll_ok=0, error="timeout")])  # no sysName in a failed poll: the last one
    assert failed[0].tags["hostname"] == "core1.par1"
    renamed = rename([_interface(), _snmp(sys_name="core1-new")])
    assert {s.tags["hostname"] for s in renamed} == {"core1-new"}
    other = rename([_interface("r2")])  # never seen with a sysName: no tag, rather than a wrong one
    assert "hostname" not in other[0].tags


def test_an_inventory_hostname_tag_wins() -> None:
    mine = Sample("interface", {"device": "r1", "hostname": "chosen"}, {"ifHCInOctets": 1}, T)
    (out, _) = TelegrafNaming()([mine, _snmp(sys_name="from-agent")])
    assert out.tags["hostname"] == "chosen"


def test_other_records_pass_unchanged_and_netpoll_naming_is_no_renamer() -> None:
    record = Sample("netpoll", {"instance": "p1", "shard": "0/1"}, {"devices": 3}, T)
    alert = Sample("alert", {"device": "r1", "rule": "down", "severity": "major", "state": "breach"}, {}, T)
    assert TelegrafNaming()([record, alert]) == [record, alert]
    assert renamer("netpoll") is None
    assert isinstance(renamer("telegraf"), TelegrafNaming)


def test_remembered_devices_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(naming, "MAX_DEVICES", 2)
    rename = TelegrafNaming()
    for name in ("a", "b", "c"):
        rename([_snmp(name, sys_name=f"{name}.sys")])
    assert "hostname" not in rename([_snmp("a", poll_ok=0)])[0].tags  # the oldest was forgotten
    assert rename([_snmp("c", poll_ok=0)])[0].tags["hostname"] == "c.sys"


def test_every_record_it_writes_fits_the_model() -> None:
    ping = Sample(
        "ping",
        {"device": "x", "url": "x.example"},
        {"packets_transmitted": 0, "result_code": 2, "error": "no such host: ..."},
        T,
    )
    samples = [
        _interface(oper_status=1, admin_status=1, speed_bps=10**9),
        _snmp(sys_name="r1.sys", uptime_s=1.0),
        ping,
    ]
    out = TelegrafNaming()(samples)
    assert out[2].fields["result_code"] == 1
    assert [problem for sample in out for problem in MODEL.problems(sample)] == []
