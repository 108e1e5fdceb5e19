"""aiomqtt 2.5 internals: the socket of the paho client inside ``aiomqtt.Client``, and PUBACK reason codes.

aiomqtt offers no public way to see the socket its paho client holds (``Client._client.socket()``); the MQTT
publisher needs it to close a TLS socket whose handshake failed (paho neither keeps nor closes it).
``Client.publish`` also drops the reason code of an MQTT 5 PUBACK (a broker's ACL refusal, 0x87, looks like a
success); :func:`track_publish_results` hooks the paho client's ``publish`` and ``on_publish`` to keep it.

Contract: ``tests/unit/compat/test_aiomqtt.py``; pinned ``aiomqtt>=2.5,<2.6``.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import aiomqtt

__all__ = ["PublishResults", "paho_socket", "track_publish_results"]


def paho_socket(client: aiomqtt.Client) -> socket.socket | ssl.SSLSocket | None:
    """The socket the paho client inside ``client`` currently owns, or None."""
    paho: Any = getattr(client, "_client", None)
    if paho is None:
        return None
    sock: socket.socket | ssl.SSLSocket | None = paho.socket()
    return sock


class PublishResults:
    """The PUBACK reason codes of one client's publishes (MQTT 5), by message id."""

    def __init__(self) -> None:
        self.last_mid: int | None = None
        self._codes: dict[int, Any] = {}

    def acked(self, mid: int, reason_code: Any) -> None:
        """Record the reason code paho reported for ``mid``."""
        self._codes[mid] = reason_code

    def take_last(self) -> tuple[int, str] | None:
        """``(code, name)`` of the last PUBACK when it was a refusal, else None (a success, or MQTT 3.1.1)."""
        mid, self.last_mid = self.last_mid, None
        code = self._codes.pop(mid, None) if mid is not None else None
        self._codes.clear()  # one publish at a time: anything else is stale
        if code is None or not getattr(code, "is_failure", False):
            return None
        return int(code.value), str(code)


def track_publish_results(client: aiomqtt.Client) -> PublishResults:
    """Keep the PUBACK reason code of every publish through ``client`` (before it connects)."""
    paho: Any = client._client
    results = PublishResults()
    aiomqtt_on_publish = paho.on_publish
    paho_publish = paho.publish

    def on_publish(c: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        results.acked(mid, reason_code)
        aiomqtt_on_publish(c, userdata, mid, reason_code, properties)

    def publish(*args: Any, **kwargs: Any) -> Any:
        info = paho_publish(*args, **kwargs)
        results.last_mid = info.mid
        return info

    paho.on_publish = on_publish
    paho.publish = publish
    return results
