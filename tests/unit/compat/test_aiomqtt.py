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
