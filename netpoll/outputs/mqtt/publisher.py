"""Publishes alerts over MQTT (aiomqtt, QoS 1), surviving broker outages without losing or reordering.

``publish(alert)`` only appends to a bounded in-memory queue. One background task owns the connection:
it connects, publishes ``online`` (retained) to the status topic — the broker publishes the last will
``offline`` if the connection dies — and sends the queue strictly in order, one message at a time, each
removed only once the broker acknowledged it (PUBACK). When the broker is unreachable the task reconnects
with capped, jittered exponential backoff (``netpoll.backoff``: attempt n waits between half and all of
``min(cap, base * 2**n)``), in every state, shutdown included: the drain at exit tries on at that pace for at
most ``drain_timeout`` seconds, then stops (what is left stays in the queue journal). The queue goes out in
order once connected. A message acknowledged just as the connection broke may be sent twice:
that is QoS 1, and every payload carries a unique ``id`` for consumers to drop the repeat.

MQTT 5 is spoken where the broker supports it (``mqtt.protocol: auto``, the default, falls back to 3.1.1 for
a broker that refuses it): its PUBACK carries a reason code, so a publish the broker refuses (ACL "not
authorized", quota exceeded, topic name invalid) is seen, logged once per topic and counted in ``refused``
instead of ``published``; such an alert is not retried (the broker would refuse it again). MQTT 3.1.1 has no
such code: a broker acknowledges a refused publish like any other, and it counts as published.

Retained messages (one per alert topic) hold what is active: a breach is published retained; a clear first
removes the retained breach (empty retained payload) and then publishes the clear itself, not retained.
A subscriber connecting later therefore sees exactly the active breaches. Events are not retained.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiomqtt

from netpoll.alerts.alert import Alert
from netpoll.backoff import Backoff
from netpoll.compat.aiomqtt import PublishResults, paho_socket, track_publish_results
from netpoll.outputs.mqtt.journal import Outgoing, QueueJournal
from netpoll.outputs.mqtt.topics import alert_topic, event_topic, status_topic
from netpoll.text import for_terminal
from netpoll.tls import TlsSettings, client_context

if TYPE_CHECKING:
    from netpoll.config import MqttConfig

logger = logging.getLogger("netpoll.outputs.mqtt")


# Connections that may break with the same alert in flight before it is set aside as refused.
MAX_ATTEMPTS = 3


def encode(alert: Alert, prefix: str) -> tuple[tuple[str, bytes, bool], ...]:
    """The messages that publish one alert (see the module docstring for retained handling)."""
    topic = alert_topic(prefix, alert.device, alert.rule, alert.entity)
    payload = json.dumps(alert.to_payload(), separators=(",", ":")).encode()
    if alert.state == "breach":
        return ((topic, payload, True),)
    if alert.state == "clear":
        return ((topic, b"", True), (topic, payload, False))
    return ((topic, payload, False),)


class _TlsContext(ssl.SSLContext):
    """An SSL context that remembers the last socket it wrapped.

    paho-mqtt wraps the TCP socket and then runs the handshake itself; when the handshake fails (unknown CA,
    wrong host name) it neither keeps nor closes that socket. The publisher closes it, else every failed
    reconnect attempt would leak one.
    """

    last_socket: ssl.SSLSocket | None = None

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        sock = super().wrap_socket(*args, **kwargs)
        self.last_socket = sock
        return sock

    def take_socket(self) -> ssl.SSLSocket | None:
        sock, self.last_socket = self.last_socket, None
        return sock


def build_tls_context(tls: TlsSettings) -> ssl.SSLContext:
    """An SSL context from the TLS options (system CAs unless ``ca_file`` is given)."""
    return client_context(tls, _TlsContext)


class MqttPublisher:
    """Async context manager that publishes alerts; see the module docstring.

    Args:
        config: the ``mqtt`` configuration section.
        backoff_base: first reconnect delay bound, seconds; doubled per failed attempt.
        backoff_cap: upper bound of the reconnect delay, seconds.
        publish_timeout: how long to wait for a PUBACK (and for a connection) before giving up on it.
        drain_timeout: on exit, how long to keep trying to send what is still queued.
        keepalive_s: MQTT keepalive.
        queue_path: journal file of the queue (e.g. ``<state_dir>/mqtt-queue.jsonl``): alerts not yet
            acknowledged when the daemon stops or is killed are published after the next start.
            None keeps the queue in memory only.
    """

    def __init__(
        self,
        config: MqttConfig,
        *,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        publish_timeout: float = 10.0,
        drain_timeout: float = 5.0,
        keepalive_s: int = 30,
        queue_path: str | Path | None = None,
    ) -> None:
        self.config = config
        self.instance = config.instance or socket.gethostname()
        self.prefix = config.topic_prefix
        self.status_topic = status_topic(self.prefix, self.instance)
        self.keepalive_s = keepalive_s
        self.backoff = Backoff(backoff_base, backoff_cap)
        self.publish_timeout = publish_timeout
        self.drain_timeout = drain_timeout
        self._queue: deque[Outgoing] = deque()
        self._inflight: Outgoing | None = None
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._connected = asyncio.Event()
        self._stopping = False
        self._abandon = False
        self._task: asyncio.Task[None] | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._journal = QueueJournal(Path(queue_path)) if queue_path is not None else None
        # Counters for the daemon's self-monitoring.
        self.published = 0
        self.dropped = 0
        self.enqueued = 0
        self.connects = 0
        self.connect_failures = 0
        self.refused = 0
        self._failures: dict[str, int] = {}  # alert id -> connections that broke while it was in flight
        self._sending: str | None = None  # the alert being sent on the current connection
        self._refused_topics: set[str] = set()
        self._protocol = (
            aiomqtt.ProtocolVersion.V311 if config.protocol == "3.1.1" else aiomqtt.ProtocolVersion.V5
        )
        self._results = PublishResults()

    # ------------------------------------------------------------------ public API

    @property
    def queued(self) -> int:
        """Alerts waiting to be acknowledged by the broker (including the one in flight)."""
        return len(self._queue) + (1 if self._inflight is not None else 0)

    @property
    def connected(self) -> bool:
        """Whether the publisher currently has a broker connection."""
        return self._connected.is_set()

    def stats(self) -> dict[str, int]:
        """Counters: queued, published, refused, dropped, enqueued, connects, connect_failures, connected."""
        return {
            "queued": self.queued,
            "published": self.published,
            "refused": self.refused,
            "dropped": self.dropped,
            "enqueued": self.enqueued,
            "connects": self.connects,
            "connect_failures": self.connect_failures,
            "connected": int(self.connected),
        }

    def publish(self, alert: Alert) -> None:
        """Queue one alert for publishing; never blocks. When the queue is full the oldest is dropped."""
        self._enqueue(Outgoing(alert.id, encode(alert, self.prefix)))

    def publish_event(self, event_id: str, device: str, name: str, payload: dict[str, Any]) -> None:
        """Queue one event (an SNMP trap) for ``<prefix>/events/<device>/<name>``, not retained.

        ``event_id`` is unique per event (the payload's ``id``); queued, journaled and dropped like alerts.
        """
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        self._enqueue(Outgoing(event_id, ((event_topic(self.prefix, device, name), body, False),)))

    def _enqueue(self, item: Outgoing) -> None:
        if self.queued >= self.config.queue_max and self._queue:
            lost = self._queue.popleft()
            self.dropped += 1
            if self._journal is not None:
                self._journal.removed(lost.alert_id, queue_empty=False)
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning(
                    "MQTT queue full (%d): dropped alert %s, %d dropped so far",
                    self.config.queue_max,
                    lost.alert_id,
                    self.dropped,
                )
        self._queue.append(item)
        if self._journal is not None:
            self._journal.added(item)
        self.enqueued += 1
        self._idle.clear()
        self._wakeup.set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until connected to the broker."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every queued alert has been acknowledged by the broker."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("MqttPublisher is not reentrant")
        if self.config.tls is not None:
            # Reads certificate files: once, here, not on every reconnect.
            self._tls_context = build_tls_context(self.config.tls)
        if self._journal is not None:
            # Alerts from before a restart go first; any queued before entering are journaled now.
            earlier = self._journal.open()
            for item in self._queue:
                self._journal.added(item)
            self._queue.extendleft(reversed(earlier))
            if self._queue:
                self._idle.clear()
        self._stopping = False
        self._abandon = False
        self._task = asyncio.create_task(self._run(), name="netpoll-mqtt-publisher")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), self.drain_timeout)
        except TimeoutError:
            # Give up on what is still queued. The flag ends the loop even if a cancellation is swallowed
            # inside the MQTT client (asyncio.wait_for in 3.11 can lose one when its future completes), and
            # the whole exit stays within drain_timeout + 1 s.
            self._abandon = True
            loop = asyncio.get_running_loop()
            give_up = loop.time() + 1.0
            while not task.done() and loop.time() < give_up:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(task), max(0.05, give_up - loop.time()))
        if self._journal is not None:
            self._journal.close()
        if self.queued:
            logger.warning(
                "MQTT publisher stopped with %d alert(s) not delivered%s",
                self.queued,
                " (kept in the queue journal for the next start)" if self._journal is not None else "",
            )

    # ------------------------------------------------------------------ connection loop

    def _client(self) -> aiomqtt.Client:
        c = self.config
        client = aiomqtt.Client(
            c.host,
            c.port,
            protocol=self._protocol,
            username=c.username,
            password=c.password.get_secret_value() if c.password is not None else None,
            identifier=c.client_id or f"netpoll-{self.instance}",
            will=aiomqtt.Will(self.status_topic, b"offline", qos=1, retain=True),
            keepalive=self.keepalive_s,
            timeout=self.publish_timeout,
            tls_context=self._tls_context,
            logger=logging.getLogger("netpoll.outputs.mqtt.paho"),
        )
        self._results = track_publish_results(client)
        return client

    def _fall_back(self, exc: aiomqtt.MqttError) -> bool:
        """Whether a failed MQTT 5 connect means the broker only speaks 3.1.1 (then use that from now on)."""
        code = getattr(exc, "rc", None)
        value = getattr(code, "value", code)
        # CONNACK 0x84 "Unsupported protocol version" (MQTT 5), or 1 "unacceptable protocol version" (3.1.1)
        if (
            self.config.protocol != "auto"
            or self._protocol != aiomqtt.ProtocolVersion.V5
            or value not in (1, 132)
        ):
            return False
        self._protocol = aiomqtt.ProtocolVersion.V311
        logger.warning(
            "MQTT broker %s:%d does not speak MQTT 5: using 3.1.1, where publishes the broker refuses"
            " (ACL) look delivered",
            self.config.host,
            self.config.port,
        )
        return True

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: bytes, retain: bool) -> bool:
        """Publish one message (QoS 1); False when the broker refused it (MQTT 5 PUBACK reason code)."""
        await client.publish(topic, payload, qos=1, retain=retain, timeout=self.publish_timeout)
        refused = self._results.take_last()
        if refused is None:
            return True
        if topic not in self._refused_topics:
            self._refused_topics.add(topic)
            logger.warning(
                "MQTT broker refused a publish to %s: %s (reason code %d); check its ACL and quotas (further"
                " refusals on this topic are counted, not logged)",
                topic,
                refused[1],
                refused[0],
            )
        return False

    async def _run(self) -> None:
        endpoint = f"{self.config.host}:{self.config.port}"
        while not self._abandon:
            client = self._client()
            try:
                async with client:
                    self.backoff.reset()
                    self.connects += 1
                    self._connected.set()
                    logger.info("MQTT connected to %s (%d alert(s) queued)", endpoint, self.queued)
                    await self._publish(client, self.status_topic, b"online", retain=True)
                    await self._serve(client)
                    # Clean stop: the will is not sent on a clean disconnect, so say it ourselves.
                    await self._publish(client, self.status_topic, b"offline", retain=True)
                    return
            except aiomqtt.MqttError as exc:
                self.connect_failures += 1
                if self._fall_back(exc):
                    continue
                logger.warning("MQTT broker %s: %s", endpoint, exc)
                self._after_break(exc)
            except Exception:
                # Whatever else broke, the publisher must keep trying: alerts depend on it.
                self.connect_failures += 1
                logger.exception("MQTT publisher error with broker %s", endpoint)
            finally:
                self._connected.clear()
                self._close_orphan_socket(client)
            if self._stopping and (self._abandon or not self.queued):
                return
            delay = self.backoff.next_delay()
            logger.info(
                "MQTT reconnecting to %s in %.2f s (attempt %d)", endpoint, delay, self.backoff.attempt
            )
            # A plain sleep, also once stopping: the drain retries at the same pace, and __aexit__ bounds
            # it (waking up early here is what once made the drain a tight reconnect loop).
            await asyncio.sleep(delay)

    def _close_orphan_socket(self, client: aiomqtt.Client) -> None:
        context = self._tls_context
        if not isinstance(context, _TlsContext):
            return
        sock = context.take_socket()
        # The paho client inside aiomqtt owns the socket once the handshake succeeded (and closes it then);
        # a socket it does not hold is one whose handshake failed.
        if sock is not None and paho_socket(client) is not sock:
            sock.close()

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Send the queue until stopping and empty; raises MqttError when the connection breaks."""
        sender = asyncio.ensure_future(self._send_loop(client))
        watcher = asyncio.ensure_future(self._watch(client))
        try:
            await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, watcher):
                task.cancel()
            results = await asyncio.gather(sender, watcher, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
        if not sender.cancelled() and sender.exception() is None:
            return
        raise aiomqtt.MqttError("connection lost")

    @staticmethod
    async def _watch(client: aiomqtt.Client) -> None:
        # The message iterator raises MqttError as soon as the connection drops: that is how a broken
        # connection is noticed even while no publish is waiting for its PUBACK.
        async for _message in client.messages:
            pass

    def _after_break(self, exc: BaseException) -> None:
        """A connection broke: count it against the alert in flight; set that aside after MAX_ATTEMPTS.

        A broker outage breaks the connection too, but then the next connect fails and nothing is sent: only
        connections that came up, sent the status message and then broke with this alert in flight count.
        """
        alert_id, self._sending = self._sending, None
        if alert_id is None or not self._queue or self._queue[0].alert_id != alert_id:
            return
        failures = self._failures[alert_id] = self._failures.get(alert_id, 0) + 1
        if failures >= MAX_ATTEMPTS:
            self._set_aside(self._queue.popleft(), exc)

    def _set_aside(self, item: Outgoing, exc: BaseException) -> None:
        """Give up on an alert for good: logged once, counted as refused, journaled as such, never resent."""
        self._failures.pop(item.alert_id, None)
        self.refused += 1
        topics = ", ".join(for_terminal(topic, 120) for topic, _, _ in item.messages)
        logger.error(
            "MQTT alert %s set aside, not sent again: %s (topics %s)",
            item.alert_id,
            for_terminal(str(exc) or type(exc).__name__),
            topics,
        )
        if self._journal is not None:
            self._journal.refused(item.alert_id)

    async def _send_loop(self, client: aiomqtt.Client) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            item = self._inflight = self._queue.popleft()
            self._sending = item.alert_id
            delivered = True
            try:
                for topic, payload, retain in item.messages:
                    delivered = await self._publish(client, topic, payload, retain) and delivered
            except (aiomqtt.MqttError, asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                # Not acknowledged: it goes out again first, after the reconnect (``_after_break`` sets it
                # aside if connections keep breaking on it).
                self._queue.appendleft(item)
                raise
            except Exception as exc:  # paho refused it before sending (a topic too long, ...): never sendable
                self._set_aside(item, exc)
                continue
            finally:
                self._inflight = None
            self._sending = None
            self._failures.pop(item.alert_id, None)
            # Refused: not retried, the broker would refuse it again; counted apart from the published.
            if delivered:
                self.published += 1
            else:
                self.refused += 1
            if self._journal is not None:
                self._journal.removed(item.alert_id, queue_empty=not self._queue)
            logger.debug("MQTT published alert %s", item.alert_id)
