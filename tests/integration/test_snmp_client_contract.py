"""One contract for both SNMP client backends (pysnmp, gufo), checked against real agents on loopback.

The reference for every answer is net-snmp's own snmpget/snmpbulkwalk against the same agent.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

from netpoll.errors import SnmpAuthError, SnmpError, SnmpTimeout
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.types import Oid, SnmpValue, format_oid, parse_oid
from netpoll.inventory.models import (
    AuthProtocol,
    CommunityCredentials,
    Device,
    PrivProtocol,
    SnmpSettings,
    UsmCredentials,
)
from tests.harness.process import open_sockets
from tests.harness.snmpd import SnmpdAgent, V3User
from tests.harness.snmpsim import SnmpsimAgent

pytestmark = pytest.mark.network

BACKENDS = ["pysnmp", "gufo"]

SYS_DESCR = parse_oid("1.3.6.1.2.1.1.1.0")
SYS_OBJECT_ID = parse_oid("1.3.6.1.2.1.1.2.0")
SYS_UPTIME = parse_oid("1.3.6.1.2.1.1.3.0")
SYS_NAME = parse_oid("1.3.6.1.2.1.1.5.0")
T = TypeVar("T")
IF_TABLE = parse_oid("1.3.6.1.2.1.2.2")
IF_DESCR = parse_oid("1.3.6.1.2.1.2.2.1.2")
IF_X_TABLE = parse_oid("1.3.6.1.2.1.31.1.1")
IF_NAME = parse_oid("1.3.6.1.2.1.31.1.1.1.1")
IP_AD_ENT_ADDR = parse_oid("1.3.6.1.2.1.4.20.1.1")
# ifTable columns whose values do not move between two walks (counters and ifLastChange may).
STABLE_IF_COLUMNS = {1, 2, 3, 4, 7}

_NETSNMP_AUTH: dict[str, AuthProtocol] = {
    "MD5": "MD5",
    "SHA": "SHA",
    "SHA-224": "SHA224",
    "SHA-256": "SHA256",
    "SHA-384": "SHA384",
    "SHA-512": "SHA512",
}
_NETSNMP_PRIV: dict[str, PrivProtocol] = {
    "DES": "DES",
    "AES": "AES128",
    "AES-128": "AES128",
    "AES-192": "AES192",
    "AES192": "AES192",
    "AES-256": "AES256",
    "AES256": "AES256",
}


# --- helpers (also used by test_snmp_scale.py and the bench) ------------------------------------------------


def v2c_settings(community: str, port: int, **overrides: object) -> SnmpSettings:
    """v2c (or ``version="1"``) settings for a loopback agent."""
    version = str(overrides.pop("version", "2c"))
    credentials = CommunityCredentials(profile="test", version=version, community=community)
    return SnmpSettings(credentials=credentials, port=port, **overrides)


def v3_settings(user: V3User, port: int, **overrides: object) -> SnmpSettings:
    """SNMPv3 settings for a harness user (net-snmp protocol names mapped to the inventory's)."""
    credentials = UsmCredentials(
        profile="test",
        username=user.name,
        auth_protocol=_NETSNMP_AUTH[user.auth_protocol] if user.auth_protocol else None,
        auth_key=user.auth_key,
        priv_protocol=_NETSNMP_PRIV[user.priv_protocol] if user.priv_protocol else None,
        priv_key=user.priv_key,
    )
    return SnmpSettings(credentials=credentials, port=port, **overrides)


def _netsnmp(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian package snmp)")
    return path


def netsnmp_walk(host: str, port: int, community: str, root: Oid) -> dict[Oid, str]:
    """``snmpbulkwalk -v2c -On`` of ``root``: OID → value text (numeric enums/ticks, strings unquoted)."""
    argv = [_netsnmp("snmpbulkwalk"), "-v2c", "-c", community, "-On", "-Oe", "-Ot", "-OQ", "-Cr25"]
    argv += ["-r1", "-t5", f"{host}:{port}", format_oid(root)]
    return _parse_netsnmp(subprocess.run(argv, capture_output=True, text=True, check=True, env=_env()).stdout)


def netsnmp_get(host: str, port: int, community: str, oids: list[Oid]) -> dict[Oid, str]:
    """``snmpget -v2c -On``: OID → value text."""
    argv = [_netsnmp("snmpget"), "-v2c", "-c", community, "-On", "-Oe", "-Ot", "-OQ", "-r1", "-t5"]
    argv += [f"{host}:{port}", *map(format_oid, oids)]
    return _parse_netsnmp(subprocess.run(argv, capture_output=True, text=True, check=True, env=_env()).stdout)


async def steady(snmpd: SnmpdAgent, read: Callable[[], Awaitable[T]]) -> T:
    """``read()`` (our reads and the reference's) taken while the agent's interface set held still.

    snmpd serves this host's interface table, where other tests and other runs on the machine add and remove
    veths at any moment (snmpd refreshes its cache every 3 s): a read during which the set changed compares
    two different tables, so it is taken again, at most 5 times.
    """

    def interfaces() -> list[tuple[Oid, str]]:  # the rows and their stable columns (an interface set up, too)
        table = netsnmp_walk(snmpd.host, snmpd.port, snmpd.community, IF_TABLE)
        return [(oid, text) for oid, text in table.items() if oid[len(IF_TABLE) + 1] in STABLE_IF_COLUMNS]

    for _attempt in range(5):
        before = interfaces()
        result = await read()
        if interfaces() == before:
            return result
    pytest.fail("the host's interface table changed during each of 5 reads")


def _env() -> dict[str, str]:
    return {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}


def _parse_netsnmp(output: str) -> dict[Oid, str]:
    result: dict[Oid, str] = {}
    last: Oid | None = None
    for line in output.splitlines():
        if line.startswith(".") and " = " in line:
            name, _, value = line.partition(" = ")
            last = parse_oid(name)
            result[last] = value
        elif last is not None:  # a string value with a line break continues on the next line
            result[last] += "\n" + line
    for oid, value in result.items():
        if value.startswith('"') and value.endswith('"'):
            result[oid] = value[1:-1]
        elif value.startswith(("No Such", "No more variables")):
            result[oid] = "<none>"
    return {oid: value for oid, value in result.items() if value != "<none>"}


def as_text(value: SnmpValue) -> str:
    """Our decoded value as net-snmp prints it with ``-On -Oe -Ot -OQ`` (for the columns compared here)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple):
        return "." + format_oid(value)
    return str(value)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def pool(backend: str) -> AsyncIterator[SnmpClientPool]:
    async with SnmpClientPool(backend=backend) as snmp_pool:  # type: ignore[arg-type]
        yield snmp_pool


def device(name: str, address: str, settings: SnmpSettings) -> Device:
    return Device(name=name, address=address, snmp=settings)


# --- snmpd ---------------------------------------------------------------------------------------------


async def test_backend_is_the_one_asked_for(pool: SnmpClientPool, backend: str, snmpd: SnmpdAgent) -> None:
    client = pool.client(device("r1", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))
    assert getattr(client, "backend", None) == backend
    # reused across polls
    assert pool.client(device("r1", snmpd.host, v2c_settings(snmpd.community, snmpd.port))) is client


async def test_get_scalars_match_snmpget(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    client = pool.client(device("r1", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))
    missing = parse_oid("1.3.6.1.2.1.1.99.0")
    got = await client.get([SYS_DESCR, SYS_OBJECT_ID, SYS_NAME, missing, SYS_UPTIME])
    reference = netsnmp_get(snmpd.host, snmpd.port, snmpd.community, [SYS_DESCR, SYS_OBJECT_ID, SYS_NAME])
    assert missing not in got
    assert isinstance(got[SYS_DESCR], bytes)
    assert got[SYS_OBJECT_ID] == parse_oid(reference[SYS_OBJECT_ID])
    assert as_text(got[SYS_NAME]) == reference[SYS_NAME]
    assert as_text(got[SYS_DESCR]) == reference[SYS_DESCR]
    uptime = got[SYS_UPTIME]
    assert isinstance(uptime, int)
    assert uptime > 0


async def test_walk_if_table_matches_snmpbulkwalk(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    client = pool.client(device("r1", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))

    async def read() -> tuple[list[tuple[Oid, SnmpValue]], dict[Oid, str]]:
        return await client.walk(IF_TABLE), netsnmp_walk(snmpd.host, snmpd.port, snmpd.community, IF_TABLE)

    ours, reference = await steady(snmpd, read)
    assert [oid for oid, _ in ours] == list(reference)  # same OIDs, same order
    for oid, value in ours:
        if oid[len(IF_TABLE) + 1] in STABLE_IF_COLUMNS:  # 1.3.6.1.2.1.2.2 . 1 . column . ifIndex
            assert as_text(value) == reference[oid], format_oid(oid)
    assert all(oid[: len(IF_TABLE)] == IF_TABLE for oid, _ in ours)


async def test_concurrent_requests_on_one_device(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    client = pool.client(device("r1", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))

    async def read() -> tuple[list[list[tuple[Oid, SnmpValue]]], list[object]]:
        alone = [await client.walk(IF_DESCR), await client.walk(IF_NAME)]
        return alone, await asyncio.gather(
            client.walk(IF_DESCR), client.walk(IF_NAME), client.get([SYS_NAME])
        )

    alone, together = await steady(snmpd, read)
    assert list(together[:2]) == alone
    assert SYS_NAME in together[2]


async def test_get_of_table_cells_matches_the_walk(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    # The poller reads known counter cells with GETs between walks: same values, a missing row left out,
    # and the same answer when the same OID list is asked again (as a tuple, or as an equal list).
    dev = device("r1", snmpd.host, v2c_settings(snmpd.community, snmpd.port))
    client = pool.client(dev)
    assert pool.client(dev) is client  # the same device record: the same client, no re-check
    columns = [(*IF_TABLE, 1, c) for c in STABLE_IF_COLUMNS]
    missing = (*IF_TABLE, 1, 2, 999_999)

    async def read() -> tuple[dict[Oid, SnmpValue], list[dict[Oid, SnmpValue]]]:
        walked = {oid: value for column in columns for oid, value in await client.walk(column)}
        cells = (*walked, missing)
        return walked, [await client.get(ask) for ask in (cells, cells, list(cells))]

    walked, answers = await steady(snmpd, read)
    assert walked
    for got in answers:
        assert missing not in got
        assert {o: as_text(v) for o, v in got.items()} == {o: as_text(v) for o, v in walked.items()}
    assert dev.snmp is not None
    assert pool.client(device("r1", "127.0.0.2", dev.snmp)) is not client  # moved: a new client


async def test_walk_ip_addresses_decode_to_dotted_quads(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    client = pool.client(device("r1", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))
    rows = await client.walk(IP_AD_ENT_ADDR)
    assert rows
    for oid, value in rows:
        assert value == ".".join(map(str, oid[-4:]))


async def test_walk_of_missing_subtree_is_empty(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    client = pool.client(device("r1", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))
    assert await client.walk(parse_oid("1.3.6.1.4.1.99999.1")) == []
    assert await client.walk(parse_oid("1.3.6.1.2.1.1.5.0")) == []  # a leaf has nothing below it


async def test_small_max_repetitions_walks_the_same(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    wide = pool.client(device("wide", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))
    narrow = pool.client(
        device("narrow", snmpd.host, v2c_settings(snmpd.community, snmpd.port, max_repetitions=1))
    )

    async def read() -> tuple[list[Oid], list[Oid]]:
        return [oid for oid, _ in await wide.walk(IF_DESCR)], [oid for oid, _ in await narrow.walk(IF_DESCR)]

    wide_oids, narrow_oids = await steady(snmpd, read)
    assert narrow_oids == wide_oids


async def test_v1_uses_getnext(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    v1 = pool.client(device("v1", snmpd.host, v2c_settings(snmpd.community, snmpd.port, version="1")))
    v2 = pool.client(device("v2", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))

    async def read() -> tuple[list[tuple[Oid, SnmpValue]], list[tuple[Oid, SnmpValue]]]:
        return await v1.walk(IF_DESCR), await v2.walk(IF_DESCR)

    via_v1, via_v2 = await steady(snmpd, read)
    assert via_v1 == via_v2
    # v1 answers a whole GET with noSuchName when one OID is missing: the others must still come back
    got = await v1.get([SYS_NAME, parse_oid("1.3.6.1.2.1.1.99.0"), SYS_OBJECT_ID])
    assert set(got) == {SYS_NAME, SYS_OBJECT_ID}


@pytest.mark.parametrize(
    "user_name", ["sha256_aes128", "sha_aes", "md5_des", "sha512_aes256", "sha_nopriv", "noauth_nopriv"]
)
async def test_v3_get_and_walk(pool: SnmpClientPool, snmpd: SnmpdAgent, user_name: str) -> None:
    user = snmpd.v3_users[user_name]
    client = pool.client(device("v3", snmpd.host, v3_settings(user, snmpd.port)))
    reference = netsnmp_get(snmpd.host, snmpd.port, snmpd.community, [SYS_NAME])
    got = await client.get([SYS_NAME])
    assert as_text(got[SYS_NAME]) == reference[SYS_NAME]

    async def read() -> tuple[list[Oid], list[Oid]]:
        names = await client.walk(IF_DESCR)
        return [oid for oid, _ in names], list(
            netsnmp_walk(snmpd.host, snmpd.port, snmpd.community, IF_DESCR)
        )

    ours, reference = await steady(snmpd, read)
    assert ours == reference


async def test_v3_wrong_auth_key_is_an_auth_error_not_a_timeout(
    pool: SnmpClientPool, snmpd: SnmpdAgent
) -> None:
    user = snmpd.v3_users["sha256_aes128"]
    wrong = V3User(user.name, user.auth_protocol, "wrong-auth-key-123", user.priv_protocol, user.priv_key)
    # A timeout would take 2 x 10 s: the bound tells the agent's report from it with room for a loaded machine
    # (pysnmp localizes the keys in Python on first use).
    client = pool.client(device("v3", snmpd.host, v3_settings(wrong, snmpd.port, timeout_s=10.0, retries=1)))
    started = time.monotonic()
    with pytest.raises(SnmpAuthError) as caught:
        await client.get([SYS_NAME])
    assert time.monotonic() - started < 8.0  # a report from the agent, not the 20 s timeout
    assert "wrong-auth-key" not in str(caught.value)
    assert str(caught.value).startswith("v3:")


async def test_v3_unknown_user_is_an_auth_error(pool: SnmpClientPool, snmpd: SnmpdAgent) -> None:
    user = snmpd.v3_users["sha256_aes128"]
    stranger = V3User("nobody-here", user.auth_protocol, user.auth_key, user.priv_protocol, user.priv_key)
    client = pool.client(device("v3", snmpd.host, v3_settings(stranger, snmpd.port, timeout_s=10.0)))
    with pytest.raises(SnmpAuthError):
        await client.walk(IF_DESCR)


async def test_closed_port_fails_in_time_saying_what_happened(
    pool: SnmpClientPool, backend: str, free_port: Callable[..., int]
) -> None:
    port = free_port("udp")
    settings = v2c_settings("public", port, timeout_s=0.5, retries=1)
    client = pool.client_for("127.0.0.1", None, settings)
    started = time.monotonic()
    # The closed port answers with an ICMP port unreachable: gufo's connected socket sees it and says so at
    # once; pysnmp's unconnected one does not, so it waits out the timeout x tries.
    expected = SnmpTimeout if backend == "pysnmp" else SnmpError
    with pytest.raises(expected) as caught:
        await client.walk(IF_DESCR)
    took = time.monotonic() - started
    if backend == "gufo":
        assert took < 0.5 * 2, "the ICMP report, not the timeout"
    else:
        # timeout x tries, plus slack for pysnmp's 0.1 s timer ticks, its first engine set-up (~0.3 s) and a
        # loaded machine (5.4 s seen at load 19 on 2 cores): bounded, not hanging
        assert took < 0.5 * 2 + 8.0
    assert "public" not in str(caught.value)
    if backend == "gufo":
        assert f"nothing listening on UDP port {port} of 127.0.0.1 (ICMP port unreachable)" in str(
            caught.value
        )
    else:
        assert "likely: wrong community, agent not running or not listening on port" in str(caught.value)
    with pytest.raises(expected):
        await client.get([SYS_NAME])


async def test_failing_device_does_not_stop_the_others(
    pool: SnmpClientPool, snmpd: SnmpdAgent, free_port: Callable[..., int]
) -> None:
    good = pool.client(device("good", snmpd.host, v2c_settings(snmpd.community, snmpd.port)))
    dead = pool.client_for("127.0.0.1", free_port("udp"), v2c_settings("x", 161, timeout_s=0.3, retries=0))
    results = await asyncio.gather(good.walk(IF_DESCR), dead.walk(IF_DESCR), return_exceptions=True)
    assert isinstance(results[0], list)
    assert results[0]
    assert isinstance(results[1], SnmpError)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
async def test_pool_close_releases_every_socket(backend: str, snmpd: SnmpdAgent) -> None:
    before = open_sockets()
    async with SnmpClientPool(backend=backend) as pool:  # type: ignore[arg-type]
        clients = [
            pool.client(device(name, snmpd.host, v2c_settings(snmpd.community, snmpd.port)))
            for name in ("r1", "r2", "r3")
        ]
        for client in clients:
            assert SYS_NAME in await client.get([SYS_NAME])
        assert open_sockets() > before
        await pool.forget("r1")
        with pytest.raises(SnmpError, match="client closed"):  # a poll still holding it opens no new socket
            await clients[0].get([SYS_NAME])
    for _ in range(3):
        await asyncio.sleep(0)  # asyncio closes a datagram transport's socket on the next loop iteration
    assert open_sockets() == before


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
async def test_gufo_holds_a_socket_only_while_polling(snmpd: SnmpdAgent) -> None:
    """A v2c session idle for ``session_idle_s`` is closed; the next request opens one again."""
    before = open_sockets()
    # Idle long enough that no session is swept while the others are read on a busy machine.
    async with SnmpClientPool(backend="gufo", session_idle_s=1.0) as pool:
        clients = [
            pool.client(device(name, snmpd.host, v2c_settings(snmpd.community, snmpd.port)))
            for name in ("r1", "r2", "r3")
        ]
        for client in clients:
            assert SYS_NAME in await client.get([SYS_NAME])
        assert open_sockets() == before + 3
        for _ in range(500):  # bounded (10 s): a session is swept after 1 s idle
            if open_sockets() == before:
                break
            await asyncio.sleep(0.02)
        assert open_sockets() == before
        for client in clients:  # the next poll: a new session, the same answers
            assert len(await client.walk(IF_DESCR)) > 0
        assert open_sockets() == before + 3
    assert open_sockets() == before


# --- snmpsim lab recordings ---------------------------------------------------------------------------------


async def test_lab_recordings_walk_like_snmpbulkwalk(pool: SnmpClientPool, snmpsim_lab: SnmpsimAgent) -> None:
    for community in snmpsim_lab.communities:
        settings = v2c_settings(community, snmpsim_lab.port, timeout_s=5.0)
        client = pool.client(device(community, snmpsim_lab.host, settings))
        names = await client.walk(IF_NAME)
        reference = netsnmp_walk(snmpsim_lab.host, snmpsim_lab.port, community, IF_NAME)
        assert len(names) == len(reference) > 0, community
        assert [(oid, as_text(value)) for oid, value in names] == list(reference.items()), community
        got = await client.get([SYS_NAME, SYS_OBJECT_ID, SYS_DESCR])
        scalars = netsnmp_get(snmpsim_lab.host, snmpsim_lab.port, community, [SYS_NAME, SYS_OBJECT_ID])
        assert as_text(got[SYS_NAME]) == scalars[SYS_NAME], community
        assert got[SYS_OBJECT_ID] == parse_oid(scalars[SYS_OBJECT_ID]), community
        assert isinstance(got[SYS_DESCR], bytes)


# --- a scripted agent on loopback: the quirks real agents in the lab do not show ----------------------------


class ScriptedAgent(asyncio.DatagramProtocol):
    """A v2c agent serving ``rows`` ifDescr values, with scripted misbehaviour.

    ``too_big_above``: GETBULK with more repetitions than this gets error-status tooBig.
    ``stuck_at``: from this ifIndex on, every "next" OID is that row again (a non-increasing agent).
    ``drop``: the first ``drop`` requests get no answer (lost packets).
    ``late``: the first ``late`` requests are answered only after ``late_s`` seconds.
    """

    def __init__(
        self,
        rows: int,
        *,
        too_big_above: int = 0,
        stuck_at: int = 0,
        drop: int = 0,
        late: int = 0,
        late_s: float = 0.0,
    ) -> None:
        from pysnmp.proto import rfc1902

        self.mib: dict[Oid, object] = {
            (*IF_DESCR, i): rfc1902.OctetString(f"port{i}") for i in range(1, rows + 1)
        }
        self.mib[SYS_NAME] = rfc1902.OctetString("scripted")
        self.oids = sorted(self.mib)
        self.too_big_above = too_big_above
        self.stuck_at = (*IF_DESCR, stuck_at) if stuck_at else None
        self.drop = drop
        self.late = late
        self.late_s = late_s
        self.requests = 0
        self.repetitions_seen: list[int] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport, by construction

    def _next(self, oid: Oid) -> tuple[Oid, object]:
        from pysnmp.proto import rfc1905

        if self.stuck_at is not None and oid >= self.stuck_at:
            return self.stuck_at, self.mib[self.stuck_at]
        for candidate in self.oids:
            if candidate > oid:
                return candidate, self.mib[candidate]
        return oid, rfc1905.endOfMibView

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        from pyasn1.codec.ber import decoder, encoder  # type: ignore[import-untyped]
        from pysnmp.proto import rfc1905
        from pysnmp.proto.api import v2c

        self.requests += 1
        if self.drop > 0:
            self.drop -= 1
            return
        message, _ = decoder.decode(data, asn1Spec=v2c.Message())
        request = v2c.apiMessage.get_pdu(message)
        response_message = v2c.apiMessage.get_response(message)
        response = v2c.apiMessage.get_pdu(response_message)
        names = [tuple(name) for name, _ in v2c.apiPDU.get_varbinds(request)]
        varbinds: list[tuple[Oid, object]] = []
        if request.isSameTypeWith(v2c.GetBulkRequestPDU()):
            repetitions = int(v2c.apiBulkPDU.get_max_repetitions(request))
            self.repetitions_seen.append(repetitions)
            if self.too_big_above and repetitions > self.too_big_above:
                v2c.apiPDU.set_error_status(response, 1)  # tooBig
                v2c.apiPDU.set_error_index(response, 0)
                varbinds = [(name, v2c.Null("")) for name in names]
            else:
                cursor = names[0]
                for _ in range(repetitions):
                    cursor, value = self._next(cursor)
                    varbinds.append((cursor, value))
                    if value is rfc1905.endOfMibView:
                        break
        elif request.isSameTypeWith(v2c.GetNextRequestPDU()):
            varbinds = [self._next(name) for name in names]
        else:
            varbinds = [(name, self.mib.get(name, rfc1905.noSuchInstance)) for name in names]
        v2c.apiPDU.set_varbinds(response, varbinds)
        assert self.transport is not None
        if self.late > 0:
            self.late -= 1
            asyncio.get_running_loop().call_later(
                self.late_s, self.transport.sendto, encoder.encode(response_message), addr
            )
            return
        self.transport.sendto(encoder.encode(response_message), addr)


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[..., asyncio.Future[tuple[ScriptedAgent, int]]]]:
    transports: list[asyncio.DatagramTransport] = []

    async def start(**kwargs: int) -> tuple[ScriptedAgent, int]:
        loop = asyncio.get_running_loop()
        agent = ScriptedAgent(**kwargs)
        transport, _ = await loop.create_datagram_endpoint(lambda: agent, local_addr=("127.0.0.1", 0))
        transports.append(transport)
        return agent, transport.get_extra_info("sockname")[1]

    yield start  # type: ignore[misc]
    for transport in transports:
        transport.close()


async def test_too_big_retries_with_fewer_repetitions(
    pool: SnmpClientPool, scripted: Callable[..., object]
) -> None:
    agent, port = await scripted(rows=60, too_big_above=10)  # type: ignore[misc]
    client = pool.client_for("127.0.0.1", port, v2c_settings("any", port, max_repetitions=40))
    rows = await client.walk(IF_DESCR)
    assert [value for _, value in rows] == [f"port{i}".encode() for i in range(1, 61)]
    assert agent.repetitions_seen[0] == 40
    assert agent.repetitions_seen[-1] <= 10


async def test_non_increasing_oids_stop_the_walk(
    pool: SnmpClientPool, scripted: Callable[..., object]
) -> None:
    agent, port = await scripted(rows=50, stuck_at=20)  # type: ignore[misc]
    client = pool.client_for("127.0.0.1", port, v2c_settings("any", port, timeout_s=10.0))
    started = time.monotonic()
    rows = await client.walk(IF_DESCR)
    assert time.monotonic() - started < 8.0  # stopped at the bad OID, did not wait for a 10 s timeout
    assert [oid[-1] for oid, _ in rows] == list(range(1, 21))
    warnings = getattr(client, "warnings", [])
    assert any("non-increasing" in w for w in warnings), warnings
    assert agent.requests < 10


async def test_lost_request_is_retried(pool: SnmpClientPool, scripted: Callable[..., object]) -> None:
    agent, port = await scripted(rows=30, drop=1)  # type: ignore[misc]
    client = pool.client_for("127.0.0.1", port, v2c_settings("any", port, timeout_s=0.3, retries=2))
    rows = await client.walk(IF_DESCR)
    assert len(rows) == 30
    assert agent.requests >= 2
    agent.drop = 1
    assert (await client.get([SYS_NAME]))[SYS_NAME] == b"scripted"


async def test_late_replies_are_not_taken_for_later_requests(
    pool: SnmpClientPool, scripted: Callable[..., object]
) -> None:
    agent, port = await scripted(rows=30, late=1, late_s=0.5)  # type: ignore[misc]
    client = pool.client_for("127.0.0.1", port, v2c_settings("any", port, timeout_s=0.3, retries=2))
    rows = await client.walk(IF_DESCR)  # first try times out, its reply comes during the second
    assert [value for _, value in rows] == [f"port{i}".encode() for i in range(1, 31)]
    await asyncio.sleep(0.4)  # a late reply may land while nothing waits
    assert (await client.get([SYS_NAME]))[SYS_NAME] == b"scripted"
    assert len(await client.walk(IF_DESCR)) == 30
    agent.late, agent.late_s = 1, 0.35  # now the late reply lands after the retry's answer
    assert len(await client.walk(IF_DESCR)) == 30
    await asyncio.sleep(0.3)
    assert (await client.get([SYS_NAME]))[SYS_NAME] == b"scripted"


async def test_walk_to_the_end_of_the_mib(pool: SnmpClientPool, scripted: Callable[..., object]) -> None:
    _, port = await scripted(rows=5)  # type: ignore[misc]
    client = pool.client_for("127.0.0.1", port, v2c_settings("any", port))
    rows = await client.walk(SYS_NAME[:-2])  # 1.3.6.1.2.1.1: only sysName.0, then endOfMibView
    assert rows == [(SYS_NAME, b"scripted")]


@pytest.mark.parametrize("same_engine_id", [True, False], ids=["reboot", "new-engine-id"])
async def test_v3_survives_an_agent_restart(
    pool: SnmpClientPool, snmpd_factory: Callable[..., SnmpdAgent], same_engine_id: bool
) -> None:
    # A reboot keeps the engine ID and raises snmpEngineBoots (the USM time window moves); a replaced device
    # (or this snmpd without a fixed engine ID) comes back with another engine ID: the keys localised for
    # the old one no longer match.
    agent = snmpd_factory(extra_config="exactEngineID 0x80001f8880a1b2c3d4e5f60718" if same_engine_id else "")
    # The agent answers at once; the timeout only bounds a busy machine's rediscovery exchanges.
    settings = v3_settings(agent.v3_users["sha256_aes128"], agent.port, timeout_s=10.0, retries=1)
    client = pool.client(device("v3", agent.host, settings))
    assert SYS_NAME in await client.get([SYS_NAME])
    agent.stop()
    agent.start()
    assert SYS_NAME in await client.get([SYS_NAME])
    assert len(await client.walk(IF_DESCR)) > 0


async def test_gufo_v3_resyncs_after_idle(snmpd: SnmpdAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    from netpoll.inputs.snmp import backend_gufo

    monkeypatch.setattr(backend_gufo, "_V3_REFRESH_AFTER_S", 0.0)  # every request counts as "idle too long"
    async with SnmpClientPool(backend="gufo") as gufo_pool:
        user = snmpd.v3_users["sha256_aes128"]
        client = gufo_pool.client(device("v3", snmpd.host, v3_settings(user, snmpd.port)))
        for _ in range(3):
            assert SYS_NAME in await client.get([SYS_NAME])
            assert await client.walk(IF_DESCR)


async def test_ipv6_agent(pool: SnmpClientPool, snmpd_factory: Callable[..., SnmpdAgent]) -> None:
    agent = snmpd_factory(addresses=["[::1]"])
    v2 = pool.client(device("v6", "::1", v2c_settings(agent.community, agent.port)))
    assert SYS_NAME in await v2.get([SYS_NAME])
    assert len(await v2.walk(IF_DESCR)) > 0
    v3 = pool.client(device("v6-v3", "::1", v3_settings(agent.v3_users["sha_aes"], agent.port)))
    assert SYS_NAME in await v3.get([SYS_NAME])
