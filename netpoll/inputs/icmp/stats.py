"""Echo statistics and the Telegraf-compatible ``ping`` record: pure functions, no I/O."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from netpoll.measurements import PING
from netpoll.sample import FieldValue, Sample


class ResultCode(IntEnum):
    """Telegraf's ``result_code``: what the probe as a whole came to."""

    OK = 0  # at least one echo reply
    NO_REPLY = (
        1  # echoes sent, none answered in time (ICMP errors from routers count as no reply, like ping(8))
    )
    ERROR = 2  # could not probe: name did not resolve, no route, no socket for the address family


@dataclass(frozen=True, slots=True)
class EchoStats:
    """The summary of one probe of one target.

    RTT figures are milliseconds and None when nothing came back; ``jitter_ms`` also needs two replies.
    ``ttl`` is the IP TTL (IPv6 hop limit) of the first reply, None without one.
    """

    transmitted: int
    received: int
    loss_pct: float
    min_ms: float | None
    avg_ms: float | None
    max_ms: float | None
    stddev_ms: float | None
    jitter_ms: float | None
    result_code: ResultCode
    ttl: int | None = None

    @property
    def reachable(self) -> bool:
        """True when at least one echo reply came back."""
        return self.received > 0

    def fields(self) -> dict[str, FieldValue]:
        """The ``ping`` fields, Telegraf names and types; RTT fields only where measured."""
        fields: dict[str, FieldValue] = {
            "packets_transmitted": self.transmitted,
            "packets_received": self.received,
            "percent_packet_loss": self.loss_pct,
        }
        for name, value in (
            ("minimum_response_ms", self.min_ms),
            ("average_response_ms", self.avg_ms),
            ("maximum_response_ms", self.max_ms),
            ("standard_deviation_ms", self.stddev_ms),
            ("jitter_ms", self.jitter_ms),
        ):
            if value is not None:
                fields[name] = value
        if self.ttl is not None and self.received:
            fields["ttl"] = self.ttl
        fields["result_code"] = int(self.result_code)
        fields["reachable"] = int(self.reachable)
        return fields


def jitter(rtts_ms: Sequence[float]) -> float | None:
    """Mean absolute difference of consecutive RTTs (RFC 3550's intent), None with fewer than two."""
    if len(rtts_ms) < 2:
        return None
    return sum(abs(b - a) for a, b in itertools.pairwise(rtts_ms)) / (len(rtts_ms) - 1)


def summarize(
    transmitted: int, rtts_ms: Sequence[float], *, error: bool = False, ttl: int | None = None
) -> EchoStats:
    """Summarize one probe.

    Args:
        transmitted: echo requests the kernel accepted.
        rtts_ms: RTTs of the replies that came back in time, in the order the requests were sent
            (that order is what jitter is measured over).
        error: the probe could not run properly (unresolvable name, no route, send failure); it decides the
            result code only when no reply came back.
        ttl: the TTL (hop limit) of the first reply, when the socket reported it.
    """
    received = len(rtts_ms)
    loss = 100.0 if transmitted == 0 else round(100.0 * (transmitted - received) / transmitted, 6)
    if received:
        code = ResultCode.OK
    elif error or transmitted == 0:
        code = ResultCode.ERROR
    else:
        code = ResultCode.NO_REPLY
    if not received:
        return EchoStats(transmitted, 0, loss, None, None, None, None, None, code)
    avg = sum(rtts_ms) / received
    # Population standard deviation, as ping(8) reports it ("mdev") and Telegraf stores it.
    variance = sum((rtt - avg) ** 2 for rtt in rtts_ms) / received
    return EchoStats(
        transmitted=transmitted,
        received=received,
        loss_pct=loss,
        min_ms=min(rtts_ms),
        avg_ms=avg,
        max_ms=max(rtts_ms),
        stddev_ms=math.sqrt(variance),
        jitter_ms=jitter(rtts_ms),
        result_code=code,
        ttl=ttl,
    )


def ping_sample(
    stats: EchoStats,
    *,
    device: str,
    url: str,
    tags: Mapping[str, str],
    time_ns: int,
    error: str | None = None,
) -> Sample:
    """The ``ping`` record: tags ``device``, ``url`` and the inventory tags (never ``agent_host``).

    ``error``, why the probe could not run, is written only with result code 2.
    """
    out = {key: value for key, value in tags.items() if key != "agent_host"}
    out["device"] = device
    out["url"] = url
    fields = stats.fields()
    if error and stats.result_code is ResultCode.ERROR:
        fields["error"] = error
    return Sample(measurement=PING.name, tags=out, fields=fields, time_ns=time_ns)
