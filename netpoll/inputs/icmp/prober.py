"""ICMP echo probing of thousands of targets over one shared socket per address family.

Why not icmplib's ``async_multiping``: it opens one socket per target in flight, and the kernel copies every
ICMP packet of the host to every raw socket, so CPU grows with targets squared and replies get dropped at
scale. Here one socket per family carries every probe: an unprivileged ICMP datagram socket when the process's
group is inside ``net.ipv4.ping_group_range`` (the kernel then delivers only our replies), else one raw socket
(root or CAP_NET_RAW) with a kernel-side ICMP type filter, replies matched by identifier and sequence. icmplib
builds and parses the packets; this module owns the sockets on the asyncio loop (``loop.add_reader``).

RTTs come from the kernel's receive timestamp (SO_TIMESTAMPNS) minus a send timestamp taken just before
``sendto``, so a busy event loop does not inflate latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ipaddress
import logging
import os
import socket
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPSocketError, SocketPermissionError

from netpoll.devicelog import device_log
from netpoll.errors import IcmpError
from netpoll.inputs.icmp.channel import FAMILY_NAMES, Channel, ProbeState, SocketKind
from netpoll.inputs.icmp.pacing import SendPacer
from netpoll.inputs.icmp.stats import EchoStats, ResultCode, ping_sample, summarize
from netpoll.inventory.models import Device, PingSettings
from netpoll.measurements import PING_NO_SUCH_HOST as NO_SUCH_HOST
from netpoll.probe import Budget, ProbeResult, add_queue_time
from netpoll.sample import Sample

logger = logging.getLogger("netpoll.icmp")

SocketMode = Literal["auto", "dgram", "raw"]
_HOST_DOWN = frozenset({errno.EHOSTUNREACH, errno.EHOSTDOWN})
# Threads for name lookups. Their own pool, not the loop's default executor: a lookup that hangs in the
# resolver holds its thread well past our timeout, and must not hold up the outputs' to_thread work.
_DNS_THREADS = 4


@dataclass(frozen=True, slots=True)
class EchoResult:
    """The outcome of probing one address: statistics plus what was probed."""

    stats: EchoStats
    rtts_ms: tuple[float, ...]  # replies in the order the requests were sent
    address: str  # as given (name or IP)
    ip: str | None  # what it resolved to; None when it did not
    error: str | None  # why the probe could not run, for result code 2
    time_ns: int  # wall clock when the probe started

    def sample(self, *, device: str, tags: Mapping[str, str] | None = None) -> Sample:
        """The ``ping`` record for this result."""
        return ping_sample(
            self.stats,
            device=device,
            url=self.address,
            tags=tags or {},
            time_ns=self.time_ns,
            error=self.error,
        )


def _ping_group_range() -> str:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as handle:
            return " ".join(handle.read().split())
    except OSError:
        return "unknown"


def privilege_error(reasons: list[str]) -> IcmpError:
    """The one error for a process that may open neither kind of ICMP socket, naming both fixes."""
    python = os.path.realpath(sys.executable)
    return IcmpError(
        "cannot open an ICMP socket ("
        + "; ".join(reasons)
        + "). Either allow unprivileged ICMP datagram sockets for this process's group "
        + f"(gid {os.getgid()}; net.ipv4.ping_group_range is now {_ping_group_range()!r}): "
        + 'sysctl -w net.ipv4.ping_group_range="0 2147483647"; or grant raw sockets: run as root or with '
        + f"CAP_NET_RAW (setcap cap_net_raw+ep {python}, "
        + "or AmbientCapabilities=CAP_NET_RAW in the systemd unit)"
    )


class IcmpProber:
    """Probes any number of targets concurrently over one ICMP socket per address family.

    Use as ``async with IcmpProber() as prober:``; ``run(device, budget)`` and ``probe_stats(...)`` may be
    called from many tasks at once. Opening raises :class:`IcmpError` when the process may open neither a
    datagram nor a raw ICMP socket.

    Args:
        mode: ``auto`` (datagram socket if allowed, else raw), ``dgram`` or ``raw``.
        resolve_timeout: seconds a DNS name may take to resolve (once per probe).
        burst: most echo requests sent per event-loop iteration, so replies are read between bursts.
        rcvbuf: receive buffer asked for each socket, bytes.
    """

    def __init__(
        self,
        *,
        mode: SocketMode = "auto",
        resolve_timeout: float = 2.0,
        burst: int = 128,
        rcvbuf: int = 8 * 1024 * 1024,
    ) -> None:
        self._mode = mode
        self._resolve_timeout = resolve_timeout
        self._rcvbuf = rcvbuf
        self._channels: dict[int, Channel] = {}
        self._unavailable: dict[int, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pacer = SendPacer(burst)
        self._dns: ThreadPoolExecutor | None = None  # made on the first name to resolve

    @property
    def socket_kinds(self) -> dict[str, str]:
        """Which socket each address family uses, e.g. ``{"IPv4": "raw", "IPv6": "raw"}``."""
        return {FAMILY_NAMES[family]: channel.kind for family, channel in self._channels.items()}

    async def __aenter__(self) -> IcmpProber:
        if self._loop is not None:
            raise RuntimeError("IcmpProber is already open; it cannot be entered twice")
        self._loop = asyncio.get_running_loop()
        permission: list[str] = []
        for family, cls in ((socket.AF_INET, ICMPv4Socket), (socket.AF_INET6, ICMPv6Socket)):
            channel = self._open(family, cls, permission)
            if channel is not None:
                self._channels[family] = channel
                self._loop.add_reader(channel.sock, channel.on_readable)
        if not self._channels:
            self._loop = None
            raise privilege_error(permission or list(self._unavailable.values()))
        if socket.AF_INET not in self._channels:
            # IPv6 alone opened: IPv4 targets would all fail; say so once instead of on every probe.
            logger.warning("ICMP for IPv4 unavailable: %s", self._unavailable.get(socket.AF_INET))
        logger.debug("ICMP sockets: %s", self.socket_kinds)
        self._pacer.open(self._loop)
        return self

    def _open(
        self, family: int, cls: type[ICMPv4Socket] | type[ICMPv6Socket], permission: list[str]
    ) -> Channel | None:
        kinds: tuple[SocketKind, ...] = ("dgram", "raw") if self._mode == "auto" else (self._mode,)
        reasons = []
        for kind in kinds:
            try:
                icmp = cls(privileged=kind == "raw")
            except SocketPermissionError:
                reason = (
                    "datagram ICMP socket not permitted"
                    if kind == "dgram"
                    else "raw ICMP socket not permitted"
                )
                if reason not in permission:
                    permission.append(reason)
                reasons.append(reason)
                continue
            except ICMPSocketError as exc:  # e.g. IPv6 disabled in this kernel or namespace
                reasons.append(f"{kind} {FAMILY_NAMES[family]} ICMP socket: {exc}")
                continue
            channel = Channel(family, kind, icmp)
            try:
                channel.configure(self._rcvbuf)
            except OSError as exc:
                channel.close()
                reasons.append(f"{kind} {FAMILY_NAMES[family]} ICMP socket options: {exc}")
                continue
            return channel
        self._unavailable[family] = "; ".join(reasons)
        return None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Probes still waiting for a send slot go on and fail their send (result code 2) instead of hanging.
        self._pacer.close()
        for channel in self._channels.values():
            if self._loop is not None:
                self._loop.remove_reader(channel.sock)
            channel.close()
        self._channels.clear()
        self._loop = None
        if self._dns is not None:
            # Not waited for: a lookup stuck in the resolver ends on its own. Queued ones still run, so a
            # probe awaiting one ends as a result (no socket), not with a CancelledError.
            self._dns.shutdown(wait=False)
            self._dns = None

    # -- probing -----------------------------------------------------------------------------------------

    async def run(self, device: Device, budget: Budget) -> ProbeResult:
        """Probe one inventory device with its ping settings within ``budget``; never raises for its failure.

        The result is ``ok`` when at least one echo reply came back; its one ``ping`` sample has result code 1
        (no reply) or 2 (could not probe, cut at the deadline included) otherwise.
        """
        settings = device.ping or PingSettings()
        start = time.perf_counter()
        started_ns = time.time_ns()
        echo: EchoResult | None = None
        if budget.remaining() > 0:  # else spent before it began: not a single echo
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(budget.deadline):
                    echo = await self.probe_with(device.address, settings)
        cut = echo is None
        if echo is None:
            stats = summarize(0, (), error=True)
            echo = EchoResult(stats, (), device.address, None, budget.exceeded, started_ns)
        ok = echo.stats.result_code is ResultCode.OK
        error = None if ok else echo.error or "no echo reply"
        sample = echo.sample(device=device.name, tags=device.output_tags())
        stats = echo.stats
        no_answer = cut or stats.result_code is ResultCode.NO_REPLY or stats.received < stats.transmitted
        return ProbeResult(ok, [sample], error, time.perf_counter() - start, cut, no_answer)

    async def probe_with(self, address: str, settings: PingSettings) -> EchoResult:
        """``probe_stats`` with ping settings: count, packet interval, timeout, payload size."""
        return await self.probe_stats(
            address,
            count=settings.count,
            interval=settings.packet_interval_s,
            timeout=settings.timeout_s,
            payload_size=settings.payload_size,
        )

    async def probe_stats(
        self,
        address: str,
        *,
        count: int = 3,
        interval: float = 1.0,
        timeout: float = 1.0,
        payload_size: int = 56,
    ) -> EchoResult:
        """Send ``count`` echo requests ``interval`` seconds apart and wait ``timeout`` for each reply.

        Takes at most ``(count - 1) * interval + timeout`` seconds plus the name resolution. Never raises
        for a target failure: an unresolvable name, no route or no socket for the family is result code 2.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("IcmpProber is not open: use 'async with IcmpProber() as prober'")
        if count < 1:
            raise ValueError("count must be at least 1")
        started_ns = time.time_ns()
        resolved = await self._resolve(address)
        if isinstance(resolved, str):
            device_log(logger, address).info("ping: %s", resolved)
            return EchoResult(summarize(0, (), error=True), (), address, None, resolved, started_ns)
        channel, sockaddr = resolved
        ip = str(sockaddr[0])
        probe = ProbeState(ip.split("%", 1)[0], count, timeout)
        error: str | None = None
        start = loop.time()
        last_send = start
        try:
            for index in range(count):
                due = start + index * interval
                slot = self._pacer.slot(due)
                if slot is not None:
                    asked = loop.time()
                    try:
                        await slot
                    finally:
                        # Waiting for a send slot once the echo was due is the poller's time, not the
                        # target's (poller_queue's sum, without a context manager per echo).
                        add_queue_time(max(0.0, loop.time() - max(due, asked)))
                try:
                    channel.send(probe, index, sockaddr, payload_size)
                except BlockingIOError:
                    # Send buffer full: a local stall, not loss. Wait for room a few times, then give up.
                    if not await self._send_retry(channel, probe, index, sockaddr, payload_size):
                        error = f"send to {ip} failed: socket send buffer stayed full"
                except OSError as exc:
                    if exc.errno in _HOST_DOWN:
                        # No ARP/ND answer: the host is down, which ping(8) counts as no reply.
                        probe.transmitted += 1
                        probe.errors += 1
                    else:  # no route, network down, broadcast not allowed: the probe itself fails
                        error = f"send to {ip} failed: {exc.strerror or exc}"
                        break
                last_send = loop.time()
            probe.all_sent = True
            if probe.outstanding:
                waiter: asyncio.Future[None] = loop.create_future()
                probe.waiter = waiter
                handle = loop.call_at(last_send + timeout, _wake, waiter)
                try:
                    await waiter
                finally:
                    handle.cancel()
        finally:
            channel.forget(probe)
        rtts_ms = tuple(rtt / 1e6 for rtt in probe.rtts_ns if rtt is not None)
        stats = summarize(probe.transmitted, rtts_ms, error=error is not None, ttl=probe.ttl)
        if error is not None and stats.result_code is ResultCode.ERROR:
            device_log(logger, address).info("ping: %s", error)
        return EchoResult(stats, rtts_ms, address, ip, error, started_ns)

    @staticmethod
    async def _send_retry(
        channel: Channel, probe: ProbeState, index: int, sockaddr: tuple[Any, ...], payload_size: int
    ) -> bool:
        for _ in range(10):
            await asyncio.sleep(0.001)
            try:
                channel.send(probe, index, sockaddr, payload_size)
            except BlockingIOError:
                continue
            except OSError:
                return False
            return True
        return False

    async def _resolve(self, address: str) -> tuple[Channel, tuple[Any, ...]] | str:
        """The channel and socket address to probe ``address`` on, or why there is none."""
        assert self._loop is not None
        host = address.strip("[]")
        infos: list[tuple[int, tuple[Any, ...]]]
        if _is_ipv4(host):  # the common case, without ipaddress's parser (which costs more than an echo)
            return self._channel_for([(socket.AF_INET, (host, 0))])
        try:
            literal = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            literal = None
        if isinstance(literal, ipaddress.IPv4Address):
            infos = [(socket.AF_INET, (str(literal), 0))]
        elif literal is not None:
            # Numeric (no DNS); getaddrinfo turns a %scope into the scope id a link-local address needs.
            try:
                found = socket.getaddrinfo(
                    host, None, socket.AF_INET6, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST
                )
            except socket.gaierror as exc:
                return f"{NO_SUCH_HOST}: invalid address {address!r}: {exc.strerror}"
            infos = [(socket.AF_INET6, found[0][4])]
        else:
            if self._dns is None:
                self._dns = ThreadPoolExecutor(_DNS_THREADS, thread_name_prefix="netpoll-dns")
            lookup = functools.partial(socket.getaddrinfo, host, None, 0, socket.SOCK_DGRAM)
            try:
                async with asyncio.timeout(self._resolve_timeout):
                    found = await self._loop.run_in_executor(self._dns, lookup)
            except TimeoutError:
                return f"{NO_SUCH_HOST}: name {address!r} did not resolve within {self._resolve_timeout:g} s"
            except (socket.gaierror, UnicodeError) as exc:
                why = getattr(exc, "strerror", None) or exc
                return f"{NO_SUCH_HOST}: name {address!r} does not resolve: {why}"
            infos = [(family, sockaddr) for family, _type, _proto, _name, sockaddr in found]
        return self._channel_for(infos)

    def _channel_for(self, infos: list[tuple[int, tuple[Any, ...]]]) -> tuple[Channel, tuple[Any, ...]] | str:
        """The channel of the first address with a socket for its family, or why there is none."""
        for family, sockaddr in infos:
            channel = self._channels.get(family)
            if channel is not None:
                return channel, sockaddr
        families = sorted({FAMILY_NAMES.get(family, str(family)) for family, _ in infos})
        reasons = "; ".join(
            self._unavailable.get(family, "") for family, _ in infos if family in self._unavailable
        )
        return f"no ICMP socket for {'/'.join(families)} ({reasons or 'address family not supported'})"


def _is_ipv4(host: str) -> bool:
    """True for an IPv4 address in its one canonical form (four decimal octets, no leading zeros)."""
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        return False
    return True


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
