"""The daemon's HTTP endpoint: status page, JSON API, ``/metrics`` and ``/healthz`` (``http.listen``).

A small asyncio server (no framework) on an event loop of its own, in its own thread: one request per
connection, ``GET`` and ``HEAD`` only. Every connection goes through ``HttpEndpoint._handle``, where the
bounds of :mod:`netpoll.daemon.httplimits` (connections, header sizes, time) apply; ``routes`` maps paths to
answers and knows nothing of sockets.

Why a thread: an overloaded poller's event loop can run seconds behind (thousands of polls waiting, replies
to decode), and a liveness probe that gets no answer within its timeout restarts the pod exactly when it is
busiest. ``/healthz`` and ``/api/status`` are answered in the endpoint's thread from figures the daemon
publishes whole (``SelfMonitor`` attributes, each replaced at once, never changed in place), so they answer
however far behind the daemon's loop is; every other path reads state the daemon's loop changes (the status
board, the live metrics) and is computed on that loop (``Routes.LOOP_FREE`` lists the exceptions).

Paths:

* ``/`` the status page (HTML; ``?q=`` filters by name, address, site, role or error, ``?state=`` by state,
  ``?sort=`` orders by a column), ``/device/NAME`` one device's page;
* ``/api/devices`` and ``/api/devices/NAME`` the same as JSON; ``/api/status`` the poller's health and its
  last cycle's ``netpoll`` record (small at any fleet size, for scripts and benches);
* ``/metrics`` Prometheus text, ``/healthz`` 200 ``ok`` or 503 with the reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from netpoll.background import LoopThread
from netpoll.daemon import statuspage
from netpoll.daemon.httplimits import (
    LISTEN_BACKLOG,
    MAX_LINE_BYTES,
    BadRequest,
    ConnectionSlots,
    read_request_line,
)
from netpoll.daemon.selfmon import SelfMonitor
from netpoll.daemon.status import StatusBoard
from netpoll.errors import NetpollError

log = logging.getLogger("netpoll.daemon.http")

# Content types of the status page, /metrics and /healthz, and the JSON API.
_HTML, _TEXT, _JSON = "text/html; charset=utf-8", "text/plain; charset=utf-8", "application/json"


@dataclass(frozen=True, slots=True)
class Response:
    """One answer: status line text, content type and body."""

    status: str
    content_type: str
    body: bytes

    @classmethod
    def text(cls, status: str, text: str) -> Response:
        """A plain-text answer."""
        return cls(status, _TEXT, text.encode())


Query = dict[str, list[str]]


class Routes:
    """Maps a request path (and query) to a ``Response``.

    Args:
        monitor: the self-monitor (registry and health).
        board: the device status board; None serves no status page (404).
    """

    # Paths answered from figures the daemon publishes whole (safe to read from any thread); every other
    # path reads state the daemon's event loop changes, so it must be answered on that loop.
    LOOP_FREE = frozenset({"/healthz", "/api/status"})

    def __init__(self, monitor: SelfMonitor, board: StatusBoard | None) -> None:
        self.monitor = monitor
        self.board = board
        self._exact: dict[str, Callable[[Query], Response]] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/": self._index,
            "/api/devices": self._api_devices,
            "/api/status": self._api_status,
        }

    def loop_free(self, target: str) -> bool:
        """Whether ``target`` may be answered outside the daemon's event loop (``LOOP_FREE``)."""
        return (urlsplit(target).path or "/") in self.LOOP_FREE

    def answer(self, target: str) -> Response:
        """The response for a request target such as ``/device/r1?x=1``."""
        parts = urlsplit(target)
        path, query = parts.path or "/", parse_qs(parts.query)
        handler = self._exact.get(path)
        if handler is not None:
            return handler(query)
        for prefix, page in (("/device/", self._device_page), ("/api/devices/", self._api_device)):
            if path.startswith(prefix) and len(path) > len(prefix):
                return page(unquote(path[len(prefix) :]))
        return Response.text("404 Not Found", "not found\n")

    def _metrics(self, _query: Query) -> Response:
        return Response("200 OK", CONTENT_TYPE_LATEST, generate_latest(self.monitor.registry))

    def _healthz(self, _query: Query) -> Response:
        healthy, reason = self.monitor.health()
        return Response.text("200 OK" if healthy else "503 Service Unavailable", reason + "\n")

    def _index(self, query: Query) -> Response:
        if self.board is None:
            return Response.text("404 Not Found", "no status page\n")
        view = statuspage.View.from_query(query)
        return Response("200 OK", _HTML, statuspage.index(self._overview(), view).encode())

    def _api_devices(self, _query: Query) -> Response:
        if self.board is None:
            return Response.text("404 Not Found", "no status page\n")
        return _json(self._overview())

    def _api_status(self, _query: Query) -> Response:
        healthy, reason = self.monitor.health()
        return _json(
            {
                "instance": self.monitor.instance,
                "shard": self.monitor.shard,
                "healthy": healthy,
                "health": reason,
                "last_cycle_at": self.monitor.last_cycle_at or None,
                # PollScheduler.in_flight is a len(): safe from this thread too.
                "in_flight": self.monitor.live.in_flight() if self.monitor.live.in_flight else 0,
                "last_cycle": self.monitor.last_fields,
            }
        )

    def _device_page(self, name: str) -> Response:
        detail = self.board.device(name) if self.board is not None else None
        if detail is None:
            return Response("404 Not Found", _HTML, statuspage.not_found(name).encode())
        return Response("200 OK", _HTML, statuspage.device(detail, self.monitor.instance).encode())

    def _api_device(self, name: str) -> Response:
        detail = self.board.device(name) if self.board is not None else None
        if detail is None:
            return Response.text("404 Not Found", f"no device {name!r}\n")
        return _json(detail)

    def _overview(self) -> dict[str, Any]:
        assert self.board is not None
        healthy, reason = self.monitor.health()
        return {
            "instance": self.monitor.instance,
            "shard": self.monitor.shard,
            "healthy": healthy,
            "health": reason,
            "started": self.board.started_at,
            "devices": self.board.devices(),
        }


