"""aiomqtt 2.5 internals: the socket of the paho client inside ``aiomqtt.Client``.

aiomqtt offers no public way to see the socket its paho client holds (``Client._client.socket()``); the MQTT
publisher needs it to close a TLS socket whose handshake failed (paho neither keeps nor closes it).

Contract: ``tests/unit/compat/test_aiomqtt.py``; pinned ``aiomqtt>=2.5,<2.6``.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import aiomqtt

__all__ = ["paho_socket"]


def paho_socket(client: aiomqtt.Client) -> socket.socket | ssl.SSLSocket | None:
    """The socket the paho client inside ``client`` currently owns, or None."""
    paho: Any = getattr(client, "_client", None)
    if paho is None:
        return None
    sock: socket.socket | ssl.SSLSocket | None = paho.socket()
    return sock
