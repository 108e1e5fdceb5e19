"""The InfluxDB output against real servers: InfluxDB 1.6 (v1 write API, detected), https with a private CA.

The daemon-level outage and restart test runs against both InfluxDB 1.6 and VictoriaMetrics in
``test_daemon_e2e.py``; stand-ins for what no real server does on demand are in ``test_influxdb_delivery.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netpoll.config import InfluxConfig, TlsConfig
from netpoll.outputs.influxdb.writer import InfluxWriter
from netpoll.sample import Sample
from tests.harness.influxdb1 import InfluxDB1
from tests.harness.tlsca import make_ca
from tests.harness.waits import wait_for

pytestmark = [pytest.mark.network]

T0 = 1_700_000_000_000_000_000


def samples(count: int, device: str = "r1") -> list[Sample]:
    return [
        Sample("interface", {"device": device}, {"in_bps": float(i)}, T0 + i * 10**9) for i in range(count)
    ]


def count(server: InfluxDB1, db: str, device: str) -> int:
    answer = server.query(db, f"SELECT count(in_bps) FROM interface WHERE device='{device}'")
    series = answer["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def writer(config: InfluxConfig, tmp_path: Path) -> InfluxWriter:
    return InfluxWriter(
        config, tmp_path / "spool", backoff_base_s=0.1, backoff_cap_s=0.5, shutdown_timeout_s=3
    )


async def test_influxdb_16_is_detected_and_written_with_the_v1_api(
    influxdb1: InfluxDB1, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    influxdb1.create_database("np_v1")
    config = InfluxConfig(url=influxdb1.url, database="np_v1", flush_interval_s=0.1)
    caplog.set_level(logging.INFO, "netpoll.outputs.influxdb")
    async with writer(config, tmp_path) as w:
        w.write(samples(50))
        await wait_for(lambda: w.points_written == 50)
    assert count(influxdb1, "np_v1", "r1") == 50
    assert "is InfluxDB 1.6" in caplog.text
    assert "writing with the 1.x API" in caplog.text
    # Written twice, stored once: same series and timestamp overwrite (the crash window's replay).
    async with writer(config, tmp_path / "again") as w:
        w.write(samples(50))
        await wait_for(lambda: w.points_written == 50)
    assert count(influxdb1, "np_v1", "r1") == 50


async def test_a_404_names_the_endpoint_and_the_likely_cause(
    influxdb1: InfluxDB1, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # v2 against a 1.6 server (no /api/v2/write), then v1 into a database that does not exist.
    for api, expected in (
        ("v2", "/api/v2/write: 404 page not found: either the org or bucket does not exist, or the server "
               "has no v2 write API (InfluxDB 1.x older than 1.8): then set influxdb.api: v1"),
        ("v1", "/write?db=missing: database not found: \"missing\": the database does not exist"),
    ):  # fmt: skip
        caplog.clear()
        config = InfluxConfig(url=influxdb1.url, api=api, database="missing", flush_interval_s=0.1)
        async with writer(config, tmp_path / api) as w:
            w.write(samples(3))
            await wait_for(lambda w=w: w.spool_bytes > 0 and not w.healthy)
            await asyncio.sleep(1.2)  # retried meanwhile: the error is still logged once
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert expected in errors[0]
        assert influxdb1.url in errors[0]


@pytest.fixture(scope="module")
def https_influxdb(
    influxdb1_factory: Callable[..., InfluxDB1], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    ca = make_ca(tmp_path_factory.mktemp("ca"))
    server = influxdb1_factory(tls=(ca.ca_file, ca.cert_file, ca.key_file))
    server.create_database("np_tls")
    return server, ca


async def test_https_with_a_private_ca(https_influxdb: Any, tmp_path: Path) -> None:
    server, ca = https_influxdb
    assert server.url.startswith("https://")
    config = InfluxConfig(
        url=server.url, database="np_tls", flush_interval_s=0.1, tls=TlsConfig(ca_file=ca.ca_file)
    )
    async with writer(config, tmp_path) as w:
        w.write(samples(20, device="tls"))
        await wait_for(lambda: w.points_written == 20)
    assert count(server, "np_tls", "tls") == 20


async def test_https_with_the_wrong_ca_is_one_clear_error(
    https_influxdb: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, _ca = https_influxdb
    other = make_ca(tmp_path / "other", name="some other CA")
    config = InfluxConfig(
        url=server.url, database="np_tls", flush_interval_s=0.1, tls=TlsConfig(ca_file=other.ca_file)
    )
    async with writer(config, tmp_path) as w:
        w.write(samples(5, device="wrong-ca"))
        await wait_for(lambda: w.spool_bytes > 0 and not w.healthy)
        await asyncio.sleep(1.0)
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1, problems
    assert "certificate verify failed" in problems[0]
    assert "influxdb.tls.ca_file" in problems[0]
    assert "Traceback" not in caplog.text
    assert count(server, "np_tls", "wrong-ca") == 0
