"""Client TLS for the outputs: one SSL context from a ``tls:`` section (InfluxDB and MQTT alike)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Protocol, TypeVar

__all__ = ["TlsSettings", "client_context"]

C = TypeVar("C", bound=ssl.SSLContext)


class TlsSettings(Protocol):
    """What a client context is made of (``netpoll.config.TlsConfig`` fits)."""

    @property
    def ca_file(self) -> Path | None: ...

    @property
    def cert_file(self) -> Path | None: ...

    @property
    def key_file(self) -> Path | None: ...

    @property
    def insecure(self) -> bool: ...


def client_context(tls: TlsSettings, context_class: type[C] = ssl.SSLContext) -> C:  # type: ignore[assignment]
    """A client context: verifies the server against ``ca_file`` (else the system CAs) and its host name.

    ``cert_file``/``key_file`` add a client certificate; ``insecure`` turns every check off (tests only).
    Reads the files now: build it once, not per connection.
    """
    context = context_class(ssl.PROTOCOL_TLS_CLIENT)
    if tls.ca_file:
        context.load_verify_locations(cafile=str(tls.ca_file))
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if tls.cert_file:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    if tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
