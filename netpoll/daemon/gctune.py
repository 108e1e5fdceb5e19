"""Cyclic garbage collector settings for a daemon that owns its process (``netpoll run``).

At thousands of devices the heap holds millions of long-lived objects (the inventory, per-device counter
and alert state, the status board) and every poll replaces some of them. With CPython's default thresholds
(700, 10, 10) the collector traverses that heap again and again and finds almost nothing: a 2,000-device
``bench/scale.py`` run spent 40 % of the event loop's CPU in 5,669 collections (36 of them full, up to
0.53 s each: event-loop stalls) that freed 1,115 objects in all. netpoll's garbage is freed by reference
counting; the collector is only a backstop for the rare reference cycle.

So the daemon raises the thresholds (a young collection every 50,000 net allocations instead of 700, an
older one every 20 of those, a full one only after 100 of those and when the survivors grew by a quarter,
CPython's own rule) and, once started, freezes what start-up allocated (modules, profiles, inventory, the
restored state), which lives as long as the process, so no collection traverses it again. Cyclic garbage
is still collected, later. In-process daemons (tests) keep the interpreter's settings.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def tune() -> None:
    """Raise the collector's thresholds (the process's lifetime)."""
    gc.set_threshold(*THRESHOLDS)


def freeze_startup() -> None:
    """Move every object start-up allocated to the permanent generation (never traversed again)."""
    gc.collect()  # start-up's own cyclic garbage first, so it is not frozen for good
    gc.freeze()
