"""Free loopback ports for test servers."""

from __future__ import annotations

import socket
from typing import Literal


def free_port(kind: Literal["udp", "tcp"] = "tcp", host: str = "127.0.0.1") -> int:
    """Return a port that is free on ``host`` for ``kind`` right now.

    The kernel picks it from the ephemeral range, so concurrent test runs rarely collide; a server that
    still loses the race fails to start and the fixture reports it with the server's log.
    """
    return free_ports(1, kind, host)[0]


def free_ports(count: int, kind: Literal["udp", "tcp"] = "tcp", host: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct free ports (held open together while picking, so they differ)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock_type = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    socks = [socket.socket(family, sock_type) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
