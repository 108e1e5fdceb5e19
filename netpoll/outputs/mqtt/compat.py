"""The one place netpoll reaches into aiomqtt's internals (pinned minor: see pyproject.toml).

aiomqtt offers no public way to see the socket its paho client holds; the publisher needs it to close a
TLS socket whose handshake failed (paho neither keeps nor closes it). ``tests/unit/outputs/mqtt/
test_compat.py`` checks this contract against the installed aiomqtt, so an upgrade that breaks it fails
there, not in production.
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
