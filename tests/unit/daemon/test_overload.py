"""Whose problem a poll was: the classification of ``netpoll.daemon.overload``, table-driven."""

from __future__ import annotations

import pytest

from netpoll.daemon.overload import STALL_S, classify
from netpoll.probe import ProbeResult

OK = ProbeResult(True)
TIMEOUT = ProbeResult(False, error="no response", no_answer=True)
CUT = ProbeResult(False, error="deadline", cut=True, no_answer=True)
REFUSED = ProbeResult(False, error="agent error noSuchName")
SOME_LOSS = ProbeResult(True, no_answer=True)  # a ping with 2 of 3 replies


@pytest.mark.parametrize(
    ("result", "stalled_s", "queued_s", "reason"),
    [
        (None, 0.0, 0.0, "slot_wait"),  # never got a slot: nothing was sent
        (None, 10.0, 0.0, "slot_wait"),
        (OK, 0.0, 0.0, None),
        (OK, 10.0, 0.0, None),
        (TIMEOUT, 0.0, 0.0, None),  # the device's own timeout
        (TIMEOUT, STALL_S - 0.01, 0.0, None),
        (TIMEOUT, STALL_S, 0.0, "loop_lag"),
        (CUT, 0.0, 0.0, None),  # its budget started at the send: a cut is the device's
        (CUT, 30.0, 0.0, "loop_lag"),
        (REFUSED, 30.0, 0.0, None),  # an answer that said no
        (SOME_LOSS, 0.0, 0.0, None),  # loss the device is to blame for
        (SOME_LOSS, STALL_S, 0.0, "loop_lag"),  # loss that may be the poller's: not written, no loss alert
        (CUT, 0.0, STALL_S, "queue"),  # cut after queueing in the poller: the device lost part of its budget
        (CUT, 0.0, STALL_S - 0.01, None),
        (TIMEOUT, 0.0, 30.0, None),  # a request timeout runs from its send, after any queueing
        (OK, 0.0, 30.0, None),
    ],
)
def test_classify(result: ProbeResult | None, stalled_s: float, queued_s: float, reason: str | None) -> None:
    assert classify(result, stalled_s, queued_s) == reason
