"""The per-device logger adapter: the device goes as the ``device`` extra, the caller's extras kept."""

from __future__ import annotations

import logging

import pytest

from netpoll.devicelog import device_log
from netpoll.logging_setup import JsonFormatter, TextFormatter


def test_device_extra_is_set_and_caller_extras_kept(caplog: pytest.LogCaptureFixture) -> None:
    log = device_log(logging.getLogger("netpoll.test"), "r1")
    assert log.device == "r1"
    with caplog.at_level(logging.INFO, logger="netpoll.test"):
        log.info("reboot detected (uptime %.0fs)", 12.0, extra={"kind": "snmp"})
    (record,) = caplog.records
    assert record.getMessage() == "reboot detected (uptime 12s)"
    assert getattr(record, "device", None) == "r1"
    assert getattr(record, "kind", None) == "snmp"
    assert " [r1] reboot detected" in TextFormatter().format(record)
    assert '"device": "r1"' in JsonFormatter().format(record)
