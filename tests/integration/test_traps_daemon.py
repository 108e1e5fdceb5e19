"""Traps and informs through ``netpoll run``: real net-snmp senders, a real InfluxDB 1.x and Mosquitto.

v1 and v2c traps, a v2c inform, and SNMPv3 authPriv (SHA-256, AES-128) traps and informs (acknowledged:
``snmpinform`` exits 0) from inventory devices reach InfluxDB as ``trap`` records (names, varbinds) and MQTT
as events on ``<prefix>/events/<device>/<trap>`` (not retained, unique ids). A wrong community, a wrong v3
key and an unknown v3 user give ``trap_auth`` records for the device and no event.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.harness.influxdb1 import InfluxDB1
from tests.harness.mosquitto import MqttBroker
from tests.harness.ports import free_port
from tests.harness.process import require_binary
from tests.integration.test_alerts_daemon import Daemon, Subscriber
from tests.integration.test_traps import send

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]

DEVICE = "r1"
V3_DEVICE, V3_ADDRESS = "r3", "127.0.0.3"
COMMUNITY = "trap-c0mmunity"
AUTH_KEY, PRIV_KEY = "auth-k3y-secret", "priv-k3y-secret"
V3_ENGINE = "0x80001f8804aabbccdd"  # the sender's (snmptrap -e): its traps' keys are localized to it
V3 = ["-v3", "-l", "authPriv", "-a", "SHA-256", "-x", "AES", "-X", PRIV_KEY, f"--clientaddr={V3_ADDRESS}"]
LINK_DOWN, LINK_UP, COLD_START = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.6.3.1.1.5.1"
IF_INDEX_3 = ("1.3.6.1.2.1.2.2.1.1.3", "i", "3")
IF_OPER_3 = ("1.3.6.1.2.1.2.2.1.8.3", "i", "2")


def write_setup(
    tmp: Path, broker: MqttBroker, influx: InfluxDB1, prefix: str, trap_port: int, http_port: int
) -> Path:
    for name, secret in (("community", COMMUNITY), ("auth", AUTH_KEY), ("priv", PRIV_KEY)):
        (tmp / name).write_text(secret + "\n")
        (tmp / name).chmod(0o600)
    (tmp / "inventory.yaml").write_text(
        "\n".join(
            [
                "credentials:",
                "  lab: {version: 2c, community_file: community}",
                "  v3: {version: 3, username: ops, auth_protocol: SHA256, auth_key_file: auth,",
                "       priv_protocol: AES128, priv_key_file: priv}",
                "devices:",
                f"  - name: {DEVICE}",
                "    address: 127.0.0.1",
                # Nothing answers there, and the first poll is a minute away: only traps in this test.
                f"    snmp: {{credentials: lab, port: {free_port('udp')}, interval_s: 600}}",
                "    ping: {enabled: false}",
                f"  - name: {V3_DEVICE}",
                f"    address: {V3_ADDRESS}",
                f"    snmp: {{credentials: v3, port: {free_port('udp')}, interval_s: 600}}",
                "    ping: {enabled: false}",
            ]
        )
        + "\n"
    )
    return daemon_config(
        tmp,
        broker,
        prefix,
        "np-traps",
        f"127.0.0.1:{trap_port}",
        [
            *(
                "influxdb:",
                f"  url: {influx.url}",
                "  api: v1",
                "  database: traps",
                "  flush_interval_s: 0.2",
            ),
            *("http:", f"  listen: 127.0.0.1:{http_port}"),
        ],
    )


def daemon_config(
    tmp: Path, broker: MqttBroker, prefix: str, instance: str, listen: str, outputs: list[str]
) -> Path:
    """``netpoll.yaml`` for inventory.yaml, MQTT on ``broker`` as ``instance``, traps on ``listen``."""
    config = tmp / "netpoll.yaml"
    mqtt = [
        f"  host: {broker.host}",
        f"  port: {broker.port}",
        f"  topic_prefix: {prefix}",
        f"  instance: {instance}",
    ]
    lines = [
        "inventories: [inventory.yaml]",
        "data_dir: data",
        "state_dir: state",
        *outputs,
        "mqtt:",
        *mqtt,
        "traps:",
        "  enabled: true",
        f"  listen: ['{listen}']",
        "log: {level: INFO}",
    ]
    config.write_text("\n".join(lines) + "\n")
    return config


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text: str = answer.read().decode()
        return text


def influx_rows(influx: InfluxDB1, query: str) -> list[dict[str, Any]]:
    answer = influx.query("traps", query)
    rows: list[dict[str, Any]] = []
    for result in answer.get("results", []):
        for series in result.get("series", []):
            for values in series["values"]:
                rows.append(dict(zip(series["columns"], values, strict=True)))
    return rows


def wait_rows(influx: InfluxDB1, query: str, count: int, daemon: Daemon) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        rows = influx_rows(influx, query)
        if len(rows) >= count:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"{query}: {rows}; daemon log:\n{daemon.log()[-4000:]}")
        time.sleep(0.2)


async def test_traps_and_informs_reach_influxdb_and_mqtt(
    tmp_path: Path, mosquitto: MqttBroker, influxdb1: InfluxDB1
) -> None:
    snmptrap = require_binary("snmptrap", "Debian package snmp")
    snmpinform = require_binary("snmpinform", "Debian package snmp")
    influxdb1.create_database("traps")
    prefix = f"np-{uuid.uuid4().hex[:8]}"
    trap_port = free_port("udp")
    target = f"127.0.0.1:{trap_port}"
    http_port = free_port("tcp")
    config = write_setup(tmp_path, mosquitto, influxdb1, prefix, trap_port, http_port)
    daemon = Daemon(config)
    events = f"{prefix}/events/{DEVICE}/"
    try:
        async with Subscriber(mosquitto, prefix) as sub:
            status = f"{prefix}/status/np-traps"
            await sub.wait(lambda: b"online" in sub.on(status), 30, "status online", daemon)
            await sub.wait(lambda: "traps: listening on" in daemon.log(), 30, "the trap receiver", daemon)
            v1 = ["-v1", "-c", COMMUNITY, target, "1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", "2", "0", ""]
            v2c = ["-v2c", "-c", COMMUNITY, target, ""]
            # snmpinform exits 0 only once the daemon's Response came back: the inform was acknowledged.
            # First: the linkDown below makes the daemon's first SNMP poll, and its engine is built then.
            assert await send(snmpinform, "-t", "8", "-r", "0", *v2c, COLD_START) == 0
            assert await send(snmptrap, *v1, *IF_INDEX_3) == 0
            assert await send(snmptrap, *v2c, LINK_UP, *IF_INDEX_3, *IF_OPER_3) == 0
            assert await send(snmptrap, "-v2c", "-c", "guessed", target, "", COLD_START) == 0
            assert await send(snmptrap, *v2c, LINK_DOWN, *IF_INDEX_3) == 0
            # A vendor notification, named by the shipped Juniper profile's traps: section.
            user = ("1.3.6.1.4.1.2636.3.18.1.7.1.5.7", "s", "alice")
            assert await send(snmptrap, *v2c, "1.3.6.1.4.1.2636.4.5.0.1", *user) == 0
            # SNMPv3 authPriv, SHA-256 and AES-128: a trap (the sender's engine ID), an inform (the daemon's
            # engine ID, discovered by snmpinform first), then a wrong key and an unknown user.
            v3 = [*V3, "-u", "ops", "-A", AUTH_KEY]
            assert await send(snmptrap, *v3, "-e", V3_ENGINE, target, "", LINK_DOWN, *IF_INDEX_3) == 0
            assert await send(snmpinform, "-t", "8", "-r", "0", *v3, target, "", COLD_START) == 0
            wrong_key = [*V3, "-u", "ops", "-A", "guessed-k3y"]
            assert await send(snmptrap, *wrong_key, "-e", V3_ENGINE, target, "", COLD_START) == 0
            unknown = [*V3, "-u", "guest", "-A", AUTH_KEY]
            assert await send(snmptrap, *unknown, "-e", V3_ENGINE, target, "", COLD_START) == 0

            def got() -> list[tuple[str, bytes, bool]]:
                return [m for m in sub.messages if f"{prefix}/events/" in m[0]]

            await sub.wait(lambda: len(got()) >= 7, 20, "7 trap events", daemon)
            await asyncio.sleep(0.5)  # nothing more comes: wrong credentials are no events
            messages = got()
        v3_events = f"{prefix}/events/{V3_DEVICE}/"
        assert [(t, retain) for t, _, retain in messages] == [
            (events + "coldStart", False),
            (events + "linkDown", False),
            (events + "linkUp", False),
            (events + "linkDown", False),
            (events + "jnxCmCfgChange", False),
            (v3_events + "linkDown", False),
            (v3_events + "coldStart", False),
        ]
        payloads = [json.loads(p) for _, p, _ in messages]
        assert len({p["id"] for p in payloads}) == 7
        assert [(p["version"], p["kind"]) for p in payloads] == [
            ("2c", "inform"),
            ("1", "trap"),
            ("2c", "trap"),
            ("2c", "trap"),
            ("2c", "trap"),
            ("3", "trap"),
            ("3", "inform"),
        ]
        assert (payloads[4]["varbinds"], payloads[4]["severity"]) == (
            {"jnxCmCfgChgEventUser.7": "alice"},
            "info",
        )
        assert (payloads[5]["varbinds"], payloads[5]["severity"]) == ({"ifIndex.3": 3}, "major")
        assert payloads[2]["varbinds"] == {"ifIndex.3": 3, "ifOperStatus.3": 2}
        assert (payloads[1]["device"], payloads[1]["source"]) == (DEVICE, "127.0.0.1")
        assert COMMUNITY not in json.dumps(payloads)

        rows = wait_rows(influxdb1, "SELECT * FROM trap", 7, daemon)
        assert [(r["device"], r["trap"], r["version"], r["kind"]) for r in rows] == [
            (DEVICE, "coldStart", "2c", "inform"),
            (DEVICE, "linkDown", "1", "trap"),
            (DEVICE, "linkUp", "2c", "trap"),
            (DEVICE, "linkDown", "2c", "trap"),
            (DEVICE, "jnxCmCfgChange", "2c", "trap"),
            (V3_DEVICE, "linkDown", "3", "trap"),
            (V3_DEVICE, "coldStart", "3", "inform"),
        ]
        assert json.loads(rows[2]["varbinds"]) == {"ifIndex.3": 3, "ifOperStatus.3": 2}
        assert [r["id"] for r in rows] == [p["id"] for p in payloads]
        auth = wait_rows(influxdb1, "SELECT * FROM trap_auth", 3, daemon)
        assert [(r["device"], r["reason"], r["failures"]) for r in auth] == [
            (DEVICE, "community", 1),
            (V3_DEVICE, "wrong_digest", 1),
            (V3_DEVICE, "unknown_user", 2),
        ]
        metrics = get_text(f"http://127.0.0.1:{http_port}/metrics")
        for line in (
            "netpoll_traps_events_total 7.0",
            "netpoll_traps_informs_acknowledged_total 2.0",
            f'netpoll_traps_auth_failures_total{{device="{DEVICE}"}} 1.0',
            f'netpoll_traps_auth_failures_total{{device="{V3_DEVICE}"}} 2.0',
        ):
            assert line in metrics, metrics
        print(
            f"\nthrough the daemon: {len(rows)} trap records, {len(payloads)} MQTT events"
            f" (v1, v2c, v2c inform, a Juniper jnxCmCfgChange, v3 authPriv SHA-256/AES-128 trap and inform),"
            f" {len(auth)} trap_auth records"
        )
    finally:
        code = daemon.stop()
    log = daemon.log()
    assert code == 0, log
    assert "Traceback" not in log
    for secret in (COMMUNITY, AUTH_KEY, PRIV_KEY):
        assert secret not in log
    assert "wrong community" in log
