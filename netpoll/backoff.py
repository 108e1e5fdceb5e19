"""The one retry pacing of netpoll: capped exponential backoff with jitter.

Attempt ``n`` (from 0) waits a delay drawn uniformly from ``[c/2, c]`` with ``c = min(cap, base * 2**n)``
("equal jitter"): the random half spreads many pollers that lost the same server apart, and the fixed
half guarantees a minimum spacing, so a failing peer is never retried in a tight loop whatever the state of
the caller (running, reloading or shutting down). Used by the InfluxDB writer and the MQTT publisher.
"""

from __future__ import annotations

import random

__all__ = ["Backoff", "backoff_delay"]

# 2**30 times any sane base is far beyond any cap: stop growing the exponent there (no float overflow).
_MAX_EXPONENT = 30


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """The delay before retry number ``attempt`` (0 = the first retry), in seconds."""
    ceiling = min(cap_s, base_s * 2.0 ** min(max(attempt, 0), _MAX_EXPONENT))
    return ceiling * (0.5 + 0.5 * (rng or random).random())


class Backoff:
    """Counts failed attempts and hands out the next delay; ``reset()`` after a success.

    Args:
        base_s: bound of the first delay.
        cap_s: bound of every delay.
        rng: random source (tests pass a seeded one).
    """

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"backoff needs 0 < base ({base_s}) <= cap ({cap_s})")
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        delay = backoff_delay(self.attempt, self.base_s, self.cap_s, self._rng)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start over after a success."""
        self.attempt = 0
