"""The HTTP endpoint's bounds (issue 16): request size, header size, connection slots."""

from __future__ import annotations

import asyncio

import pytest

from netpoll.daemon.httplimits import (
    MAX_HEADER_BYTES,
    MAX_LINE_BYTES,
    TOO_LARGE,
    BadRequest,
    ConnectionSlots,
    read_request_line,
)


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_request_line_after_bounded_headers() -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
    assert await read_request_line(_reader(request)) == "GET /healthz HTTP/1.1\r\n"
    assert await read_request_line(_reader(b"")) == ""


@pytest.mark.parametrize(
    "data",
    [
        b"GET /" + b"a" * (MAX_LINE_BYTES + 10) + b" HTTP/1.1\r\n\r\n",  # request line
        b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",  # one header line over 64 KB
        b"GET / HTTP/1.1\r\n" + b"X-A: 1234567890\r\n" * (MAX_HEADER_BYTES // 10),  # many headers
    ],
    ids=["long request line", "long header line", "too many headers"],
)
async def test_oversized_requests_are_431(data: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        await read_request_line(_reader(data))
    assert caught.value.status == TOO_LARGE


class _Transport:
    def __init__(self) -> None:
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


class _Writer:
    def __init__(self) -> None:
        self.transport = _Transport()

    def get_extra_info(self, _name: str) -> None:
        return None  # no socket: idle


def test_slots_push_out_the_oldest_idle_connection() -> None:
    slots = ConnectionSlots(limit=2)
    first, second, third, fourth = (_Writer() for _ in range(4))
    with slots.hold(first), slots.hold(second):  # type: ignore[arg-type]
        slots.answering(second)  # type: ignore[arg-type]
        with slots.hold(third):  # type: ignore[arg-type]
            assert first.transport.aborted  # the oldest still reading
            assert not second.transport.aborted  # being answered: kept
            assert slots.open == 2
            with slots.hold(fourth):  # type: ignore[arg-type]
                assert third.transport.aborted
                assert slots.open == 2
    assert slots.open == 0
    assert slots.evicted == 2
    # every slot busy: the newcomer itself is closed
    busy = ConnectionSlots(limit=1)
    with busy.hold(first) as admitted:  # type: ignore[arg-type]
        assert admitted
        busy.answering(first)  # type: ignore[arg-type]
        with busy.hold(fourth) as admitted:  # type: ignore[arg-type]
            assert not admitted
