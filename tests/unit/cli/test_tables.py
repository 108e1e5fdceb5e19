"""`ping` and `poll` tables at 80 columns with long names and IPv6 addresses: no name or address is cut (nor
turned into an emoji: rich reads ``:1234:`` in ``fd00:1234:...`` as one); low-value columns are left out first
(and named); piped, every column is there."""

from __future__ import annotations

import pytest

from netpoll.cli import ping, poll, tables
from netpoll.inputs.icmp.stats import ping_sample, summarize
from netpoll.sample import Sample

NAMES = ("core-router-amsterdam-01.dc1.example", "access-switch-paris-rack-42-unit-07", "fw-edge-2")
ADDRESSES = ("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe", "fd00:1234:5678:9abc::1", "127.0.0.1")
AD_HOC = "[2001:db8:ffff:ffff:ffff:ffff:ffff:fffd]:1161"


def _ping_samples() -> list[Sample]:
    samples = []
    for name, address, rtts in zip(
        NAMES, ADDRESSES, ([0.021, 0.034, 0.029], [], [12.5, 14.25, 13.0]), strict=True
    ):
        stats = summarize(3, rtts)
        samples.append(ping_sample(stats, device=name, url=address, tags={}, time_ns=1))
    return samples


def _poll_rounds() -> list[list[list[Sample]]]:
    devices = []
    for name, address in [*zip(NAMES, ADDRESSES, strict=True), (AD_HOC, ADDRESSES[0][:-1] + "d")]:
        tags = {"device": name, "agent_host": address}
        status = Sample(
            "snmp", tags,
            {"poll_ok": 1, "profile": "cisco-ios", "sys_name": name.split(".")[0], "uptime_s": 8_640_123,
             "cpu_pct": 37.123456, "mem_used_pct": 61.98765, "temperature_c": 41.0, "varbinds": 412,
             "poll_duration_ms": 48.123},
            1,
        )  # fmt: skip
        interface = Sample(
            "interface", {**tags, "ifName": "TenGigabitEthernet1/0/48.1000", "ifIndex": "1048"},
            {"oper_status": 1, "admin_status": 1, "speed_bps": 10_000_000_000, "in_bps": 1_234_567.891},
            1,
        )  # fmt: skip
        devices.append([status, interface])
    return [devices]


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


@pytest.mark.parametrize("width", [80, None])
def test_ping_table_cuts_no_name_or_address(
    width: int | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tables, "terminal_width", lambda: width)
    ping._print(_ping_samples(), "table")
    out = capsys.readouterr().out
    for text in (*NAMES, *ADDRESSES[:2]):
        assert any(text in line for line in _lines(out)), f"{text} cut in:\n{out}"
    assert "…" not in out
    assert _lines(out)[-1] == "3 targets: 2 answered, 1 no reply"
    if width is None:  # piped: every column
        assert "jitter" in out
        assert "not shown" not in out
    else:
        assert "not shown at this width: jitter, stddev" in out


@pytest.mark.parametrize("width", [80, None])
def test_poll_tables_cut_no_name_or_address(
    width: int | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(poll, "terminal_width", lambda: width)
    poll._print(_poll_rounds(), "table", interfaces=True)
    out = capsys.readouterr().out
    for text in (*NAMES, *ADDRESSES[:2], AD_HOC, "TenGigabitEthernet1/0/48.1000"):
        assert any(text in line for line in _lines(out)), f"{text} cut in:\n{out}"
    assert "…" not in out
    assert "37.123456" not in out
    assert "add --samples 2" in out  # one sample: the rates are explained, not just '-'
    assert _lines(out)[-1] == "4 devices: 4 ok, 0 failed"
    if width is None:
        assert "37.1" in out  # rounded for people
        assert "not shown" not in out
    else:
        assert "not shown at this width" in out
        assert "varbinds" not in out.split("not shown")[0]


def test_poll_failed_only(capsys: pytest.CaptureFixture[str]) -> None:
    rounds = _poll_rounds()
    broken = Sample("snmp", {"device": "dead-1", "agent_host": "127.0.0.9"}, {"poll_ok": 0, "error": "x"}, 1)
    rounds[0].append([broken])
    poll._print(rounds, "table", interfaces=False, failed_only=True)
    out = capsys.readouterr().out
    assert "dead-1" in out
    assert NAMES[0] not in out
    assert _lines(out)[-1] == "1 device failed"


def test_ping_failed_only(capsys: pytest.CaptureFixture[str]) -> None:
    ping._print(_ping_samples(), "table", failed_only=True)
    out = capsys.readouterr().out
    assert NAMES[1] in out
    assert NAMES[0] not in out
    assert _lines(out)[-1] == "3 targets: 2 answered, 1 no reply"
