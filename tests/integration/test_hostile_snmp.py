"""Hostile SNMP agents (a local stand-in on 127.0.0.x) beside healthy ones: no device breaks another's poll.

Random, truncated and corrupted replies end every request as a result or an ``SnmpError`` (a decoder fault
counted), never a library exception or a traceback; ``netpoll poll GOOD BAD`` still prints the good device.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter

import pytest
from pydantic import SecretStr

from netpoll.cli.main import main
from netpoll.errors import SnmpDecodeError, SnmpError
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.replies import STATS
from netpoll.inventory.models import CommunityCredentials, SnmpSettings
from tests.harness.standin import IF_TABLE, SYS_NAME, SYS_UPTIME, Request, StandinAgent, answer

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
    faults_before = STATS.decoder_faults[backend]
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
    assert STATS.decoder_faults[backend] - faults_before >= outcomes["decode"]
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
            client = pool.client_for("127.0.0.2", bad.port, settings(bad.port, "gufo"))
            errors = []
            for _ in range(3):
                with pytest.raises(SnmpDecodeError) as caught:
                    await client.get([SYS_UPTIME])
                errors.append(str(caught.value))
    assert "decoder panic: index out of bounds" in errors[0]
    assert errors[1:] == [f"127.0.0.2:{bad.port}: undecodable reply (gufo: malformed BER)"] * 2
