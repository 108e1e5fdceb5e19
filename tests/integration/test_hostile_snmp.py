"""Hostile SNMP agents (a local stand-in on 127.0.0.x) beside healthy ones: no device breaks another's poll.

Random, truncated and corrupted replies end every request as a result or an ``SnmpError`` (a decoder fault
counted), never a library exception or a traceback; ``netpoll poll GOOD BAD`` still prints the good device.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from pydantic import SecretStr

from netpoll.cli.main import main
from netpoll.errors import SnmpDecodeError, SnmpError
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.poller import ROW_CAP_MIN, SnmpPoller
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inputs.snmp.replies import STATS
from netpoll.inputs.snmp.types import Oid
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings
from netpoll.probe import Budget, ProbeResult
from tests.harness.standin import (
    IF_TABLE,
    IFX_TABLE,
    SYS_DESCR,
    SYS_NAME,
    SYS_OBJECT_ID,
    SYS_UPTIME,
    Request,
    StandinAgent,
    Table,
    answer,
    device_rows,
    enc_oid,
    enc_str,
    response,
)

pytestmark = pytest.mark.network


def settings(port: int, backend: str, timeout_s: float = 0.2) -> SnmpSettings:
    credentials = CommunityCredentials(profile="generic", version="2c", community=SecretStr("public"))
    return SnmpSettings(credentials=credentials, port=port, timeout_s=timeout_s, retries=0, backend=backend)  # type: ignore[arg-type]


def corrupter(seed: int) -> tuple[Counter[str], object]:
    """A reply hook: the correct answer truncated, replaced by random bytes, or with bytes flipped."""
    rng = random.Random(seed)
    kinds: Counter[str] = Counter()

    def reply(request: Request, agent: StandinAgent) -> list[bytes]:
        good = answer(request, agent)
        pick = rng.random()
        if pick < 0.45:
            kinds["truncated"] += 1
            return [good[: rng.randrange(len(good))]]
        if pick < 0.8:
            kinds["random"] += 1
            return [rng.randbytes(rng.randrange(1, 80))]
        kinds["flipped"] += 1
        data = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return [bytes(data)]

    return kinds, reply


@pytest.mark.parametrize(("backend", "count"), [("gufo", 3000), ("pysnmp", 1000)])
async def test_random_and_truncated_replies_end_as_results_or_errors(
    backend: str, count: int, caplog: pytest.LogCaptureFixture
) -> None:
    kinds, reply = corrupter(15)
    faults_before = sum(STATS.decoder_faults.values())  # gufo hands "incomplete" replies to pysnmp
    outcomes: Counter[str] = Counter()
    with StandinAgent("127.0.0.3", reply=reply) as agent:  # type: ignore[arg-type]
        # The daemon's pool: gufo checks a device's replies only after its first undecodable one.
        async with SnmpClientPool(backend=backend) as pool:  # type: ignore[arg-type]
            client = pool.client_for("127.0.0.3", agent.port, settings(agent.port, backend, 0.05))
            for i in range(count):
                try:
                    if i % 2:
                        await client.get([SYS_UPTIME, SYS_NAME])
                    else:
                        await client.walk((*IF_TABLE, 2))
                    outcomes["ok"] += 1
                except SnmpDecodeError:
                    outcomes["decode"] += 1
                except SnmpError as exc:
                    outcomes[type(exc).__name__] += 1
    assert sum(outcomes.values()) == count
    assert min(kinds.values()) > count // 10
    assert outcomes["decode"] > count // 2, outcomes
    assert sum(STATS.decoder_faults.values()) - faults_before >= outcomes["decode"]
    print(f"{backend}: {count} corrupted replies ({dict(kinds)}): {dict(outcomes)}")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("backend", ["gufo", "pysnmp"])
def test_poll_prints_the_good_device_beside_a_panicking_one(
    backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        StandinAgent("127.0.0.1") as good,
        StandinAgent("127.0.0.2", reply=lambda request, agent: [b"\x30\x81"]) as bad,
    ):
        targets = [f"127.0.0.1:{good.port}", f"127.0.0.2:{bad.port}"]
        code = main(["poll", *targets, "-c", "public", "--backend", backend, "--timeout", "2", "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 1
    ok = {r["tags"]["device"]: r["fields"] for r in json.loads(out) if r["measurement"] == "snmp"}
    assert ok[targets[0]]["poll_ok"] == 1
    assert ok[targets[1]]["poll_ok"] == 0
    assert ok[targets[1]]["error"].startswith("undecodable reply")
    assert err.splitlines() == [f"{targets[1]}: {ok[targets[1]]['error']}"]
    assert "Traceback" not in err
    assert "panicked" not in err


async def test_a_panic_in_the_daemon_pool_is_one_failed_poll() -> None:
    """Without ``check_replies``: gufo's first panic on a device caught and counted, later ones prevented."""
    with StandinAgent("127.0.0.2", reply=lambda request, agent: [b"\x30\x81"]) as bad:
        async with SnmpClientPool(backend="gufo") as pool:
            client = pool.client_for(
                "127.0.0.2", bad.port, settings(bad.port, "gufo", 5.0)
            )  # answers at once
            errors = []
            for _ in range(3):
                with pytest.raises(SnmpDecodeError) as caught:
                    await client.get([SYS_UPTIME])
                errors.append(str(caught.value))
    assert "decoder panic: index out of bounds" in errors[0]
    assert errors[1:] == [f"127.0.0.2:{bad.port}: undecodable reply (gufo: malformed BER)"] * 2


