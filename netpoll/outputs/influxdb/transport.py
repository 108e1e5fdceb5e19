"""The HTTP side of the InfluxDB output: one blocking ``send(body)`` per batch, v1 or v2 write API.

``v2`` writes through influxdb-client's write service (``/api/v2/write``); ``v1`` posts to
``/write?db=&rp=&precision=ns`` (InfluxDB 1.x, whose 1.6 and 1.7 have no v2 API) with urllib3, the HTTP
library influxdb-client itself uses. ``auto`` asks ``/ping`` on the first send: a server whose
``X-Influxdb-Version`` header starts with ``1.`` gets v1, any other (InfluxDB 2/3, VictoriaMetrics) v2.
With ``gzip`` both send the body compressed at level 1, the cheapest (the CPU is the poller's).
Neither client retries on its own: the writer alone decides, so a batch is never sent twice behind its back.

``send`` raises :class:`WriteRejected` for an HTTP error (with the server's message, a hint for the usual
causes and any ``Retry-After``) and :class:`OSError` for network and TLS trouble. It runs in a worker
thread: the writer bounds it with a wall-clock deadline of its own.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import ssl
import threading
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import urllib3

from netpoll.tls import client_context

if TYPE_CHECKING:
    from netpoll.config import InfluxConfig

log = logging.getLogger("netpoll.outputs.influxdb")

__all__ = ["InfluxTransport", "WriteRejected", "parse_retry_after"]


class WriteRejected(Exception):
    """The server answered with an HTTP error.

    Args:
        status: the HTTP status.
        message: the server's message, with a hint when the cause is a usual one.
        retry_after: seconds the server asked to wait (``Retry-After``), if it did.
    """

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"HTTP {status}: {message}")


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta seconds or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _tls_reason(exc: BaseException) -> str | None:
    """A one-line TLS diagnosis when ``exc`` (or what it wraps) is a TLS problem."""
    seen: BaseException | None = exc
    for _depth in range(6):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError | urllib3.exceptions.SSLError):
            text = str(seen)
            if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
                detail = getattr(seen, "verify_message", None) or "certificate verify failed"
                return (
                    f"TLS: certificate verify failed ({detail}): check influxdb.tls.ca_file (the CA that "
                    "signed the server's certificate) and that the URL's host is in it"
                )
            return f"TLS: {text}: check influxdb.tls"
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "reason", None)
    return None


class InfluxTransport:
    """Callable ``(body: bytes) -> None`` writing one batch; ``close()`` releases the connections.

    Args:
        config: the ``influxdb`` configuration section.
    """

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self.api: str | None = None if config.api == "auto" else config.api
        context = client_context(config.tls) if config.tls is not None else None
        # Per request, connect and each read are bounded; the writer adds the deadline of the whole write.
        timeout = urllib3.Timeout(connect=config.timeout_s, read=config.timeout_s)
        self._http = urllib3.PoolManager(
            maxsize=2, retries=False, timeout=timeout, ssl_context=context, cert_reqs=_cert_reqs(config)
        )
        self._v2: Any = None
        self._v2_writes: Any = None
        self._context = context
        self._lock = threading.Lock()  # a stuck write's thread may still run beside the next one

    @property
    def endpoint(self) -> str:
        """The write URL for messages (no secrets)."""
        if self.api == "v1":
            return f"{self.config.url}/write?db={self.config.v1_database}"
        if self.api == "v2":
            return f"{self.config.url}/api/v2/write"
        return self.config.url

    def __call__(self, body: bytes) -> None:
        try:
            if self.api is None:
                self._detect()
            if self.api == "v1":
                self._send_v1(body)
            else:
                self._send_v2(body)
        except WriteRejected:
            raise
        except Exception as exc:
            reason = _tls_reason(exc)
            if reason is not None:
                raise OSError(f"{self.config.url}: {reason}") from exc
            raise

    def close(self) -> None:
        """Release the connection pools."""
        self._http.clear()
        if self._v2 is not None:
            self._v2.close()

    # ---- detection ----

    def _detect(self) -> None:
        response = self._http.request("GET", f"{self.config.url}/ping", preload_content=True)
        version = response.headers.get("X-Influxdb-Version", "")
        with self._lock:
            if self.api is not None:
                return
            if version.startswith("1."):
                self.api = "v1"
                log.info(
                    "influxdb: %s is InfluxDB %s: writing with the 1.x API to database %r (set influxdb.api "
                    "to skip this check)",
                    self.config.url,
                    version,
                    self.config.v1_database,
                )
            else:
                self.api = "v2"
                log.info(
                    "influxdb: %s is %s: writing with the v2 API to bucket %r",
                    self.config.url,
                    f"InfluxDB {version}" if version else "not InfluxDB 1.x",
                    self.config.bucket,
                )

    # ---- v1 ----

    def _send_v1(self, body: bytes) -> None:
        c = self.config
        params = {"db": c.v1_database, "precision": "ns"}
        if c.retention_policy:
            params["rp"] = c.retention_policy
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if c.username is not None:
            password = c.password.get_secret_value() if c.password is not None else ""
            headers |= urllib3.util.make_headers(basic_auth=f"{c.username}:{password}")
        if c.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        response = self._http.request(
            "POST", f"{c.url}/write?{urlencode(params)}", body=body, headers=headers, preload_content=True
        )
        if 200 <= response.status < 300:
            return
        text = _error_text(response.data)
        raise WriteRejected(
            response.status,
            self._hint(response.status, text),
            parse_retry_after(response.headers.get("Retry-After")),
        )

    # ---- v2 ----

    def _send_v2(self, body: bytes) -> None:
        from influxdb_client.client.exceptions import InfluxDBError

        c = self.config
        options: dict[str, str] = {}
        if c.gzip:
            # Compressed here at level 1, like v1: influxdb-client's own gzip runs at level 9, which took
            # 7 % of the daemon's CPU at 6,000 devices, for a body 1.6x smaller than level 1 gives.
            body = gzip.compress(body, compresslevel=1)
            options["content_encoding"] = "gzip"
        try:
            self._v2_service().post_write(
                org=c.org or "netpoll",
                bucket=c.bucket,
                body=body,
                precision="ns",
                content_type="text/plain; charset=utf-8",
                **options,
            )
        except InfluxDBError as exc:
            status = int(getattr(exc, "status", 0) or getattr(exc.response, "status", 0) or 0)
            if status == 0:
                raise OSError(str(exc)) from exc
            raw = exc.response.data if exc.response is not None else b""
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            raise WriteRejected(
                status, self._hint(status, text.strip()[:500]), parse_retry_after(exc.retry_after)
            ) from exc

    def _v2_service(self) -> Any:
        """influxdb-client's write service (the HTTP call of its write API, given a body as it is sent)."""
        with self._lock:
            if self._v2_writes is None:
                from influxdb_client.client.influxdb_client import InfluxDBClient
                from influxdb_client.service.write_service import WriteService

                c = self.config
                insecure = c.tls is not None and c.tls.insecure
                self._v2 = InfluxDBClient(
                    url=c.url,
                    token=c.token.get_secret_value() if c.token is not None else "netpoll",
                    org=c.org or "netpoll",
                    timeout=int(c.timeout_s * 1000),
                    enable_gzip=False,  # the body comes compressed (``_send_v2``)
                    retries=False,
                    ssl_context=self._context,
                    verify_ssl=not insecure,
                )
                self._v2_writes = WriteService(self._v2.api_client)  # type: ignore[no-untyped-call]
            return self._v2_writes

    def _hint(self, status: int, text: str) -> str:
        """The server's message, with the likely cause of a 401/403/404 and the key to fix."""
        where = self.endpoint
        if status == 404 and self.api == "v1":
            return (
                f"{where}: {text or 'not found'}: the database does not exist (CREATE DATABASE "
                f"{self.config.v1_database}) or influxdb.database is wrong"
            )
        if status == 404:
            return (
                f"{where}: {text or 'not found'}: either the org or bucket does not exist, or the server has"
                " no v2 write API (InfluxDB 1.x older than 1.8): then set influxdb.api: v1"
            )
        if status in (401, 403):
            keys = "influxdb.username and influxdb.password" if self.api == "v1" else "influxdb.token"
            return f"{where}: {text or 'unauthorized'}: check {keys} and the permissions they grant"
        return f"{where}: {text}" if text else where


def _error_text(data: bytes) -> str:
    """The message of an InfluxDB 1.x error answer (``{"error": "..."}``), else the body as text."""
    text = data.decode(errors="replace").strip()
    with contextlib.suppress(ValueError, AttributeError):
        text = str(json.loads(text)["error"])
    # The start says what failed; InfluxDB 1.x puts the count of a partial write at the end ("dropped=N").
    return text if len(text) <= 500 else f"{text[:400]} ... {text[-100:]}"


def _cert_reqs(config: InfluxConfig) -> str:
    return "CERT_NONE" if config.tls is not None and config.tls.insecure else "CERT_REQUIRED"
