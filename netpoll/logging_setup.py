"""Log handlers and format for the command line (the only place handlers are installed).

Two formats: ``text`` (one human line: time, level, component, ``[device]`` where there is one, message)
and ``json`` (one object per line: ``time``, ``level``, ``logger``, ``message``, ``device`` and any other
``extra`` keys). Library code names the device with ``netpoll.devicelog.device_log`` (the ``device`` extra).

Secrets are never passed to the log by netpoll code (credentials are ``SecretStr``); as a second line of
defence a filter masks the values of registered secrets in every record.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from typing import Any, Literal

from netpoll.text import for_terminal, json_text

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else was passed through ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}
_NOISY = ("apscheduler", "influxdb_client", "urllib3", "pysnmp", "asyncio", "snmpsim")
_PLAIN = logging.Formatter()


class _RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            masked = self._mask(message)
            if masked != message:
                record.msg, record.args = masked, None
            # An exception's text (its message, a URL in it) is part of the record too: format it once here,
            # masked; the formatters print exc_text when it is set.
            if record.exc_info and not record.exc_text:
                record.exc_text = _PLAIN.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._mask(record.exc_text)
        return True


class TextFormatter(logging.Formatter):
    """``2026-01-01T12:00:00Z WARNING netpoll.daemon [r1] message``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        device = getattr(record, "device", None)
        where = f" [{for_terminal(str(device))}]" if device else ""
        # Device strings (names, ifAlias, ...) reach messages too: no raw control or escape sequences, one
        # line per event (netpoll.text). Long messages are not cut; only each unsafe character is escaped.
        message = for_terminal(record.getMessage(), limit=1 << 20)
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname} {record.name}{where} {message}"
        if record.exc_info or record.exc_text:
            line += "\n" + _exception_text(self, record)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = (
                    value if isinstance(value, str | int | float | bool) or value is None else str(value)
                )
        if record.exc_info or record.exc_text:
            data["exception"] = _exception_text(self, record)
        return json_text(json.dumps(data, ensure_ascii=False))


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The record's traceback: ``exc_text`` when the secrets filter already formatted (and masked) it."""
    if record.exc_text:
        return record.exc_text
    assert record.exc_info is not None
    return formatter.formatException(record.exc_info)


def setup_logging(level: str = "INFO", fmt: LogFormat = "text", secrets: Iterable[str] = ()) -> None:
    """Install the one stderr handler; call once, from the CLI."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party chatter (APScheduler logs every job run at INFO) only from WARNING up, unless debugging.
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    # APScheduler warns about every skipped run; the daemon counts them and reports once per cycle.
    if level.upper() != "DEBUG":
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
