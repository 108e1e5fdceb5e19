"""Listen addresses of the trap receiver: ``ADDR:PORT``, ``[V6ADDR]:PORT`` or ``ADDR`` (port 162). Pure."""

from __future__ import annotations

import ipaddress

from netpoll.defaults import TRAP_PORT

Address = tuple[str, int]


def parse_listen(text: str) -> Address:
    """``text`` as (address, port); IP literals only (a listen address is never looked up).

    Raises:
        ValueError: naming the text and the expected form.
    """
    host, port_text = text, str(TRAP_PORT)
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: write an IPv6 address as [ADDR]:PORT, e.g. [::]:162")
        port_text = rest[1:] or port_text
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise ValueError(
            f"{text!r}: expected ADDR:PORT with an IP address, e.g. 0.0.0.0:162 or [::]:1162"
        ) from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} is not 0-65535")
    return host, port
