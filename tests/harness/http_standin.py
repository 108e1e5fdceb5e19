"""A small local HTTP write endpoint for what no real server does on demand: answer late, trickle, refuse.

``WriteStandIn`` serves ``/ping``, ``/write`` and ``/api/v2/write`` on a free loopback port, in a thread. Each
write is handled by ``behaviour`` (settable at any time), which may forward the body to a real server first
(``forward_to``: a VictoriaMetrics URL), so what was *stored* is read back from the real thing.
"""

from __future__ import annotations

import gzip
import select
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Behaviour:
    """What the next writes get: a delay before the answer, a status, headers; ``store`` forwards first."""

    delay_s: float = 0.0
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    store: bool = True
    trickle: bool = False  # send the status line, then one header byte per second, never the end
    # Store only when the answer is due and the client still waits for it (a server that commits at the end
    # of the request): a client killed meanwhile has lost that write unless it kept a copy.
    commit_on_answer: bool = False


class WriteStandIn:
    """Local write endpoint; ``url`` for the client, ``writes`` counts requests, ``stop()`` ends it."""

    def __init__(self, forward_to: str | None = None, port: int = 0) -> None:
        self.forward_to = forward_to
        self.behaviour = Behaviour()
        self.writes: list[float] = []
        self.abandoned = 0  # writes not stored because the client hung up first (``commit_on_answer``)
        self.stop_event = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                standin.handle_write(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def handle_write(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        behaviour = self.behaviour
        self.writes.append(time.monotonic())
        if not behaviour.commit_on_answer:
            self._store(behaviour, body)
        if behaviour.trickle:
            self._trickle(handler)
            return
        if behaviour.delay_s:
            self.stop_event.wait(behaviour.delay_s)
        if behaviour.commit_on_answer:
            if _client_gone(handler):
                self.abandoned += 1
                return
            self._store(behaviour, body)
        handler.send_response(behaviour.status)
        for key, value in behaviour.headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _store(self, behaviour: Behaviour, body: bytes) -> None:
        if behaviour.store and self.forward_to is not None and behaviour.status < 300:
            request = urllib.request.Request(
                f"{self.forward_to}/api/v2/write?bucket=b&org=o&precision=ns", data=body, method="POST"
            )
            with urllib.request.urlopen(request, timeout=10):
                pass

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 204 No Content\r\nX-Trickle: ")
        handler.wfile.flush()
        for _second in range(600):  # bounded: ten minutes at most, or until stopped
            if self.stop_event.wait(0.5):
                return
            try:
                handler.wfile.write(b"x")
                handler.wfile.flush()
            except OSError:
                return

    def stop(self) -> None:
        """Stop serving and end any answer in progress."""
        self.stop_event.set()
        self._server.shutdown()
        self._server.server_close()


def _client_gone(handler: BaseHTTPRequestHandler) -> bool:
    """True when the client closed its end (a killed process: the kernel sent FIN or RST)."""
    sock = handler.connection
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
