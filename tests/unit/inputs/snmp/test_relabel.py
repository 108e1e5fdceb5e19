"""When a label poll walks the interface labels and when it keeps those held (``label_walk_reason``)."""

from __future__ import annotations

import pytest

from netpoll.inputs.snmp.relabel import LabelMark, label_walk_reason

HELD = LabelMark(last_change=4200, if_number=200)
HOUR = 3600.0


@pytest.mark.parametrize(
    ("held", "now", "rebooted", "age_s", "max_age_s", "reason"),
    [
        (HELD, HELD, False, 600.0, HOUR, None),
        (HELD, HELD, False, HOUR - 1, HOUR, None),
        (None, HELD, False, 0.0, HOUR, "no labels walked yet"),
        (HELD, HELD, True, 600.0, HOUR, "rebooted"),
        # A reboot puts ifTableLastChange back: rebooted names it, not the change.
        (HELD, LabelMark(0, 200), True, 600.0, HOUR, "rebooted"),
        (HELD, LabelMark(4300, 200), False, 600.0, HOUR, "ifTableLastChange changed"),
        (HELD, LabelMark(4100, 200), False, 600.0, HOUR, "ifTableLastChange changed"),
        (HELD, LabelMark(4200, 201), False, 600.0, HOUR, "ifNumber changed"),
        (HELD, LabelMark(4200, None), False, 600.0, HOUR, "ifNumber changed"),
        # noSuchObject/noSuchInstance: nothing vouches for the labels, walked on every label poll.
        (HELD, LabelMark(None, 200), False, 600.0, HOUR, "no ifTableLastChange"),
        (LabelMark(None, 200), LabelMark(None, 200), False, 600.0, HOUR, "no ifTableLastChange"),
        (LabelMark(None, 200), HELD, False, 600.0, HOUR, "no ifTableLastChange"),
        # An agent without ifNumber but with ifTableLastChange: the latter alone vouches.
        (LabelMark(4200, None), LabelMark(4200, None), False, 600.0, HOUR, None),
        # The upper bound: ifAlias edits move neither indicator.
        (HELD, HELD, False, HOUR, HOUR, "labels_max_age_s reached"),
        (HELD, HELD, False, 7200.0, HOUR, "labels_max_age_s reached"),
        (HELD, HELD, False, 0.0, 0.0, "labels_max_age_s reached"),
    ],
)
def test_label_walk_reason(
    held: LabelMark | None,
    now: LabelMark,
    rebooted: bool,
    age_s: float,
    max_age_s: float,
    reason: str | None,
) -> None:
    assert label_walk_reason(held, now, rebooted=rebooted, age_s=age_s, max_age_s=max_age_s) == reason
