"""The status board: device states from poll results, skipped polls, alerts and the inventory."""

from __future__ import annotations

from netpoll.alerts.alert import Alert
from netpoll.daemon.status import StatusBoard
from netpoll.inventory.models import Device
from netpoll.probe import ProbeResult
from netpoll.sample import Sample


def _snmp(name: str, ok: bool, error: str = "", interfaces: int = 0, duration: float = 0.05) -> ProbeResult:
    fields: dict[str, int | str] = {"poll_ok": int(ok)}
    if error:
        fields["error"] = error
    status = Sample("snmp", {"device": name}, fields, 1)
    rows = [
        Sample("interface", {"device": name, "ifName": f"e{i}"}, {"in_bps": 1.5}, 1)
        for i in range(interfaces)
    ]
    return ProbeResult(ok, [status, *rows], error or None, duration)


def _ping(name: str, code: int) -> ProbeResult:
    error = {0: None, 1: "no reply"}.get(code, "could not send")
    return ProbeResult(code == 0, [Sample("ping", {"device": name}, {"result_code": code}, 1)], error, 0.001)


def _board(*names: str, disabled: tuple[str, ...] = ()) -> StatusBoard:
    board = StatusBoard(history=3)
    devices = [Device(name=n, address="127.0.0.1") for n in names]
    devices += [Device(name=n, address="127.0.0.2", enabled=False) for n in disabled]
    board.set_inventory(devices, names)
    return board


def _state(board: StatusBoard, name: str) -> str:
    detail = board.device(name)
    assert detail is not None
    return str(detail["state"])


def test_states_follow_the_last_results() -> None:
    board = _board("a", "b", "c", disabled=("d",))
    assert [d["state"] for d in board.devices()] == ["pending", "pending", "pending", "disabled"]
    board.poll_done("snmp", "a", _snmp("a", True, interfaces=2))
    board.poll_done("ping", "a", _ping("a", 0))
    board.poll_done("snmp", "b", _snmp("b", False, "no response within 2 s", duration=4.0))
    board.poll_done("snmp", "c", _snmp("c", True), late=True)
    assert [_state(board, n) for n in "abcd"] == ["ok", "failing", "overloaded", "disabled"]
    a = board.device("a")
    assert a is not None
    assert a["interfaces"] == 2
    assert a["probes"]["snmp"]["last_success"] is not None
    b = board.device("b")
    assert b is not None
    assert b["error"] == "snmp: no response within 2 s"
    assert b["probes"]["snmp"]["last_success"] is None
    board.poll_done("snmp", "a", _snmp("a", True))
    board.poll_overloaded("snmp", "a", "skipped")  # the poller was too busy for the next one
    assert _state(board, "a") == "overloaded"
    a = board.device("a")
    assert a is not None
    assert (a["overloaded"], a["history"][0]["overloaded"]) == ("snmp: skipped", "skipped")
    board.poll_done("snmp", "b", _snmp("b", True))
    assert _state(board, "b") == "ok"


def test_a_device_the_poller_never_had_time_for_is_overloaded_not_failing() -> None:
    board = _board("a")
    board.poll_overloaded("snmp", "a", "slot_wait")
    assert _state(board, "a") == "overloaded"
    detail = board.device("a")
    assert detail is not None
    assert detail["error"] == ""
    assert detail["probes"] == {}


def test_history_is_bounded_and_newest_first() -> None:
    board = _board("a")
    for i in range(5):
        board.poll_done("snmp", "a", _snmp("a", i % 2 == 0, "x" if i % 2 else "", duration=float(i)))
    detail = board.device("a")
    assert detail is not None
    assert [h["duration_s"] for h in detail["history"]] == [4.0, 3.0, 2.0]
    assert detail["probes"]["snmp"]["polls"] == 5


def test_history_keeps_each_result_with_its_own_error_and_reason_across_the_wrap() -> None:
    board = _board("a")  # 3 results kept
    board.poll_done("snmp", "a", _snmp("a", False, "timeout", duration=1.0))
    board.poll_overloaded("ping", "a", "slot_wait")
    board.poll_done("ping", "a", _ping("a", 0))
    board.poll_done("snmp", "a", _snmp("a", True, duration=2.0))  # takes the slot of the failed poll
    board.poll_done("snmp", "a", _snmp("a", False, "agent error", duration=3.0))
    detail = board.device("a")
    assert detail is not None
    assert [
        (h["kind"], h["ok"], h.get("duration_s"), h["error"], h.get("overloaded")) for h in detail["history"]
    ] == [
        ("snmp", False, 3.0, "agent error", None),
        ("snmp", True, 2.0, "", None),
        ("ping", True, 0.001, "", None),
    ]


