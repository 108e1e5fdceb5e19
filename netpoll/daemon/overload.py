"""Whose problem a poll was: the device's (ok or failed) or the poller's (overloaded, with a reason).

A poll that could not start or finish because the poller itself was behind is *overloaded*: it is counted
as such (``polls_overloaded`` and one counter per reason in the ``netpoll`` record), shown on the status
page, and its records are not written, so no device alert rule ever sees it as a failure. Reasons:

* ``slot_wait``: no concurrency slot came free before the poll's next run was due; no request was sent.
* ``skipped``: APScheduler did not start the run (the device's previous poll, started late, still ran, or the
  run was missed by more than its grace time).
* ``loop_lag``: an answer the poll waited for did not come (a timeout, cut at its deadline, an echo request
  without reply, also in a ping that got others: it would read as loss) while the event loop stalled for at
  least :data:`STALL_S` seconds: the reply may well have come, unread, or been dropped from a full socket
  buffer.
* ``queue``: the poll was cut at its deadline after waiting :data:`STALL_S` seconds or more in the poller's
  own queues inside the probe (pysnmp's bound on requests in flight, ICMP send pacing:
  ``netpoll.probe.poller_queue``): the device did not get its whole budget.
* ``shed``: not started because the event loop ran :data:`SHED_LAG_S` seconds or more behind (more work
  than the core can do): no request was sent. Polls are shed before and after their wait for a slot, so the
  loop stays within about that lag, and what the loop also serves (the output's flushes, alert
  publishing, the state save, a stop signal) keeps running; a poll started anyway would have had its
  answers read seconds late (a ping's round-trip time with them).

A failure with an answer that said no (authentication, an agent error, no route) is the device's whatever the
loop did; so is a timeout or a cut while the loop kept up, because the device's budget starts when its
request is sent (:class:`netpoll.probe.Budget`): time spent waiting for a slot never counts against it.
"""

from __future__ import annotations

from typing import Literal

from netpoll.probe import ProbeResult

Reason = Literal["slot_wait", "skipped", "loop_lag", "queue", "shed"]
REASONS: tuple[Reason, ...] = ("slot_wait", "skipped", "loop_lag", "queue", "shed")

# Event-loop lag accumulated during a poll from which a failure for want of an answer is the poller's: longer
# than a typical SNMP request timeout's share of it, far shorter than a dead device's budget.
STALL_S = 1.0
# Event-loop lag from which new polls are not started (reason ``shed``). Far above what a poller within its
# capacity shows (p99 0.11-0.27 s at 20,000 devices on one core), low enough that the timers of a stop
# signal's grace period and of the output still fire about on time.
SHED_LAG_S = 1.0
# A cycle that started this share of its polls late (``polls_late``), and at least LATE_MIN_POLLS of them,
# is a poller at its capacity before it loses a poll: ``/healthz`` says degraded. A few late polls (a stall,
# a reload) are not; 20,000 devices within one core's capacity start none late.
LATE_SHARE = 0.1
LATE_MIN_POLLS = 10


def behind_on_schedule(late: int, due: int) -> bool:
    """Whether ``late`` of ``due`` polls started late is a poller at its capacity (see :data:`LATE_SHARE`)."""
    return late >= max(LATE_MIN_POLLS, LATE_SHARE * due)


def classify(result: ProbeResult | None, stalled_s: float = 0.0, queued_s: float = 0.0) -> Reason | None:
    """Why a poll was the poller's problem, or None when it was the device's (``result.ok`` or not).

    Args:
        result: what the probe returned; None when the poll never got a concurrency slot.
        stalled_s: event-loop lag accumulated while the probe ran.
        queued_s: time the probe waited in the poller's own queues (``netpoll.probe.queue_time``).
    """
    if result is None:
        return "slot_wait"
    if result.no_answer and stalled_s >= STALL_S:
        return "loop_lag"
    if result.cut and queued_s >= STALL_S:
        return "queue"
    return None
