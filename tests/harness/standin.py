"""A small SNMP v1/v2c stand-in agent for hostile-device tests: answers from a table or misbehaves.

It runs in a thread with one UDP socket on a 127.0.0.0/8 address (never anything else), decodes just enough
BER to read a request (request-id, PDU type, varbind OIDs, GETBULK repetitions) and answers through a
``reply`` hook, so a test can send any bytes back: random or truncated replies, forged values, endless or huge
tables, values the SNMP types do not allow. The encoder is deliberately minimal (INTEGER, OCTET STRING, OID,
NULL, application types by tag) and lives here, in the tests: netpoll itself never encodes SNMP.
"""

from __future__ import annotations

import bisect
import contextlib
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

Oid = tuple[int, ...]

# BER tags
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_ID = 0x06
SEQUENCE = 0x30
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
COUNTER64 = 0x46
END_OF_MIB_VIEW = 0x82
GET, GETNEXT, RESPONSE, GETBULK = 0xA0, 0xA1, 0xA2, 0xA5


def enc_len(n: int) -> bytes:
    """BER definite length."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One BER element."""
    return bytes([tag]) + enc_len(len(content)) + content


def enc_int(value: int, tag: int = INTEGER) -> bytes:
    """A two's-complement INTEGER (or an application integer type by ``tag``; any size, on purpose)."""
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def enc_uint(value: int, tag: int) -> bytes:
    """An unsigned application integer (Counter32/64, Gauge32, TimeTicks), 0-padded if the top bit is set."""
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(size, "big"))


