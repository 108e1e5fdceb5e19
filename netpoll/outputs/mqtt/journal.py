"""An append-only journal of the publisher's queue, so alerts not yet acknowledged survive a restart.

One line per event: ``+{json}`` when an alert is queued, ``-<id>`` when the broker acknowledged it (or it was
dropped), ``!<id>`` when it was set aside (connections kept breaking on it, or paho would not send it): a
record, never replayed. Lines are flushed to the OS at once, which is enough for a process killed with
SIGKILL; at start-up the pending alerts are read back in order and the file is rewritten with only them. A
torn last line (a crash mid-write) is ignored. Journal I/O errors are logged and turn the journal off: they
never stop publishing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from netpoll.atomic_file import write_atomic

logger = logging.getLogger("netpoll.outputs.mqtt")

# Rewrite the file once this many entries were acknowledged and nothing is pending any more.
COMPACT_AFTER = 1000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One alert's MQTT messages: (topic, payload, retain), sent in order, removed together."""

    alert_id: str
    messages: tuple[tuple[str, bytes, bool], ...]

    def to_line(self) -> str:
        record = {"id": self.alert_id, "m": [[t, p.decode(), r] for t, p, r in self.messages]}
        return "+" + json.dumps(record, separators=(",", ":")) + "\n"

    @classmethod
    def from_record(cls, record: dict[str, object]) -> Outgoing:
        messages = record["m"]
        if not isinstance(messages, list):
            raise TypeError("m")
        return cls(str(record["id"]), tuple((str(t), str(p).encode(), bool(r)) for t, p, r in messages))


class QueueJournal:
    """The journal file of one publisher (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._removed = 0

    def open(self) -> list[Outgoing]:
        """Read back what is still pending, rewrite the file with only that, and keep it open to append."""
        pending = self._read()
        try:
            write_atomic(self.path, "".join(item.to_line() for item in pending).encode("utf-8"))
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            logger.error(
                "MQTT queue journal %s unusable (%s): queued alerts will not survive a restart",
                self.path,
                exc,
            )
            self._file = None
        if pending:
            logger.info("MQTT queue journal: %d alert(s) from before the restart to publish", len(pending))
        return pending

    def _read(self) -> list[Outgoing]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            logger.error("MQTT queue journal %s unreadable: %s", self.path, exc)
            return []
        pending: dict[str, Outgoing] = {}
        for line in text.splitlines():
            try:
                if line.startswith("+"):
                    item = Outgoing.from_record(json.loads(line[1:]))
                    pending[item.alert_id] = item
                elif line.startswith(("-", "!")):
                    pending.pop(line[1:], None)
            except (ValueError, TypeError, KeyError):
                logger.warning("MQTT queue journal: skipping a damaged line")
        return list(pending.values())  # dicts keep insertion order: the publishing order

    def added(self, item: Outgoing) -> None:
        """Record a queued alert."""
        self._write(item.to_line())

    def removed(self, alert_id: str, queue_empty: bool) -> None:
        """Record an acknowledged (or dropped) alert; compact the file when nothing is pending."""
        self._write(f"-{alert_id}\n")
        self._removed += 1
        if queue_empty and self._removed >= COMPACT_AFTER and self._file is not None:
            try:
                self._file.truncate(0)
                self._file.seek(0)
            except OSError as exc:
                self._fail(exc)
            self._removed = 0

    def refused(self, alert_id: str) -> None:
        """Record an alert set aside as refused: no longer pending, not replayed after a restart."""
        self._write(f"!{alert_id}\n")

    def close(self) -> None:
        """Close the file (what is pending stays in it for the next start)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                logger.error("MQTT queue journal %s: %s", self.path, exc)
            self._file = None

    def _write(self, line: str) -> None:
        if self._file is None:
            return
        try:
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        logger.error("MQTT queue journal %s: %s; journal off", self.path, exc)
        self.close()
