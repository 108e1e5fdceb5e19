"""Hostile device strings and values through every output: InfluxDB 1.x, VictoriaMetrics and Mosquitto.

The line-protocol encoder is checked differentially: the same samples encoded by influxdb-client's ``Point``
go to the same InfluxDB 1.x, so the test shows where the reference encoder loses a point or a string and
netpoll does not (or normalises it as docs/schema.md says).
"""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request
from typing import Any

import aiomqtt
import pytest
from influxdb_client import Point

from netpoll.outputs.mqtt.topics import alert_topic, unescape_level
from netpoll.sample import TAG_MAX, Sample

pytestmark = pytest.mark.network

INVALID_UTF8 = b"eth\xff\xfe0".decode("utf-8", "surrogateescape")  # bytes that are not UTF-8
HOSTILE = {
    "trailing_backslash": "uplink to core\\",
    "backslash_comma": "a\\,b",
    "double_backslash": "DOMAIN\\\\user",
    "quotes": 'say "hi"',
    "equals": "a=b",
    "commas": "a,b,,c",
    "newline": "line1\nline2\r\n",
    "tab": "a\tb",
    "control": "eth\x010",
    "escape": "\x1b[31mred\x1b[0m",
    "noncharacter": "eth\ufffe0",
    "invalid_utf8": INVALID_UTF8,
    "very_long": "/" * 22000,
    "plain": "Gi0/1 to rtr-2",
}
COUNTERS = [0, 2**63 - 1, 2**63, 2**64 - 1]


def expected_tag(text: str) -> str:
    """docs/schema.md's rule for a tag value, written out independently of the encoder."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > TAG_MAX:
        text = (
            data[: TAG_MAX - 17].decode("utf-8", "ignore")
            + "~"
            + hashlib.blake2b(data, digest_size=8).hexdigest()
        )
    out = []
    for i, char in enumerate(text):
        after = text[i + 1 : i + 2]
        if char == "\\" and after in ("", "\\", ",", "=", " ", "\n", "\r"):
            out.append("\uff3c")
        elif char in "\n\r":
            out.append(" ")
        elif "\ud800" <= char <= "\udfff":
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def expected_field(text: str) -> str:
    out = text.replace("\n", "\\n").replace("\r", "\\r")
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in out)


def samples() -> list[Sample]:
    out = []
    for i, (case, text) in enumerate(HOSTILE.items()):
        fields: dict[str, Any] = {"descr": text, "n": COUNTERS[i % len(COUNTERS)]}
        out.append(Sample("hostile", {"case": case, "ifAlias": text}, fields, 1_700_000_000_000_000_000 + i))
    return out


def reference_line(sample: Sample) -> str:
    point = Point(sample.measurement).time(sample.time_ns)
    for key, value in sample.tags.items():
        point.tag(key, value)
    for key, value in sample.fields.items():
        point.field(key, value)
    return str(point.to_line_protocol())


def stored_1x(influxdb1: Any, db: str) -> dict[str, dict[str, Any]]:
    answer = influxdb1.query(db, 'SELECT * FROM "hostile"')
    series = answer["results"][0].get("series", [])
    if not series:
        return {}
    columns = series[0]["columns"]
    return {row[columns.index("case")]: dict(zip(columns, row, strict=True)) for row in series[0]["values"]}


def write_1x(influxdb1: Any, db: str, lines: list[str]) -> None:
    for line in lines:  # one by one: a line the server refuses must not take the others with it
        try:
            influxdb1.write(db, line.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        except AssertionError:
            continue


def test_every_hostile_point_is_stored_by_influxdb1_as_documented(influxdb1: Any) -> None:
    influxdb1.create_database("ours")
    influxdb1.create_database("reference")
    ours = [s.to_line_protocol() for s in samples()]
    body = "\n".join(ours) + "\n"
    influxdb1.write("ours", body)  # one batch, and no partial write: the harness raises on any 4xx
    stored = stored_1x(influxdb1, "ours")
    write_1x(influxdb1, "reference", [reference_line(s) for s in samples()])
    reference = stored_1x(influxdb1, "reference")

    assert set(stored) == set(HOSTILE)
    for i, (case, text) in enumerate(HOSTILE.items()):
        row = stored[case]
        assert row["ifAlias"] == expected_tag(text), case
        assert row["descr"] == expected_field(text), case
        counter = COUNTERS[i % len(COUNTERS)]
        assert row["n"] % 2**64 == counter, case  # two's complement at and above 2^63
    # Where the reference encoder keeps the point and the string, netpoll stores the same; where it loses the
    # point (a counter at or above 2^63 is an out-of-range integer) or alters the string, netpoll does not.
    # (A backslash before a comma: InfluxDB 1.x reads the reference's spelling back, VictoriaMetrics skips the
    # line; netpoll writes U+FF3C for that backslash, which both store.)
    same = [case for case in reference if reference[case]["ifAlias"] == HOSTILE[case]]
    for case in same:
        if "\\" not in HOSTILE[case] and len(HOSTILE[case]) <= TAG_MAX:  # else normalised, as documented
            assert stored[case]["ifAlias"] == reference[case]["ifAlias"], case
    lost = sorted(set(HOSTILE) - set(same))
    print(f"influxdb-client's encoder: {len(lost)} of {len(HOSTILE)} hostile points lost or altered: {lost}")
    assert {"trailing_backslash", "newline"} <= set(lost)


def test_every_hostile_point_is_stored_by_victoriametrics(victoriametrics: Any) -> None:
    body = ("\n".join(s.to_line_protocol() for s in samples()) + "\n").encode()
    request = urllib.request.Request(f"{victoriametrics.url}/write", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204
    series = victoriametrics.export('{__name__="hostile_n"}')
    tags = {s["metric"]["case"]: s["metric"]["ifAlias"] for s in series}
    assert set(tags) == set(HOSTILE)
    for case, text in HOSTILE.items():
        expected = expected_tag(text)
        assert tags[case] == expected, case
    assert all(len(s["values"]) == 1 for s in series)  # every point stored, the counters too


async def test_hostile_names_make_topics_the_broker_delivers(mosquitto: Any) -> None:
    names = ["eth\x010", "eth\ufffe0", "/" * 22000, INVALID_UTF8, "$SYS", "a+b#c", "healthy"]
    topics = [alert_topic("netpoll", "dev\n", "interface_down", name) for name in names]
    got: dict[str, bytes] = {}
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as sub,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as pub,
    ):
        await sub.subscribe("netpoll/alerts/#", qos=1)
        for i, topic in enumerate(topics):
            await pub.publish(topic, str(i).encode(), qos=1)
        async with asyncio.timeout(10):
            async for message in sub.messages:
                got[str(message.topic)] = bytes(message.payload)
                if len(got) == len(topics):
                    break
    assert got == {topic: str(i).encode() for i, topic in enumerate(topics)}
    for name, topic in zip(names, topics, strict=True):
        level = topic.split("/")[-1]
        assert len(level.encode()) <= 256
        decoded = unescape_level(level)
        assert decoded == name or (len(name) > 80 and "~" in decoded), name
    assert unescape_level(topics[0].split("/")[2]) == "dev\n"