def test_a_board_that_keeps_no_history() -> None:
    board = StatusBoard(history=0)
    board.set_inventory([Device(name="a", address="127.0.0.1")], ["a"])
    board.poll_done("snmp", "a", _snmp("a", True))
    detail = board.device("a")
    assert detail is not None
    assert (detail["history"], detail["alert_history"], detail["state"]) == ([], [], "ok")


def test_last_samples_and_history_read_back_as_dicts() -> None:
    """Kept packed (tuples, shared field names), served as ``Sample.to_dict`` and history dicts."""
    board = _board("a")
    result = _snmp("a", True, interfaces=2, duration=0.25)
    board.poll_done("snmp", "a", result)
    board.poll_overloaded("ping", "a", "slot_wait")
    detail = board.device("a")
    assert detail is not None
    assert detail["samples"] == [sample.to_dict() for sample in result.samples]
    assert detail["interfaces"] == 2
    exact = [
        Sample("interface", {"device": "a"}, {"ifHCInOctets": 2**60 + 1, "in_bps": 0.1}, 1),  # past a double
        Sample("interface", {"device": "a"}, {"ifHCInOctets": 7, "in_bps": 2.5, "up": True, "note": "x"}, 1),
        Sample("interface", {"device": "a"}, {"ifHCInOctets": 7, "in_bps": 2.5}, 1),
    ]
    board.poll_done("snmp", "a", ProbeResult(True, exact, None, 0.1))
    again = board.device("a")
    assert again is not None
    assert again["samples"] == [sample.to_dict() for sample in exact]
    assert [type(v) for v in again["samples"][2]["fields"].values()] == [int, float]
    newest, older = detail["history"]
    assert newest == {
        "kind": "ping",
        "time": newest["time"],
        "ok": None,
        "overloaded": "slot_wait",
        "error": "",
    }
    assert older == {"kind": "snmp", "time": older["time"], "ok": True, "duration_s": 0.25, "error": ""}


def _alert(state: str, entity: str = "ge-0/0/1") -> Alert:
    return Alert(
        id="x", state=state, rule="if_util", severity="warning", device="a", entity=entity,  # type: ignore[arg-type]
        measurement="interface", field="in_util_pct", value=95.0, threshold=90.0, clear_threshold=80.0,
        since_ns=1, time_ns=2_000_000_000, message="a ge-0/0/1: if_util breached",
    )  # fmt: skip


def test_alerts_active_until_cleared_and_kept_in_history() -> None:
    board = _board("a")
    board.alert(_alert("breach"))
    summary = board.devices()[0]
    assert [a["rule"] for a in summary["active_alerts"]] == ["if_util"]
    board.alert(_alert("clear"))
    detail = board.device("a")
    assert detail is not None
    assert detail["active_alerts"] == []
    assert [a["state"] for a in detail["alert_history"]] == ["clear", "breach"]


def test_reload_keeps_known_devices_and_forgets_removed() -> None:
    board = _board("a", "b")
    board.poll_done("snmp", "a", _snmp("a", True))
    board.set_inventory([Device(name="a", address="127.0.0.3")], ["a"])
    assert [d["name"] for d in board.devices()] == ["a"]
    assert board.devices()[0]["address"] == "127.0.0.3"
    assert _state(board, "a") == "ok"
    assert board.device("b") is None


def test_last_samples_come_back_as_they_were_polled() -> None:
    # Packed per shape (numbers in one array when exact): text, bools, ints past 2^53 and NaN come back too.
    board = _board("a")
    records = [
        Sample("snmp", {"device": "a"}, {"poll_ok": 1, "profile": "linux", "uptime_s": 5.5}, 1),
        Sample("interface", {"device": "a", "ifName": "e0"}, {"in": 2**60 + 1, "up": True, "bps": 1.5}, 1),
        Sample("interface", {"device": "a", "ifName": "e1"}, {"in": 7, "up": False, "bps": float("inf")}, 1),
        Sample("interface", {"device": "a", "ifName": "e2"}, {"in": 7, "up": False, "bps": float("nan")}, 1),
    ]
    for _ in range(2):  # the second time each shape is known
        board.poll_done("snmp", "a", ProbeResult(True, records, None, 0.1))
        detail = board.device("a")
        assert detail is not None
        got = detail["samples"]
        assert [sample["fields"] for sample in got[:3]] == [record.fields for record in records[:3]]
        assert [type(value) for value in got[1]["fields"].values()] == [int, bool, float]
        assert got[3]["fields"]["bps"] != got[3]["fields"]["bps"]  # NaN
        assert got[0]["tags"] == {"device": "a"}
