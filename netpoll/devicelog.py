"""One way to name a device in a log line: a per-device ``LoggerAdapter``.

Code that logs about one device (or one ad-hoc agent) logs through ``device_log(logger, name)``. The record
carries the name as the ``device`` extra: the text format shows it as ``[name]`` after the logger name, the
JSON format as a ``device`` key, and the message itself never repeats it. Handlers and formats are
``netpoll.logging_setup``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any


class DeviceLog(logging.LoggerAdapter[logging.Logger]):
    """A logger bound to one device: every record gets ``device=<name>`` (kept with the caller's extras)."""

    def __init__(self, logger: logging.Logger, device: str) -> None:
        super().__init__(logger, {"device": device})

    @property
    def device(self) -> str:
        """The device (or ad-hoc agent) this logger names."""
        extra: Mapping[str, object] = self.extra or {}
        return str(extra["device"])

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        """Add ``device`` to the record's extras without dropping the caller's."""
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def device_log(logger: logging.Logger, device: str) -> DeviceLog:
    """``logger`` bound to ``device`` (a device name, or ``host:port`` for an ad-hoc agent)."""
    return DeviceLog(logger, device)
