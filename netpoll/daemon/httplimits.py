"""Bounds of the daemon's HTTP endpoint: connections, request size and time, one place for all of them.

The endpoint answers one small ``GET`` per connection, so anything beyond that is refused cheaply: at most
``MAX_CONNECTIONS`` connections are held at once (a new one pushes out the oldest that has not finished
sending its request, so a health check always gets through however many idle sockets a client opens); a
request line or header line longer than ``MAX_LINE_BYTES`` or headers over ``MAX_HEADER_BYTES`` get ``431``;
a request must arrive within ``REQUEST_TIMEOUT_S``. A malformed request is answered (or closed) without a
traceback.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("netpoll.daemon.http")

MAX_CONNECTIONS = 64
MAX_LINE_BYTES = 8 * 1024  # asyncio.start_server(limit=...): a longer line is never buffered
MAX_HEADER_BYTES = 32 * 1024
REQUEST_TIMEOUT_S = 5.0
# Connections the kernel completes before they are accepted: with asyncio's default (100) a burst of idle
# connections fills the queue and a health check's SYN is dropped and retried a second later.
LISTEN_BACKLOG = 4096

TOO_LARGE = "431 Request Header Fields Too Large"


class BadRequest(Exception):
    """The request cannot be served; ``status`` is the answer (e.g. ``431 ...``)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def read_request_line(reader: asyncio.StreamReader) -> str:
    """The request line (``GET /path HTTP/1.1``), read with its headers within the bounds; "" when closed.

    Raises:
        BadRequest: a line or the headers too long.
        TimeoutError: the request took longer than ``REQUEST_TIMEOUT_S``.
    """
    async with asyncio.timeout(REQUEST_TIMEOUT_S):
        request = await _line(reader)
        total = len(request)
        while request:
            line = await _line(reader)
            if line in (b"\r\n", b"\n", b""):
                break
            total += len(line)
            if total > MAX_HEADER_BYTES:
                raise BadRequest(TOO_LARGE)
    return request.decode("latin-1")


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except ValueError:  # asyncio's LimitOverrunError surfaces from readline as ValueError
        raise BadRequest(TOO_LARGE) from None


def _has_data(writer: asyncio.StreamWriter) -> bool:
    """Whether the client already sent something (a real request, not an idle socket), without reading it."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    # A socket object on the same descriptor, detached again (never closes it); asyncio's own wrapper
    # refuses recv().
    peek = socket.socket(fileno=sock.fileno())
    try:
        return bool(peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # BlockingIOError: nothing yet
        return False
    finally:
        peek.detach()


class ConnectionSlots:
    """At most ``limit`` connections at once.

    A newcomer over the limit pushes out the oldest idle connection (nothing received yet), or is closed
    itself when every held connection is busy. A connection whose request is already there when it is
    accepted (a health check arriving in a burst of idle sockets) is busy from the start, so later idle
    newcomers never push it out.
    """

    def __init__(self, limit: int = MAX_CONNECTIONS) -> None:
        self.limit = limit
        self.evicted = 0
        self._idle: dict[asyncio.StreamWriter, None] = {}  # insertion order: oldest first
        self._busy: set[asyncio.StreamWriter] = set()

    @property
    def open(self) -> int:
        """Connections held now."""
        return len(self._idle) + len(self._busy)

    @contextmanager
    def hold(self, writer: asyncio.StreamWriter) -> Iterator[bool]:
        """Hold a slot for ``writer`` while the block runs; the block gets False when it was refused one."""
        busy = _has_data(writer)
        if self.open >= self.limit:
            if self._idle:
                oldest = next(iter(self._idle))
                del self._idle[oldest]
                self._close(oldest)
            else:
                self._close(writer)
                yield False
                return
        if busy:
            self._busy.add(writer)
        else:
            self._idle[writer] = None
        try:
            yield True
        finally:
            self._idle.pop(writer, None)
            self._busy.discard(writer)

    def answering(self, writer: asyncio.StreamWriter) -> None:
        """The request has arrived: this connection is no longer one to push out."""
        if self._idle.pop(writer, False) is None:  # still held (not pushed out meanwhile)
            self._busy.add(writer)

    def _close(self, writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()  # at once: no FIN handshake to wait for
        self.evicted += 1
        if self.evicted == 1 or self.evicted % 1000 == 0:
            log.warning(
                "HTTP endpoint: more than %d connections; the oldest idle ones are closed (%d so far)",
                self.limit,
                self.evicted,
            )