def _json(document: Any) -> Response:
    return Response("200 OK", _JSON, json.dumps(document, indent=1, default=str).encode())


class HttpEndpoint:
    """Async context manager serving ``Routes`` on ``host:port`` from a thread of its own.

    Entering starts the thread (and its event loop) and returns once the socket listens; leaving stops it.
    Paths that read the daemon's state are answered on the event loop that entered the endpoint.

    Args:
        monitor: the self-monitor to expose.
        host: listen address.
        port: TCP port; 0 picks a free one (see ``port`` after entering).
        board: the status board behind ``/`` and ``/api``; None serves metrics and health only.
    """

    def __init__(
        self,
        monitor: SelfMonitor,
        host: str,
        port: int,
        board: StatusBoard | None = None,
    ) -> None:
        self.routes = Routes(monitor, board)
        self.host = host
        self.port = port
        self._slots = ConnectionSlots()
        self._daemon_loop: asyncio.AbstractEventLoop | None = None
        self._thread = LoopThread("netpoll-http")
        self._server: asyncio.Server | None = None  # the endpoint thread's

    @property
    def url(self) -> str:
        """The status page's address, e.g. ``http://127.0.0.1:9108/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def __aenter__(self) -> Self:
        self._daemon_loop = asyncio.get_running_loop()
        try:
            self.port = await self._thread.start(self._listen, self._close)
        except OSError as exc:  # port taken, address not local: the user's to fix, one line
            raise NetpollError(
                f"cannot serve /metrics on {self.host}:{self.port}: {exc.strerror or exc}: "
                "free that port or change http.listen in the configuration"
            ) from exc
        log.info("status page on %s, metrics on %smetrics, health on %shealthz", self.url, self.url, self.url)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._thread.stop(5.0)

    async def _listen(self) -> int:
        """In the endpoint thread: listen, and return the port."""
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=MAX_LINE_BYTES, backlog=LISTEN_BACKLOG
        )
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _close(self) -> None:
        """In the endpoint thread: stop listening; connections still open are then cancelled."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        # The thread's asyncio.run cancels the handlers still running; each closes its connection.

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Every bound (connections, header sizes, time) is in netpoll.daemon.httplimits.
        with self._slots.hold(writer) as admitted:
            if not admitted:
                return
            try:
                await self._serve(reader, writer)
            except (TimeoutError, OSError):
                pass
            except Exception:  # a page that fails to render must not take the server down
                log.exception("HTTP request failed")
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method = ""
        try:
            request = await read_request_line(reader)
        except BadRequest as exc:
            response = Response.text(exc.status, "request too large\n")
        else:
            if not request:
                return
            self._slots.answering(writer)
            parts = request.split()
            method = parts[0] if parts else ""
            if len(parts) < 2 or not parts[1].startswith("/"):
                response = Response.text("400 Bad Request", "bad request\n")
            elif method not in ("GET", "HEAD"):
                response = Response.text("405 Method Not Allowed", "GET only\n")
            else:
                response = await self._answer(parts[1])
        head = (
            f"HTTP/1.1 {response.status}\r\nContent-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\nConnection: close\r\n"
            "Cache-Control: no-store\r\n\r\n"
        )
        writer.write(head.encode() + (b"" if method == "HEAD" else response.body))
        await writer.drain()

    async def _answer(self, target: str) -> Response:
        """``target``'s answer: here for the loop-free paths, else computed on the daemon's event loop."""
        if self.routes.loop_free(target) or self._daemon_loop is None:
            return self.routes.answer(target)

        future: concurrent.futures.Future[Response] = concurrent.futures.Future()

        def on_daemon_loop() -> None:
            if future.set_running_or_notify_cancel():  # False: the request was given up meanwhile
                try:
                    future.set_result(self.routes.answer(target))
                except Exception as exc:  # logged by _handle, in this thread
                    future.set_exception(exc)

        try:
            self._daemon_loop.call_soon_threadsafe(on_daemon_loop)
        except RuntimeError:  # the daemon's loop is closed: it is shutting down
            return Response.text("503 Service Unavailable", "shutting down\n")
        return await asyncio.wrap_future(future)
