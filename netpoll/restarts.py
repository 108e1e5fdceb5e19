"""Restart notifications by device: the seam between the trap pipeline and the poller's reboot check.

The trap pipeline calls :meth:`RestartNotices.note` for every coldStart or warmStart it maps to an
inventory device. When a poll finds that a device's uptime went backwards, the SNMP poller asks
:meth:`RestartNotices.announced` whether such a trap came since the device booted; a reboot that no trap
announced is the ``unexpected_reboot`` signal (docs/security.md). Without a trap receiver nothing is ever
noted, so every reboot counts as unexpected.

One entry per device (the latest notice), at most ``limit`` devices: the oldest is forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict

# A device sends coldStart once its agent is up, a moment after the uptime's zero; the boot time derived
# from sysUpTime at the next poll is coarse too (TimeTicks, the poll's own latency): accept a notice this
# much before it.
BOOT_SLACK_S = 60.0

RESTART_TRAPS = frozenset({"coldStart", "warmStart"})


class RestartNotices:
    """The latest coldStart/warmStart arrival time per device (nanoseconds since the epoch).

    Args:
        limit: the most devices remembered.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._limit = max(1, limit)

    def __len__(self) -> int:
        return len(self._latest)

    def note(self, device: str, time_ns: int) -> None:
        """Record that ``device`` announced a restart (a coldStart or warmStart trap) at ``time_ns``."""
        if time_ns < self._latest.get(device, 0):
            return  # a late duplicate (an inform retransmission) says nothing new
        self._latest[device] = time_ns
        self._latest.move_to_end(device)
        while len(self._latest) > self._limit:
            self._latest.popitem(last=False)

    def announced(self, device: str, boot_ns: int) -> bool:
        """Whether ``device`` announced a restart at or after ``boot_ns`` (less ``BOOT_SLACK_S``)."""
        latest = self._latest.get(device)
        return latest is not None and latest >= boot_ns - int(BOOT_SLACK_S * 1e9)

    def forget(self, device: str) -> None:
        """Drop a device (removed from the inventory)."""
        self._latest.pop(device, None)
