"""Persistent daemon state: SNMP counter state (and alert state) in ``state_dir``, saved atomically.

The first cycle after a restart already yields rates because the last raw counters and uptimes of every
device come back from ``counters.json``. Files are written to a temporary name, fsync'd and renamed, so a
crash leaves either the old or the new file, never half of one. A missing or unreadable file means "no
state": logged, never fatal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from netpoll.atomic_file import write_atomic

log = logging.getLogger("netpoll.daemon.state")

COUNTERS_FILE = "counters.json"
ALERTS_FILE = "alerts.json"


# Longest run of encoding between two yields to the event loop (``encode_in_steps``).
STEP_S = 0.02


def encode_json(data: Any) -> bytes:
    """Compact JSON bytes of ``data``."""
    return json.dumps(data, separators=(",", ":")).encode()


async def encode_in_steps(
    head: Mapping[str, Any],
    key: str,
    entries: Iterable[tuple[str, Any]],
    step_s: float = STEP_S,
    deadline: float | None = None,
) -> bytes:
    """``encode_json({**head, key: dict(entries)})``, yielding to the event loop every ``step_s`` seconds.

    ``key`` must not be in ``head``. The state of thousands of devices takes seconds to turn into JSON: in
    one go it would stall every poll (and their deadlines) for as long. Each entry is taken and encoded in
    one step, so each is consistent in itself; ``entries`` may be a generator that reads live state.

    Raises:
        TimeoutError: ``deadline`` (``time.monotonic()``) passed before the last entry.
    """
    parts: list[str] = []
    resume = time.monotonic() + step_s
    for name, value in entries:
        parts.append(f"{json.dumps(name)}:{json.dumps(value, separators=(',', ':'))}")
        if time.monotonic() >= resume:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError
            await asyncio.sleep(0)
            resume = time.monotonic() + step_s
    opening = json.dumps({**head, key: {}}, separators=(",", ":"))[:-2]  # ends with '"key":{'
    return f"{opening}{','.join(parts)}}}}}".encode()


def load_json(path: Path) -> Any:
    """The JSON content of ``path``, or None when it is missing or unreadable (logged)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("state: ignoring unreadable %s (%s); starting without it", path, exc)
        return None


class StateStore:
    """Loads and saves the exportable state of the components that have one.

    Args:
        state_dir: the daemon's state directory.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def load_counters(self) -> dict[str, Any]:
        """The saved counter state (``SnmpPoller.export_state()`` form), or an empty dict."""
        data = load_json(self.state_dir / COUNTERS_FILE)
        return data if isinstance(data, dict) else {}

    def write_counters(self, encoded: bytes) -> None:
        """Write already encoded counter state atomically (errors logged, never raised)."""
        try:
            write_atomic(self.state_dir / COUNTERS_FILE, encoded)
        except OSError as exc:
            log.error("state: cannot save counter state to %s: %s", self.state_dir, exc)

    @property
    def alerts_path(self) -> Path:
        """Where the alert engine keeps its state."""
        return self.state_dir / ALERTS_FILE
