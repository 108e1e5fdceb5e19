"""The daemon's trap intake: the receiver's notifications into the pipeline.

Each accepted notification becomes a ``trap`` record (to the output and through the alert engine, whose
trap rules may match it), an MQTT event on ``<prefix>/events/<device>/<trap>`` (not retained, unique
``id``), and for linkDown/linkUp an immediate SNMP poll of the device: the ``interface`` record of that poll
raises ``interface_down`` (the shipped rule), so a link that goes down makes one alert, not one from the
trap and one from the poll. A coldStart or warmStart is noted in ``netpoll.restarts`` (the reboot the next
poll sees was announced, not unexpected). An authentication failure (wrong community, v3 user or key)
becomes a ``trap_auth`` record for that device, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from netpoll.config import TrapsConfig
from netpoll.devicelog import device_log
from netpoll.inputs.traps.names import STANDARD_NAMES, TrapNames
from netpoll.inputs.traps.receiver import TrapReceiver, TrapStats
from netpoll.inputs.traps.record import Trap
from netpoll.inputs.traps.sources import Sources
from netpoll.inputs.traps.usm import engine_id_for
from netpoll.inventory.models import Device
from netpoll.measurements import TRAP_AUTH
from netpoll.restarts import RESTART_TRAPS, RestartNotices
from netpoll.sample import Sample

log = logging.getLogger("netpoll.traps")

# Notifications that make an immediate interface poll of their device.
LINK_TRAPS = frozenset({"linkDown", "linkUp"})


class TrapIntake:
    """Async context manager: listens for traps and feeds them into the daemon's pipeline.

    Args:
        config: the ``traps`` section.
        devices: the inventory's devices (senders are matched against the enabled ones).
        emit: the daemon's pipeline (output and alert engine).
        publish_event: ``MqttPublisher.publish_event``; None without MQTT.
        poll_now: polls one device by name outside its schedule; False when it is not polled here.
        if_name: the ifName of (device name, ifIndex) from the poller's labels.
        restarts: told of every coldStart/warmStart, so the poller does not take that reboot for an
            unexpected one (``netpoll.restarts``).
        instance: the daemon's instance name: the receiver's SNMP engine ID is derived from it unless
            ``config.engine_id`` sets one.
        names: notification names: the standard ones and the profiles' ``traps:`` sections.
    """

    def __init__(
        self,
        config: TrapsConfig,
        devices: Iterable[Device],
        *,
        emit: Callable[[list[Sample]], None],
        publish_event: Callable[[str, str, str, dict[str, Any]], None] | None = None,
        poll_now: Callable[[str], bool] | None = None,
        if_name: Callable[[str, int], str] | None = None,
        restarts: RestartNotices | None = None,
        instance: str = "",
        names: TrapNames = STANDARD_NAMES,
    ) -> None:
        self.config = config
        self._emit = emit
        self._publish_event = publish_event
        self._poll_now = poll_now if config.poll_on_link_change else None
        self._if_name = if_name
        self._restarts = restarts
        self._auth_failures: Counter[str] = Counter()
        self.receiver = TrapReceiver(
            config.addresses,
            _sources(devices),
            queue_size=config.queue_size,
            rate_per_source=config.rate_per_source,
            log=log,
            on_auth_failure=self._auth_failure,
            engine_id=bytes.fromhex(config.engine_id) if config.engine_id else engine_id_for(instance),
            names=names,
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def stats(self) -> TrapStats:
        """The receiver's counts (the kernel's drops read now)."""
        self.receiver.refresh_kernel_drops()
        return self.receiver.stats

    def set_devices(self, devices: Iterable[Device]) -> None:
        """A reloaded inventory: match senders against these devices from now on."""
        self.receiver.sources = _sources(devices)
        self.receiver.prepare_v3()

    async def __aenter__(self) -> TrapIntake:
        await self.receiver.__aenter__()
        # Notifications queue meanwhile; an inform's sender retries if this takes long.
        await asyncio.to_thread(self.receiver.prepare_v3)
        bound = ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.receiver.addresses)
        log.info("traps: listening on %s (SNMP engine ID 0x%s)", bound, self.receiver.engine_id.hex())
        self._task = asyncio.create_task(self._consume(), name="netpoll-traps")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.receiver.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _consume(self) -> None:
        async for trap in self.receiver:
            try:
                self.handle(trap)
            except Exception:  # one bad notification must not stop the intake
                log.exception("traps: handling a notification from %s failed", trap.source)

    def handle(self, trap: Trap) -> None:
        """One accepted notification into the pipeline (see the module docstring)."""
        device = trap.device
        if trap.name in LINK_TRAPS and device is not None and self._if_name is not None:
            index = trap.if_index()
            if index is not None:
                trap = dataclasses.replace(trap, if_name=self._if_name(device.name, index))
        if trap.name in RESTART_TRAPS and device is not None and self._restarts is not None:
            self._restarts.note(device.name, trap.time_ns)
        self._emit([trap.to_sample()])
        if self._publish_event is not None:
            self._publish_event(trap.id, trap.device_name, trap.name, trap.to_event())
        if trap.name not in LINK_TRAPS or device is None or self._poll_now is None:
            return
        if self._poll_now(device.name):
            device_log(log, device.name).info("traps: %s: polling the device now", trap.name)

    def _auth_failure(self, device: Device, source: str, reason: str) -> None:
        self._auth_failures[device.name] += 1
        tags = device.output_tags()
        tags["agent_host"] = source
        tags["reason"] = reason
        fields = {"failures": self._auth_failures[device.name]}
        self._emit([Sample(TRAP_AUTH.name, tags, fields, time.time_ns())])


def _sources(devices: Iterable[Device]) -> Sources:
    return Sources(device for device in devices if device.enabled)