def enc_oid(oid: Oid, tag: int = OBJECT_ID) -> bytes:
    """An OBJECT IDENTIFIER."""
    body = bytearray([oid[0] * 40 + oid[1]])
    for arc in oid[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(tag, bytes(body))


def enc_str(value: bytes) -> bytes:
    """An OCTET STRING."""
    return tlv(OCTET_STRING, value)


def _read(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``; ValueError if malformed."""
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, pos, pos + length


def _dec_oid(body: bytes) -> Oid:
    arcs = [body[0] // 40, body[0] % 40]
    value = 0
    for byte in body[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return tuple(arcs)


@dataclass
class Request:
    """What the stand-in read from one request datagram."""

    version: int
    community: bytes
    pdu: int
    request_id: int
    non_repeaters: int
    max_repetitions: int
    oids: list[Oid]
    source: tuple[str, int]


def parse_request(data: bytes, source: tuple[str, int]) -> Request:
    """Decode a v1/v2c request; ValueError for anything else."""
    _, start, _ = _read(data, 0)
    _, vs, ve = _read(data, start)
    version = int.from_bytes(data[vs:ve], "big")
    _, cs, ce = _read(data, ve)
    pdu, ps, _ = _read(data, ce)
    _, rs, re_ = _read(data, ps)
    request_id = int.from_bytes(data[rs:re_], "big", signed=True)
    _, es, ee = _read(data, re_)
    a = int.from_bytes(data[es:ee], "big")
    _, is_, ie = _read(data, ee)
    b = int.from_bytes(data[is_:ie], "big")
    _, ls, le = _read(data, ie)
    oids: list[Oid] = []
    pos = ls
    while pos < le:
        _, vbs, vbe = _read(data, pos)
        _, os_, oe = _read(data, vbs)
        oids.append(_dec_oid(data[os_:oe]))
        pos = vbe
    return Request(version, data[cs:ce], pdu, request_id, a, b, oids, source)


def response(request: Request, varbinds: Iterable[tuple[Oid, bytes]], request_id: int | None = None) -> bytes:
    """A GetResponse to ``request`` carrying ``varbinds`` (OID, encoded value)."""
    vbl = b"".join(tlv(SEQUENCE, enc_oid(oid) + value) for oid, value in varbinds)
    rid = request.request_id if request_id is None else request_id
    pdu = tlv(RESPONSE, enc_int(rid) + enc_int(0) + enc_int(0) + tlv(SEQUENCE, vbl))
    return tlv(SEQUENCE, enc_int(request.version) + enc_str(request.community) + pdu)


class Table:
    """A sorted OID → encoded value table with GET/GETNEXT/GETBULK semantics; ``extra`` adds rows lazily."""

    def __init__(
        self, rows: Mapping[Oid, bytes], extra: Callable[[Oid], tuple[Oid, bytes] | None] | None = None
    ) -> None:
        self.rows = dict(rows)
        self.keys = sorted(self.rows)
        self.extra = extra

    def get(self, oid: Oid) -> bytes:
        return self.rows.get(oid, tlv(0x81, b""))  # noSuchInstance

    def next(self, oid: Oid) -> tuple[Oid, bytes]:
        i = bisect.bisect_right(self.keys, oid)
        if i < len(self.keys):
            found = self.keys[i]
            if self.extra is not None:
                lazy = self.extra(oid)
                if lazy is not None and lazy[0] < found:
                    return lazy
            return found, self.rows[found]
        if self.extra is not None:
            lazy = self.extra(oid)
            if lazy is not None:
                return lazy
        return oid, tlv(END_OF_MIB_VIEW, b"")

    def answer(self, request: Request) -> list[tuple[Oid, bytes]]:
        """The varbinds a correct agent would answer."""
        if request.pdu == GET:
            return [(oid, self.get(oid)) for oid in request.oids]
        if request.pdu == GETNEXT:
            return [self.next(oid) for oid in request.oids]
        out: list[tuple[Oid, bytes]] = []
        cursors = list(request.oids)
        for _ in range(max(1, request.max_repetitions)):
            for i, oid in enumerate(cursors):
                nxt = self.next(oid)
                out.append(nxt)
                cursors[i] = nxt[0]
            if all(v[0] == END_OF_MIB_VIEW for _, v in out[-len(cursors) :]):
                break
        return out


SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_TABLE = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_TABLE = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)


def device_rows(
    name: str = "standin", interfaces: int = 2, speed: int = 1_000_000_000, uptime: int = 100, octets: int = 0
) -> dict[Oid, bytes]:
    """A minimal generic device: system group, ifNumber, and an ifTable/ifXTable of ``interfaces`` rows."""
    rows: dict[Oid, bytes] = {
        SYS_DESCR: enc_str(b"Linux standin"),
        SYS_OBJECT_ID: enc_oid((1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)),
        SYS_UPTIME: enc_uint(uptime, TIMETICKS),
        SYS_NAME: enc_str(name.encode()),
        IF_NUMBER: enc_int(interfaces),
    }
    for i in range(1, interfaces + 1):
        rows[(*IF_TABLE, 1, i)] = enc_int(i)
        rows[(*IF_TABLE, 2, i)] = enc_str(f"eth{i}".encode())
        rows[(*IF_TABLE, 5, i)] = enc_uint(min(speed, 2**32 - 1) if speed >= 0 else speed, GAUGE32)
        rows[(*IF_TABLE, 7, i)] = enc_int(1)
        rows[(*IF_TABLE, 8, i)] = enc_int(1)
        rows[(*IF_TABLE, 10, i)] = enc_uint(octets % 2**32, COUNTER32)
        rows[(*IF_TABLE, 16, i)] = enc_uint(octets % 2**32, COUNTER32)
        rows[(*IFX_TABLE, 1, i)] = enc_str(f"eth{i}".encode())
        rows[(*IFX_TABLE, 6, i)] = enc_uint(octets, COUNTER64)
        rows[(*IFX_TABLE, 10, i)] = enc_uint(octets, COUNTER64)
        rows[(*IFX_TABLE, 15, i)] = enc_uint(max(0, speed) // 1_000_000, GAUGE32)
        rows[(*IFX_TABLE, 18, i)] = enc_str(b"")
    return rows


Reply = Callable[[Request, "StandinAgent"], Iterable[bytes] | None]


@dataclass
class StandinAgent:
    """A thread answering SNMP requests on ``address:port`` (127.0.0.0/8 only).

    ``reply(request, agent)`` returns the datagrams to send back (none: stay silent); by default the answer
    from ``table``. ``requests`` keeps what arrived (bounded).
    """

    address: str = "127.0.0.1"
    table: Table = field(default_factory=lambda: Table(device_rows()))
    reply: Reply | None = None
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    _sock: socket.socket | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        if not self.address.startswith("127."):
            raise ValueError("stand-in agents listen on 127.0.0.0/8 only")

    def __enter__(self) -> StandinAgent:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.address, self.port))
        sock.settimeout(0.05)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"standin {self.address}")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()

    def sendto(self, data: bytes, target: tuple[str, int]) -> None:
        """Send a datagram from the agent's own socket (to a loopback peer)."""
        assert self._sock is not None
        assert target[0].startswith("127.")
        self._sock.sendto(data, target)

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                data, source = self._sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            try:
                request = parse_request(data, source)
            except (ValueError, IndexError):
                continue
            if len(self.requests) < 100_000:
                self.requests.append(request)
            out: Iterable[bytes] | None
            if self.reply is not None:
                out = self.reply(request, self)
            else:
                out = [response(request, self.table.answer(request))]
            for datagram in out or ():
                with contextlib.suppress(OSError):
                    self._sock.sendto(datagram, source)


def answer(request: Request, agent: StandinAgent) -> bytes:
    """The correct answer of ``agent``'s table, for reply hooks that change it."""
    return response(request, agent.table.answer(request))