# --- forged and unsolicited replies ---------------------------------------------------------------------

HEALTHY = 20


# The healthy agents answer in milliseconds; a request that waits this long was lost (the timeout leaves room
# for a busy machine: 20 agent threads and a flooder share the GIL with the poller).
REQUEST_TIMEOUT_S = 3.0


def healthy_agents(stack: contextlib.ExitStack) -> list[StandinAgent]:
    return [
        stack.enter_context(StandinAgent(f"127.0.0.{20 + i}", Table(device_rows(name=f"healthy{i}"))))
        for i in range(HEALTHY)
    ]


def inventory(agents: list[StandinAgent], backend: str) -> list[Device]:
    return [
        Device(
            name=f"healthy{i}",
            address=agent.address,
            snmp=settings(agent.port, backend, timeout_s=REQUEST_TIMEOUT_S).model_copy(update={"retries": 1}),
        )
        for i, agent in enumerate(agents)
    ]


async def poll_rounds(devices: list[Device], backend: str, rounds: int) -> list[ProbeResult]:
    """``rounds`` polls of every device, one round a second (as the scheduler would), all devices at once."""
    results: list[ProbeResult] = []
    async with SnmpClientPool(backend=backend) as pool:  # type: ignore[arg-type]
        poller = SnmpPoller(pool, load_profiles())
        # Warm-up, not counted: pysnmp creates its engines (~145 ms each, seconds on a loaded machine).
        await asyncio.gather(*(poller.run(d, Budget.start(30)) for d in devices))
        loop = asyncio.get_running_loop()
        for _ in range(rounds):
            started = loop.time()
            # Less than two request timeouts: a request lost to hostile traffic (its retry) fails the poll.
            budget = 2 * REQUEST_TIMEOUT_S - 0.1
            results += await asyncio.gather(*(poller.run(d, Budget.start(budget)) for d in devices))
            await asyncio.sleep(max(0.0, 1.0 - (loop.time() - started)))
    return results


@pytest.mark.parametrize("backend", ["pysnmp", "gufo"])
async def test_a_forging_agent_speaks_for_no_other_device(backend: str) -> None:
    """The forger answers every request-id the healthy agents saw (as an on-path observer could) and guesses
    the ids next to its own, from its own address, with its own sysName and sysObjectID."""
    forged = 0
    agents: list[StandinAgent] = []

    def forge(request: Request, agent: StandinAgent) -> list[bytes]:
        nonlocal forged
        ids = {request.request_id + d for d in range(-64, 65)}
        ids |= {r.request_id for other in agents for r in other.requests[-5:]}
        for rid in ids:
            agent.sendto(response(request, agent.table.answer(request), request_id=rid), request.source)
            forged += 1
        return [answer(request, agent)]

    rows = device_rows(name="FORGED")
    rows[SYS_OBJECT_ID] = enc_oid((1, 3, 6, 1, 4, 1, 9, 1, 1208))  # a Cisco switch: would reset counter state
    dropped_before = sum(STATS.dropped.values())
    with contextlib.ExitStack() as stack:
        agents += healthy_agents(stack)
        forger = stack.enter_context(StandinAgent("127.0.0.99", Table(rows), reply=forge))
        devices = [
            *inventory(agents, backend),
            Device(name="forger", address=forger.address, snmp=settings(forger.port, backend, timeout_s=1.0)),
        ]
        results = await poll_rounds(devices, backend, 3)
    records = [s for r in results for s in r.samples if s.measurement == "snmp"]
    healthy = [s for s in records if s.tags["device"] != "forger"]
    assert len(healthy) == HEALTHY * 3
    assert all(s.fields["poll_ok"] == 1 for s in healthy), [s.fields.get("error") for s in healthy]
    assert [s for s in healthy if s.fields.get("sys_name") != s.tags["device"]] == []
    assert {s.fields.get("profile") for s in healthy} == {"linux-netsnmp"}
    print(
        f"{backend}: {forged} forged replies, {len(healthy)} healthy records, none with the forger's values; "
        f"{sum(STATS.dropped.values()) - dropped_before} dropped unread"
    )
    assert forged > 1000


