"""A UDP relay that answers every request late: a stand-in for a slow SNMP agent in front of a real one.

``DelayRelay(target, delay_s)`` listens on a free loopback port; each datagram a client sends reaches the
target at once, and the target's answer is held ``delay_s`` before it goes back, so every request of the
client takes at least ``delay_s``. Runs in its own thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: DelayRelay, client: tuple[str, int]) -> None:
        self.relay = relay
        self.client = client

    def datagram_received(self, data: bytes, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(self.relay.delay_s, self.relay.answer, data, self.client)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, relay: DelayRelay) -> None:
        self.relay = relay

    def connection_made(self, transport: Any) -> None:
        self.relay.front = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay.requests += 1
        task = asyncio.ensure_future(self.relay.forward(data, addr))
        self.relay.tasks.add(task)
        task.add_done_callback(self.relay.tasks.discard)


class DelayRelay:
    """``host``/``port``: where clients send; ``requests`` counts what they sent."""

    def __init__(self, target: tuple[str, int], delay_s: float, host: str = "127.0.0.1") -> None:
        self.target = target
        self.delay_s = delay_s
        self.host = host
        self.port = 0
        self.requests = 0
        self.front: Any = None
        self.tasks: set[asyncio.Future[None]] = set()
        self._upstreams: dict[tuple[str, int], Any] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("UDP relay did not start")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            transport, _ = await self._loop.create_datagram_endpoint(
                lambda: _Front(self), local_addr=(self.host, 0)
            )
            self.port = transport.get_extra_info("sockname")[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()
        for transport in (self.front, *self._upstreams.values()):
            if transport is not None:
                transport.close()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    async def forward(self, data: bytes, client: tuple[str, int]) -> None:
        upstream = self._upstreams.get(client)
        if upstream is None:
            upstream, _ = await self._loop.create_datagram_endpoint(
                lambda: _Upstream(self, client), remote_addr=self.target
            )
            self._upstreams[client] = upstream
        upstream.sendto(data)

    def answer(self, data: bytes, client: tuple[str, int]) -> None:
        if self.front is not None:
            self.front.sendto(data, client)

    def stop(self) -> None:
        """Stop relaying and close every socket."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
