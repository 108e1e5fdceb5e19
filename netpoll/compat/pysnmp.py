"""pysnmp 7.1 (and its pyasn1 0.6) internals: value payloads, the transport's socket, the engine-ID cache.

- pyasn1 ``_value``: the payload an ASN.1 value object already decoded (int for INTEGER-likes, bytes for
  OCTET STRING-likes, an int tuple for OBJECT IDENTIFIER). Read directly, it saves ``int()``/``asOctets()``/
  ``asTuple()`` per varbind, most of what pysnmp costs beyond BER decoding (``payload``).
- ``AbstractAsyncioTransport._lport``: the task that creates the datagram endpoint after
  ``open_client_mode()``; awaited so the socket exists when netpoll sizes its receive buffer
  (``wait_open``).
- ``SnmpV3MessageProcessingModel.__engineIdCache`` (and its expiry queue): the peer engine IDs pysnmp
  keeps for 300 s per transport address, with no public way to drop one. ``forget_engine_id`` drops an
  agent's entry so the next request discovers its engine again (a replaced device), and its expiry-queue
  entry with it, or pysnmp's timer would later delete a key that is no longer there (KeyError).
- ``Cache.__message_id`` (class attribute of ``pysnmp.proto.mpmod.cache.Cache``) and the module attributes
  ``getNextRequestID`` of ``pysnmp.proto.api.v1``/``v2c``: the counters pysnmp draws msgIDs (which are also
  the v1/v2c request-ids on the wire) and PDU request-ids from, looked up on every message.
  ``use_request_ids`` replaces them, so ids are unpredictable (``netpoll.inputs.snmp.pysnmp_wire``).
- ``AbstractTransport._callback_function``: the dispatcher callback a transport hands a received datagram
  to (set by the public ``register_callback``); ``receive_callback`` reads it, so a transport subclass can
  call it itself and catch what decoding a hostile datagram raises.

Contract: ``tests/unit/compat/test_pysnmp.py``; pinned ``pysnmp>=7.1,<7.2`` and ``pyasn1>=0.6.1,<0.7``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

__all__ = ["forget_engine_id", "payload", "receive_callback", "use_request_ids", "wait_open"]

payload: Callable[[Any], Any] = operator.attrgetter("_value")
"""``payload(value)``: the decoded payload of a pyasn1 value object (C-speed attribute read, per varbind)."""

_CACHE = "_SnmpV3MessageProcessingModel__engineIdCache"
_EXPIRY = "_SnmpV3MessageProcessingModel__engineIdCacheExpQueue"


async def wait_open(transport: Any) -> None:
    """Wait until a transport opened with ``open_client_mode()`` has its datagram endpoint (and socket)."""
    await transport._lport


def forget_engine_id(engine: Any, address: str, port: int) -> int:
    """Drop the cached engine ID of the agent at ``(address, port)`` from every v3 model of ``engine``.

    Returns how many cache entries were dropped.
    """
    peer = (address, port)
    dropped = 0
    for model in engine.message_processing_subsystems.values():
        cache = getattr(model, _CACHE, None)
        if not isinstance(cache, dict):
            continue
        keys = [key for key in cache if tuple(key[1])[:2] == peer]
        for key in keys:
            del cache[key]
        dropped += len(keys)
        expiry = getattr(model, _EXPIRY, None)
        if keys and isinstance(expiry, dict):
            for due, queued in list(expiry.items()):
                kept = [key for key in queued if key not in keys]
                if kept:
                    expiry[due] = kept
                else:
                    del expiry[due]
    return dropped


def use_request_ids(generator: Callable[[], int]) -> None:
    """Draw every msgID and PDU request-id of every pysnmp engine in this process from ``generator``."""
    from pysnmp.proto.api import v1, v2c
    from pysnmp.proto.mpmod import cache

    cache.Cache._Cache__message_id = staticmethod(generator)
    v1.getNextRequestID = generator
    v2c.getNextRequestID = generator


def receive_callback(transport: Any) -> Callable[[Any, Any, bytes], None] | None:
    """The dispatcher callback of ``transport`` (called with transport, address, datagram), None if unset."""
    callback: Callable[[Any, Any, bytes], None] | None = transport._callback_function
    return callback
