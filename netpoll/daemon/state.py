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
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from netpoll import defaults
from netpoll.atomic_file import AtomicFile

log = logging.getLogger("netpoll.daemon.state")

COUNTERS_FILE = "counters.json"
ALERTS_FILE = "alerts.json"


# Longest run of encoding between two yields to the event loop (``encode_in_steps``).
STEP_S = defaults.STATE_STEP_S


def encode_json(data: Any) -> bytes:
    """Compact JSON bytes of ``data``."""
    return json.dumps(data, separators=(",", ":")).encode()


async def encode_in_steps(
    head: Mapping[str, Any],
    key: str,
    entries: Iterable[tuple[str, Any]],
    write: Callable[[bytes], object],
    step_s: float = STEP_S,
    deadline: float | None = None,
) -> None:
    """``encode_json({**head, key: dict(entries)})`` in pieces to ``write``, yielding to the loop between.

    ``key`` must not be in ``head``. The state of thousands of devices takes seconds to turn into JSON: in
    one go it would stall every poll (and their deadlines) for as long. Each entry is taken and encoded in
    one step, so each is consistent in itself; ``entries`` may be a generator that reads live state. What a
    step (``step_s`` seconds of encoding) made goes to ``write`` at once: the whole document is never held
    (at 20,000 devices the counter state is ~150 MB of JSON, and its parts held for a join were a peak of
    three copies, whose freed memory stayed in the process).

    Raises:
        TimeoutError: ``deadline`` (``time.monotonic()``) passed before the last entry.
    """
    opening = json.dumps({**head, key: {}}, separators=(",", ":"))[:-2]  # ends with '"key":{'
    parts: list[str] = [opening]
    comma = ""
    resume = time.monotonic() + step_s
    for name, value in entries:
        parts.append(f"{comma}{json.dumps(name)}:{json.dumps(value, separators=(',', ':'))}")
        comma = ","
        if time.monotonic() >= resume:
            write("".join(parts).encode())
            parts.clear()
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError
            await asyncio.sleep(0)
            resume = time.monotonic() + step_s
    parts.append("}}")
    write("".join(parts).encode())


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

    async def save_counters(
        self,
        head: Mapping[str, Any],
        entries: Iterable[tuple[str, Any]],
        deadline: float | None = None,
        step_s: float = STEP_S,
    ) -> None:
        """Save the counter state, ``{**head, "devices": dict(entries)}``, encoded and written in steps.

        The pieces go to a temporary file as they are made (the page cache takes them; the fsync and the
        rename are off the event loop); it replaces the saved state only once complete. Errors are logged,
        never raised, but ``TimeoutError`` (see ``encode_in_steps``) and encoding errors (TypeError,
        ValueError) are, once the temporary file is removed.
        """
        try:
            file = AtomicFile(self.state_dir / COUNTERS_FILE)
        except OSError as exc:
            self._failed(exc)
            return
        try:
            await encode_in_steps(head, "devices", entries, file.write, step_s, deadline)
        except TimeoutError:  # an OSError too, but not the disk's
            file.discard()
            raise
        except OSError as exc:
            file.discard()
            self._failed(exc)
            return
        except BaseException:
            file.discard()
            raise
        try:
            await asyncio.to_thread(file.commit)
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        log.error("state: cannot save counter state to %s: %s", self.state_dir, exc)

    @property
    def alerts_path(self) -> Path:
        """Where the alert engine keeps its state."""
        return self.state_dir / ALERTS_FILE
