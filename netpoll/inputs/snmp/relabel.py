"""Whether a label poll must walk every interface's label columns, or may keep the labels it holds.

Every ``label_every``-th poll is a label poll. Walking the label columns (ifDescr, ifName, ifAlias, speeds) of
every row costs about one request per 25 rows per column, which on a device with a few selected interfaces out
of hundreds is most of its requests. IF-MIB's ``ifTableLastChange`` (sysUpTime when a row was last created or
deleted) and ``ifNumber``, read in the poll's first GET at no extra request, say whether the interface set
changed since the labels were walked; where they did not (and the device did not reboot), the walk is
skipped. Neither changes when an operator edits an ifAlias or a speed is renegotiated, so the walk still
comes at least every ``max_age_s`` seconds, and the selected rows' own label cells are read with a GET on a
skipped label poll (see ``SnmpPoller``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LabelMark:
    """The change indicators as one poll read them.

    Attributes:
        last_change: ifTableLastChange (TimeTicks); None when the agent lacks it (noSuchObject/Instance).
        if_number: ifNumber; None when the agent lacks it.
    """

    last_change: int | None
    if_number: int | None


def label_walk_reason(
    held: LabelMark | None, now: LabelMark, *, rebooted: bool, age_s: float, max_age_s: float
) -> str | None:
    """Why this label poll walks the labels, or None: the labels held are still good.

    Args:
        held: the indicators read with the last label walk; None when no walk was made (or it was forgotten).
        now: the indicators this poll read.
        rebooted: the uptime went back (ifTableLastChange counts from the agent's start: a value after a
            reboot cannot be compared with one before).
        age_s: seconds since the last label walk.
        max_age_s: the labels are walked at least this often whatever the indicators say; 0: always.
    """
    if held is None:
        return "no labels walked yet"
    if rebooted:
        return "rebooted"
    if now.last_change is None or held.last_change is None:
        return "no ifTableLastChange"  # nothing vouches for the rows: the periodic walk as before
    if now.last_change != held.last_change:
        return "ifTableLastChange changed"
    if now.if_number != held.if_number:
        return "ifNumber changed"
    if age_s >= max_age_s:
        return "labels_max_age_s reached"
    return None
