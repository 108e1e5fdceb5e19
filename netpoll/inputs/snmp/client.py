"""``SnmpClientPool``: one place that hands out SNMP clients and reuses their sessions.

Backends: ``pysnmp`` (reference, every v3 option), ``gufo`` (fast path, compiled core) and ``auto`` (gufo
where it supports the device's credentials, else pysnmp), chosen per device (``device.snmp.backend``) or by
the pool's default.

How many polls run at once is the caller's bound (the scheduler's, or ``netpoll poll``'s): a poll has one
request outstanding at a time, so that bound is also the number of requests in flight. gufo gives every
device its own socket while it is polled (closed after ``session_idle_s`` without a request) and needs no
more; pysnmp shares a few sockets and decodes slowly, so its engines add their own, lower bound on requests
in flight (``PysnmpEngines``).

Example::

    async with SnmpClientPool() as pool:
        client = pool.client(device)
        scalars = await client.get([(1, 3, 6, 1, 2, 1, 1, 3, 0)])
        names = await client.walk((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1))
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Literal

from netpoll.devicelog import device_log
from netpoll.inputs.snmp import backend_gufo
from netpoll.inputs.snmp.backend_common import Tally, Target
from netpoll.inputs.snmp.backend_gufo import GufoClient, IdleSessions
from netpoll.inputs.snmp.backend_pysnmp import DEFAULT_RECV_BUFFER, MAX_IN_FLIGHT, PysnmpClient, PysnmpEngines
from netpoll.inputs.snmp.types import SnmpClient
from netpoll.inventory.models import Device, SnmpBackendName, SnmpSettings

log = logging.getLogger("netpoll.snmp.client")

ConcreteBackend = Literal["pysnmp", "gufo"]
AnyClient = PysnmpClient | GufoClient


class SnmpClientPool:
    """Hands out one reusable SNMP client per device; async context manager.

    Args:
        pysnmp_max_in_flight: requests outstanding at once on the pysnmp engines (see ``PysnmpEngines``).
        backend: the default for devices whose ``snmp.backend`` is ``auto``; ``auto`` here means gufo where
            it supports the credentials, else pysnmp. ``pysnmp``/``gufo`` force that backend for every
            ``auto`` device (a device that names a backend keeps it).
        pysnmp_engines: how many SnmpEngines (each one UDP socket) pysnmp devices are spread over.
        recv_buffer: UDP receive buffer, bytes, for each pysnmp engine socket (shared by its devices).
        check_replies: check every gufo reply's BER before gufo decodes it, from the first one (one-shot
            commands: no gufo panic message at all); otherwise only a device that once sent an undecodable
            reply is checked (the daemon: healthy devices pay nothing, a hostile one causes one panic).
    """

    def __init__(
        self,
        *,
        pysnmp_max_in_flight: int = MAX_IN_FLIGHT,
        backend: SnmpBackendName = "auto",
        pysnmp_engines: int = 2,
        recv_buffer: int = DEFAULT_RECV_BUFFER,
        check_replies: bool = False,
        session_idle_s: float | None = 1.0,
    ) -> None:
        self.default_backend: SnmpBackendName = backend
        self._engines = PysnmpEngines(pysnmp_engines, recv_buffer, pysnmp_max_in_flight)
        self._clients: dict[str, tuple[Target, ConcreteBackend, AnyClient]] = {}
        self._tally = Tally()
        self._closed = False
        self._check_replies = check_replies
        self._idle = IdleSessions(session_idle_s) if session_idle_s is not None else None

    @property
    def requests(self) -> int:
        """SNMP PDUs the pool's clients have sent (gufo counts retries; pysnmp retries inside the library)."""
        return self._tally.requests

    async def __aenter__(self) -> SnmpClientPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def backend_for(self, settings: SnmpSettings) -> ConcreteBackend:
        """The backend that polls a device with these settings."""
        return self._choose(settings)[0]

    def _choose(self, settings: SnmpSettings) -> tuple[ConcreteBackend, str | None]:
        """The backend, and why gufo was asked for but cannot serve these settings (else None)."""
        wanted = settings.backend if settings.backend != "auto" else self.default_backend
        if wanted == "pysnmp":
            return "pysnmp", None
        reason = backend_gufo.supports(settings)
        if reason is None:
            return "gufo", None
        return "pysnmp", reason if wanted == "gufo" else None

    def client(self, device: Device) -> SnmpClient:
        """The client for an inventory device (reused across polls; rebuilt if its SNMP settings changed).

        Raises:
            ValueError: the device has SNMP disabled.
        """
        if device.snmp is None:
            raise ValueError(f"{device.name}: SNMP is not enabled for this device")
        cached = self._clients.get(device.name)
        if (
            cached is not None
            and cached[0].settings is device.snmp
            and cached[0].address == device.address
            and not self._closed
        ):
            return cached[2]  # the same settings object: no need to compare field by field (every poll)
        return self._get(device.name, Target(device.name, device.address, device.snmp))

    def client_for(self, address: str, port: int | None, settings: SnmpSettings) -> SnmpClient:
        """A client for an ad-hoc agent (``netpoll poll host:port --community ...``), reused per target."""
        if port is not None and port != settings.port:
            settings = settings.model_copy(update={"port": port})
        label = f"[{address}]:{settings.port}" if ":" in address else f"{address}:{settings.port}"
        return self._get(f"adhoc {label}", Target(label, address, settings))

    def _get(self, key: str, target: Target) -> AnyClient:
        if self._closed:
            raise RuntimeError("SnmpClientPool is closed")
        cached = self._clients.get(key)
        if cached is not None:
            if cached[0] == target:
                return cached[2]
            cached[2].release()  # settings changed: the old session's socket goes now, not at shutdown
        backend, refused = self._choose(target.settings)
        if refused:
            device_log(log, target.label).warning("gufo backend asked for, but %s: using pysnmp", refused)
        client: AnyClient
        if backend == "gufo":
            client = GufoClient(
                target,
                self._tally,
                check_replies=self._check_replies,
                large_replies=lambda: PysnmpClient(target, self._engines, self._tally),
                idle=self._idle,
            )
        else:
            client = PysnmpClient(target, self._engines, self._tally)
        self._clients[key] = (target, backend, client)
        return client

    async def forget(self, name: str) -> None:
        """Drop a device's client (device removed from the inventory)."""
        cached = self._clients.pop(name, None)
        if cached is not None:
            await cached[2].aclose()

    async def aclose(self) -> None:
        """Close every client and the pysnmp engines."""
        if self._closed:
            return
        self._closed = True
        if self._idle is not None:
            self._idle.stop()
        for _, _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        self._engines.close()
