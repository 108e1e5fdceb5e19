"""The gufo wire's request/reply matching and its one timer per session, on a stand-in socket (no agent)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from netpoll.inputs.snmp.backend_gufo import _Wire


class _Sock:
    """gufo's compiled socket as ``_Wire`` uses it: a datagram fd whose replies the test writes."""

    def __init__(self) -> None:
        self.ours, self.agent = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ours.setblocking(False)

    def get_fd(self) -> int:
        return self.ours.fileno()

    def recv_get_many(self) -> bytes:
        """The reply read; BlockingIOError for a stray one (gufo: another request-id) or none at all."""
        data = self.ours.recv(100)  # BlockingIOError when nothing is readable
        if data.startswith(b"stray"):
            raise BlockingIOError("not the reply to this request")
        return data

    def close(self) -> None:
        self.ours.close()
        self.agent.close()


class _Session:
    def __init__(self) -> None:
        self._sock = _Sock()


@pytest.fixture
async def wire() -> AsyncIterator[tuple[_Wire, _Sock]]:
    session = _Session()
    link = _Wire(session)  # type: ignore[arg-type]
    yield link, session._sock
    link.detach()
    session._sock.close()


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_stray_datagram_does_not_end_the_request(wire: tuple[_Wire, _Sock]) -> None:
    link, sock = wire
    request = asyncio.create_task(link.exchange(lambda: None, sock.recv_get_many, 60.0))
    await _turns()
    sock.agent.send(b"stray reply to an earlier try")
    await _turns()
    assert not request.done()
    sock.agent.send(b"the reply")
    assert await request == b"the reply"


async def test_requests_share_one_timer_that_ends_each_at_its_own_deadline(wire: tuple[_Wire, _Sock]) -> None:
    link, sock = wire
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(link.exchange(lambda: None, sock.recv_get_many, 60.0))
    await _turns()
    timer: Any = link._timer
    assert timer is not None
    sock.agent.send(b"one")
    assert await first == b"one"
    second = asyncio.create_task(link.exchange(lambda: None, sock.recv_get_many, 60.0))
    await _turns()
    assert link._timer is timer, "the second request reuses the first one's timer"
    deadline = link._deadline
    assert deadline > timer.when()
    link._expire()  # the timer fires at the first request's deadline: too early for the second
    await _turns()
    assert not second.done()
    rearmed: Any = link._timer
    assert rearmed is not None
    assert rearmed.when() == deadline
    link._expire()  # now at the second request's deadline
    with pytest.raises(TimeoutError):
        await second
    assert loop.time() < deadline  # no wall-clock wait in this test


async def test_a_late_reply_nobody_waits_for_is_read_away(wire: tuple[_Wire, _Sock]) -> None:
    _, sock = wire
    sock.agent.send(b"late")
    await _turns()
    with pytest.raises(BlockingIOError):
        os.read(sock.get_fd(), 100)