@pytest.mark.parametrize("backend", ["pysnmp", "gufo"])
async def test_a_flood_of_unsolicited_replies_delays_no_poll(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """400 datagrams/s of 1.4 KB replies (valid headers, unknown ids) at every socket netpoll polls from."""
    targets: set[tuple[str, int]] = set()
    stop = threading.Event()
    sent, first, last = 0, 0.0, 0.0

    def flood(flooder: StandinAgent) -> None:
        nonlocal sent, first, last
        rng = random.Random(5)
        template = Request(1, b"public", 0xA0, 0, 0, 0, [], ("127.0.0.1", 0))
        payload = [((1, 3, 6, 1, 2, 1, 1, 5, 0), enc_str(rng.randbytes(1300)))]
        due = time.monotonic()
        while not stop.is_set():
            if not targets:
                time.sleep(0.01)
                due = time.monotonic()
                continue
            for target in list(targets):  # 400 datagrams a second in all, round robin over the sockets
                flooder.sendto(response(template, payload, request_id=rng.randrange(2**31)), target)
                sent += 1
                last = time.monotonic()
                first = first or last
                due += 1 / 400
            time.sleep(max(0.0, due - time.monotonic()))

    def note_source(request: Request, agent: StandinAgent) -> list[bytes]:
        targets.add(request.source)
        return [answer(request, agent)]

    with contextlib.ExitStack() as stack:
        agents = healthy_agents(stack)
        for agent in agents:
            agent.reply = note_source
        flooder = stack.enter_context(StandinAgent("127.0.0.98"))
        thread = threading.Thread(target=flood, args=(flooder,), daemon=True)
        thread.start()
        cpu, wall = time.process_time(), time.monotonic()
        try:
            results = await poll_rounds(inventory(agents, backend), backend, 5)
        finally:
            stop.set()
            thread.join(5)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert max(r.duration_s for r in results) < REQUEST_TIMEOUT_S  # no request waited out its timeout
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "127.0.0.98" in r.getMessage()]
    assert len(warnings) <= 1
    slowest_ms = max(r.duration_s for r in results) * 1000
    rate = sent / (last - first)
    print(
        f"{backend}: {sent} flood datagrams in {wall:.1f}s ({rate:.0f}/s), {len(results)} polls all ok, "
        f"slowest {slowest_ms:.0f} ms, process CPU {cpu / wall:.0%} (flooder included)"
    )
    assert sent / (last - first) > 350  # the flood ran at its rate all along


# --- values at the edge: large replies, huge and endless tables ------------------------------------------


@pytest.mark.parametrize("backend", ["gufo", "pysnmp"])
async def test_large_legal_replies_are_read(backend: str) -> None:
    rows = device_rows(name="big")
    rows[SYS_DESCR] = enc_str(b"d" * 65_000)  # one 65 KB response, within the UDP limit
    for i in (1, 2):
        rows[(*IFX_TABLE, 18, i)] = enc_str(b"a" * 20_000)  # ifAlias far beyond gufo's own buffer
    with StandinAgent("127.0.0.4", Table(rows)) as agent:
        async with SnmpClientPool(backend=backend) as pool:  # type: ignore[arg-type]
            client = pool.client_for("127.0.0.4", agent.port, settings(agent.port, backend, 2.0))
            assert len((await client.get([SYS_DESCR]))[SYS_DESCR]) == 65_000
            aliases = await client.walk((*IFX_TABLE, 18))
    assert [len(value) for _, value in aliases] == [20_000, 20_000]  # type: ignore[arg-type]


def column(
    prefix: tuple[int, ...], limit: int | None
) -> Callable[[tuple[int, ...]], tuple[Oid, bytes] | None]:
    """Rows of one column made on demand: ``limit`` of them, or endless (None)."""

    def extra(oid: tuple[int, ...]) -> tuple[Oid, bytes] | None:
        n = len(prefix)
        if oid[:n] == prefix and len(oid) == n + 1:
            index = oid[n] + 1
        elif oid < prefix:
            index = 1
        else:
            return None
        if limit is not None and index > limit:
            return None
        return (*prefix, index), enc_str(b"row")

    return extra


@pytest.mark.parametrize("backend", ["gufo", "pysnmp"])
async def test_huge_and_endless_tables_end_at_the_row_cap(backend: str) -> None:
    import resource

    huge = Table(device_rows(name="huge"), extra=column((*IF_TABLE, 2), 100_000))
    endless = Table(device_rows(name="endless"), extra=column((*IF_TABLE, 2), None))
    with (
        StandinAgent("127.0.0.5", Table(device_rows(name="good"))) as good,
        StandinAgent("127.0.0.6", huge) as big,
        StandinAgent("127.0.0.7", endless) as forever,
    ):
        devices = [
            Device(name=name, address=agent.address, snmp=settings(agent.port, backend, 2.0))
            for name, agent in (("good", good), ("huge", big), ("endless", forever))
        ]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        async with SnmpClientPool(backend=backend) as pool:  # type: ignore[arg-type]
            poller = SnmpPoller(pool, load_profiles())
            results = await asyncio.gather(*(poller.run(d, Budget.start(60)) for d in devices))
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    ok = {d.name: r for d, r in zip(devices, results, strict=True)}
    assert ok["good"].ok
    for name in ("huge", "endless"):
        assert not ok[name].ok
        assert not ok[name].cut  # ended by the cap, not by the deadline
        assert ok[name].error is not None
        assert ok[name].error.startswith(f"table ifDescr (1.3.6.1.2.1.2.2.1.2): more than {ROW_CAP_MIN} rows")
    print(f"{backend}: {ok['endless'].error}; peak RSS grew {grown_mb:.0f} MB")
    assert grown_mb < 200
