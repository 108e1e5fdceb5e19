"""Contract of the aiomqtt internals netpoll uses (``netpoll.compat.aiomqtt``), against the pinned 2.5."""

from __future__ import annotations

import importlib.metadata

import aiomqtt
import paho.mqtt.client

from netpoll.compat.aiomqtt import paho_socket


def test_pinned_minor() -> None:
    # pyproject.toml pins aiomqtt to the minor these contracts were checked on.
    assert importlib.metadata.version("aiomqtt").startswith("2.5.")


async def test_client_holds_a_paho_client_whose_socket_is_none_before_connecting() -> None:
    client = aiomqtt.Client("127.0.0.1", 1)
    assert isinstance(client._client, paho.mqtt.client.Client)
    assert paho_socket(client) is None


async def test_publish_results_keep_the_puback_reason_code() -> None:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    from netpoll.compat.aiomqtt import track_publish_results

    client = aiomqtt.Client("127.0.0.1", 1, protocol=aiomqtt.ProtocolVersion.V5)
    results = track_publish_results(client)
    paho = client._client
    # aiomqtt's own callback still runs (it pops the pending publish; none here)
    paho.on_publish(paho, None, 7, ReasonCode(PacketTypes.PUBACK, identifier=135), None)
    results.last_mid = 7
    assert results.take_last() == (135, "Not authorized")
    paho.on_publish(paho, None, 8, ReasonCode(PacketTypes.PUBACK, identifier=16), None)  # no subscribers
    results.last_mid = 8
    assert results.take_last() is None
    info = paho.publish("t", b"x", qos=1)  # not connected: queued by paho, but its mid is recorded
    assert results.last_mid == info.mid
