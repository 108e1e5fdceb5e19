"""gufo-snmp 0.13 internals: the compiled client socket of a session and the walk context.

netpoll drives a session's compiled socket itself (encode/send, receive/decode) with one event-loop reader
for the session's life, instead of gufo's asyncio wrapper, which adds and removes a reader and runs a
``wait_for`` per request (see ``backend_gufo._Wire``). That needs two things gufo does not export:

- ``SnmpSession._sock``: the compiled socket, typed by gufo's own ``SnmpClientSocketProtocol``;
- ``gufo.snmp._fast.GetIter``: the GETNEXT/GETBULK walk context the socket's ``send_get_bulk`` and
  ``recv_get_bulk`` (``..._next``) take.

Contract: ``tests/unit/compat/test_gufo_snmp.py``; pinned ``gufo-snmp>=0.13,<0.14``.
"""

from __future__ import annotations

from gufo.snmp._fast import GetIter
from gufo.snmp.aio.client import SnmpSession
from gufo.snmp.protocol import SnmpClientSocketProtocol

__all__ = ["GetIter", "SnmpClientSocketProtocol", "session_socket"]


def session_socket(session: SnmpSession) -> SnmpClientSocketProtocol:
    """The compiled client socket of ``session``.

    Its ``send_*`` calls encode and send one request; its ``recv_*`` calls read and decode the reply and raise
    BlockingIOError while no datagram is readable or the one read answers another request.
    """
    sock: SnmpClientSocketProtocol = session._sock
    return sock
