"""The daemon: composes inventory, probes, scheduler, outputs and alerts with one ``AsyncExitStack``.

Pipeline (one direction)::

    scheduler ─► SnmpPoller.poll / IcmpProber.probe ─► emit(samples)
                                                        ├─► sink.write (InfluxWriter, else FileSink)
                                                        └─► AlertEngine.evaluate ─► MqttPublisher.publish
                                                                                    (else the log)

Every long-lived part is an async context manager entered in dependency order, so the exit runs in
reverse: stop scheduling, finish or cancel in-flight polls within ``shutdown_grace_s``, save state, close
the probes, drain the MQTT queue, and last flush the output (or spool what cannot be sent). Everything after
the polls shares ``shutdown_flush_s``: the MQTT drain gets at most half of what is left, the output the rest.
A watchdog thread ends the process should anything still run well past both (a stuck thread, a callback
that never yields). A cycle ticker emits the ``netpoll``
self-monitoring sample and prints one console line per cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from netpoll import defaults
from netpoll.configkit.secrets import SecretPolicy
from netpoll.daemon import gctune
from netpoll.daemon.http import HttpEndpoint
from netpoll.daemon.looplag import LoopLagMonitor
from netpoll.daemon.reload import InventoryWatcher
from netpoll.daemon.scheduler import CycleStats, PollScheduler
from netpoll.daemon.selfmon import SelfMonitor, SinkFigures
from netpoll.daemon.signals import ProcessSignals
from netpoll.daemon.state import StateStore
from netpoll.daemon.status import StatusBoard
from netpoll.devicelog import device_log
from netpoll.errors import IcmpError
from netpoll.inventory.models import Device, Inventory, SnmpBackendName
from netpoll.naming import Naming, renamer
from netpoll.outputs.files import FileSink
from netpoll.outputs.influxdb.writer import InfluxWriter
from netpoll.restarts import RestartNotices
from netpoll.sample import Sample
from netpoll.text import for_terminal

if TYPE_CHECKING:  # imported lazily at run time: a daemon without alerts never loads them
    from netpoll.alerts.engine import AlertEngine
    from netpoll.config import InfluxConfig, MqttConfig, TrapsConfig
    from netpoll.daemon.traps import TrapIntake
    from netpoll.inputs.icmp.prober import IcmpProber
    from netpoll.inputs.snmp.client import SnmpClientPool
    from netpoll.inputs.snmp.poller import SnmpPoller
    from netpoll.inputs.snmp.profiles import ProfileSet
    from netpoll.outputs.mqtt.publisher import MqttPublisher

log = logging.getLogger("netpoll.daemon")

# The watchdog's margin past the shutdown budget (grace + flush) before it ends the process.
WATCHDOG_MARGIN_S = 5.0


class Sink(Protocol):
    """What the daemon needs of an output (InfluxWriter and FileSink both fit)."""

    def write(self, samples: list[Sample] | tuple[Sample, ...]) -> None: ...

    @property
    def queue_size(self) -> int: ...

    @property
    def spool_bytes(self) -> int: ...

    @property
    def points_written(self) -> int: ...

    @property
    def last_write_latency_ms(self) -> float: ...

    @property
    def points_dropped(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Everything a ``Daemon`` needs, already resolved from the configuration and the command line."""

    inventories: tuple[Path, ...]
    data_dir: Path
    state_dir: Path
    influx: InfluxConfig | None = None  # None: line-protocol files in data_dir
    mqtt: MqttConfig | None = None  # None: alerts go to the log only
    traps: TrapsConfig | None = None  # None (or not enabled): no trap receiver
    alerts: bool = True
    alert_rules: Path | None = None
    profiles_dir: Path | None = None
    secret_policy: SecretPolicy | None = None  # None: the defaults of the configuration's inventory_secrets
    snmp_concurrency: int = defaults.MAX_CONCURRENT_SNMP
    snmp_backend: SnmpBackendName = "auto"  # the default for devices whose snmp.backend is auto
    icmp_concurrency: int = defaults.MAX_CONCURRENT_ICMP
    deadline_fraction: float = defaults.DEADLINE_FRACTION
    shutdown_grace_s: float = defaults.SHUTDOWN_GRACE_S
    shutdown_flush_s: float = defaults.SHUTDOWN_FLUSH_S
    http_host: str = defaults.HTTP_HOST
    http_port: int | None = None  # None: no HTTP endpoint (http.listen is off by default)
    shard: tuple[int, int] | None = None
    instance: str = field(default_factory=socket.gethostname)
    cycles: int | None = None
    cycle_s: float | None = None  # None: the shortest device interval
    state_save_s: float = 60.0
    reload_poll_s: float = defaults.RELOAD_POLL_S
    console: bool = True
    file_max_bytes: int = defaults.FILE_MAX_BYTES
    file_rotate_s: float = defaults.FILE_ROTATE_S
    naming: Naming = "netpoll"  # telegraf: Telegraf's tags and fields beside netpoll's in the output


def _identity(device: Device) -> tuple[Any, ...]:
    """What makes counter state reusable: same agent, same credentials."""
    snmp = device.snmp
    return (device.address, snmp.port if snmp else None, snmp.credentials if snmp else None)


class Daemon:
    """One run of the daemon.

    Args:
        settings: resolved settings.
        loader: the inventory loader, injectable for tests; None: ``load_inventory`` checking profile
            references against the profiles this daemon loaded, at start and on every reload alike.
        signals: the process's signal handlers, installed by ``netpoll run`` before anything else; None:
            a daemon that receives no signals (tests stop it with ``stop_event``). Only a daemon given them
            owns its process, so only it arms the shutdown watchdog that may end the process.
    """

    def __init__(
        self,
        settings: RunSettings,
        loader: Callable[[Sequence[Path]], Inventory] | None = None,
        signals: ProcessSignals | None = None,
    ) -> None:
        self.settings = settings
        self.loader = loader
        self.signals = signals or ProcessSignals()
        self._owns_process = signals is not None
        self._watcher: InventoryWatcher | None = None
        self._reload_pending = False
        self.stop_event = asyncio.Event()
        self.cycle_no = 0
        self.exit_code = 0
        self._sink: Sink | None = None
        self._rename = renamer(settings.naming)
        self._engine: AlertEngine | None = None
        self._publisher: MqttPublisher | None = None
        self._poller: SnmpPoller | None = None
        # coldStart/warmStart traps by device: the trap pipeline notes them, the poller's reboot check reads
        # them (a reboot none announced is unexpected_reboot).
        self.restarts = RestartNotices()
        self._prober: IcmpProber | None = None
        self._pool: SnmpClientPool | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._scheduler: PollScheduler | None = None
        self._monitor = SelfMonitor(
            settings.instance, f"{settings.shard[0]}/{settings.shard[1]}" if settings.shard else "0/1"
        )
        self.board = StatusBoard()
        self._monitor.live.board = self.board
        self.http_url: str | None = None
        self._store = StateStore(settings.state_dir)
        self._console: Any = None
        self._fast_stop = False
        self._loop_lag = LoopLagMonitor()
        # Loop time the stop was asked for (the signal's arrival): the grace and the budget count from it.
        self._stop_began: float | None = None
        self._watchdog = False  # armed at the first stop once run() runs with the process's signals
        self._traps: TrapIntake | None = None
        self._profiles: ProfileSet | None = None  # the last profiles a (re)load read

    # ---- devices ----

    def _load(self, paths: Sequence[Path]) -> Inventory:
        """Profiles (the shipped ones and ``profiles_dir``), then the inventory checked against them.

        What a reload (SIGHUP, a changed file) runs: an edited profile is picked up with the inventory, and
        a broken one is rejected like a broken inventory (the running ones are kept).
        """
        from netpoll.inputs.snmp.profiles import load_profiles
        from netpoll.inventory.loader import load_inventory

        s = self.settings
        profiles = load_profiles(user_dir=s.profiles_dir)
        inventory = load_inventory(paths, profiles=profiles.profiles, secret_policy=s.secret_policy)
        self._profiles = profiles
        return inventory

    def _select(self, inventory: Inventory) -> list[Device]:
        devices = [device for device in inventory.devices if device.enabled]
        if self.settings.shard is not None:
            from netpoll.sharding import shard_devices

            index, count = self.settings.shard
            devices = list(shard_devices(devices, index, count))
        return devices

    def apply_inventory(self, inventory: Inventory) -> None:
        """Schedule a (re)loaded inventory; counter state of unchanged devices is kept."""
        assert self._scheduler is not None
        if self._poller is not None and self._profiles is not None:
            self._poller.set_profiles(self._profiles)
        before = self._scheduler.devices
        added, removed, changed = self._scheduler.set_devices(self._select(inventory))
        self.board.set_inventory(inventory.devices, self._scheduler.devices)
        if self._traps is not None:
            self._traps.set_devices(inventory.devices)
        for name in removed:
            self._forget(name)
            self._release_snmp_client(name)
        for name in changed:
            if _identity(before[name]) != _identity(self._scheduler.devices[name]):
                self._forget(name)
        if added or removed or changed:
            log.info(
                "inventory: %d devices scheduled (%d added, %d removed, %d changed)",
                len(self._scheduler.devices),
                len(added),
                len(removed),
                len(changed),
            )
            for name in added:
                device_log(log, name).info("inventory: added")
            for name in removed:
                device_log(log, name).info("inventory: removed")
            for name in changed:
                device_log(log, name).info("inventory: changed")

    def _forget(self, name: str) -> None:
        self.restarts.forget(name)
        if self._poller is not None:
            self._poller.forget(name)
        if self._engine is not None:
            self._engine.forget(name)

    def _release_snmp_client(self, name: str) -> None:
        # The pool keeps a session (a UDP socket) per device: close a removed device's once its last poll
        # is over (closing it under a running poll would turn that poll into a timeout).
        if self._pool is None or self._scheduler is None:
            return
        pool, scheduler = self._pool, self._scheduler

        async def release() -> None:
            await scheduler.wait_idle("snmp", name)
            if name not in scheduler.devices:  # not re-added meanwhile
                await pool.forget(name)

        task = asyncio.create_task(release(), name=f"release-snmp-{name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _cancel_background(self) -> None:
        for task in self._background:
            task.cancel()
        if self._background:
            await asyncio.wait(self._background)

    # ---- pipeline ----

    def emit(self, samples: list[Sample]) -> None:
        """The hot path: samples to the sink, and through the alert engine."""
        assert self._sink is not None
        self._sink.write(samples if self._rename is None else self._rename(samples))
        if self._engine is None:
            return
        try:
            alerts = self._engine.evaluate(samples)
        except Exception:
            log.exception("alert evaluation failed")
            return
        if alerts:
            for alert in alerts:
                self.board.alert(alert)
            self._sink.write([alert.to_sample() for alert in alerts])
            if self._publisher is not None:
                for alert in alerts:
                    self._publisher.publish(alert)

    # ---- run ----

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or ``cycles`` cycles); returns the exit code."""
        # From here to the end signals reach _on_signal; those that came earlier are replayed now.
        self.signals.listen(asyncio.get_running_loop(), self._on_signal)
        self._watchdog = self._owns_process
        if self._owns_process:
            gctune.tune()
        try:
            return await self._run()
        finally:
            self.signals.stop_listening()

    async def _run(self) -> int:
        s = self.settings
        from netpoll.inputs.snmp.profiles import load_profiles

        if self.loader is None:
            self.loader = self._load
        loader = self.loader
        inventory = await asyncio.to_thread(loader, s.inventories)
        # The profiles the daemon's own loader read with the inventory; an injected loader reads none.
        profiles = self._profiles
        if profiles is None:
            profiles = await asyncio.to_thread(load_profiles, None, s.profiles_dir)
        devices = self._select(inventory)
        log.info(
            "netpoll starting: %d devices from %s%s",
            len(devices),
            ", ".join(str(p) for p in s.inventories),
            f", shard {s.shard[0]}/{s.shard[1]}" if s.shard else "",
        )
        async with AsyncExitStack() as stack:
            # Entered next, so it is closed last: everything polled until the end gets flushed or spooled.
            self._sink = await stack.enter_async_context(self._make_sink())
            stack.callback(self._budget_sink)  # runs just before the sink's exit
            await self._open_alerts(stack, profiles)
            await self._open_probes(stack, profiles)
            await stack.enter_async_context(self._loop_lag)
            self._scheduler = PollScheduler(
                self.emit,
                snmp_poll=self._poller.run if self._poller is not None else None,
                ping_probe=self._prober.run if self._prober is not None else None,
                snmp_concurrency=s.snmp_concurrency,
                icmp_concurrency=s.icmp_concurrency,
                deadline_fraction=s.deadline_fraction,
                observer=self.board,
                stalled=self._loop_lag.stalled_s,
                behind=self._loop_lag.behind_s,
            )
            self._monitor.live.totals = lambda: self._scheduler.totals if self._scheduler else CycleStats()
            self._monitor.live.in_flight = lambda: self._scheduler.in_flight if self._scheduler else 0
            if self._publisher is not None:
                self._monitor.live.mqtt = self._publisher.stats
            stack.push_async_callback(self._save_state_at_exit)
            if s.http_port is not None:
                endpoint = HttpEndpoint(self._monitor, s.http_host, s.http_port, board=self.board)
                await stack.enter_async_context(endpoint)
                self.http_url = endpoint.url
                if s.console:
                    print(f"status page: {endpoint.url}  metrics: {endpoint.url}metrics", flush=True)
            watcher = InventoryWatcher(s.inventories, loader, self.apply_inventory, s.reload_poll_s)
            watcher.watch_files(inventory.files)
            if s.profiles_dir is not None:
                watcher.watch_also([s.profiles_dir])  # an edited profile reloads like an edited inventory
            await stack.enter_async_context(watcher)
            self._watcher = watcher
            stack.callback(setattr, self, "_watcher", None)
            if self._reload_pending:  # a SIGHUP during start-up: the inventory may have changed since
                watcher.trigger("SIGHUP during start-up")
            self._scheduler.set_devices(devices)
            self.board.set_inventory(inventory.devices, self._scheduler.devices)
            if self._owns_process:
                gctune.freeze_startup()
            self._scheduler.start()
            stack.push_async_callback(self._stop_scheduler)
            if s.traps is not None and s.traps.enabled:
                from netpoll.daemon.traps import TrapIntake
                from netpoll.inputs.traps.catalog import load_trap_names
                from netpoll.inputs.traps.receiver import TrapStats

                names = await asyncio.to_thread(load_trap_names, s.profiles_dir)
                self._traps = TrapIntake(
                    s.traps,
                    inventory.devices,
                    emit=self.emit,
                    publish_event=self._publisher.publish_event if self._publisher is not None else None,
                    poll_now=functools.partial(self._scheduler.poll_now, "snmp"),
                    if_name=self._poller.if_name if self._poller is not None else None,
                    restarts=self.restarts,
                    instance=s.instance,
                    names=names,
                )
                await stack.enter_async_context(self._traps)
                stack.callback(setattr, self, "_traps", None)
                self._monitor.live.traps = lambda: self._traps.stats if self._traps else TrapStats()
            self._monitor.running = True
            await self._main_loop()
        return self.exit_code

    def _make_sink(self) -> InfluxWriter | FileSink:
        s = self.settings
        if s.naming != "netpoll":
            log.info("output naming: %s (its tags and fields beside netpoll's: docs/telegraf.md)", s.naming)
        if s.influx is not None:
            spool_dir = s.state_dir / "spool"
            log.info("output: InfluxDB %s (api %s, spool %s)", s.influx.url, s.influx.api, spool_dir)
            return InfluxWriter(s.influx, spool_dir)
        log.info("output: line-protocol files in %s", s.data_dir)
        return FileSink(s.data_dir, max_bytes=s.file_max_bytes, rotate_s=s.file_rotate_s)

    async def _open_alerts(self, stack: AsyncExitStack, profiles: ProfileSet) -> None:
        s = self.settings
        if not s.alerts:
            return
        from netpoll.alerts.engine import AlertEngine
        from netpoll.alerts.rules import load_rules

        # A rule may watch any field the loaded profiles compute, beyond those netpoll.measurements declares.
        model = profiles.model()
        rules = load_rules(s.alert_rules, model)
        self._engine = AlertEngine(rules, state_path=self._store.alerts_path, model=model)
        self._engine.snapshots_in_steps = True  # written by _save_state, in steps: never a stall in a poll
        if s.mqtt is not None:
            from netpoll.outputs.mqtt.publisher import MqttPublisher

            # The queue journal keeps alerts the broker has not acknowledged across a stop or a SIGKILL.
            self._publisher = await stack.enter_async_context(
                MqttPublisher(s.mqtt, queue_path=s.state_dir / "mqtt-queue.jsonl")
            )
            stack.callback(self._budget_publisher)  # runs just before the publisher's exit
        else:
            log.info("alerts: no MQTT broker configured; alerts go to the log")

    async def _open_probes(self, stack: AsyncExitStack, profiles: ProfileSet) -> None:
        from netpoll.inputs.icmp.prober import IcmpProber
        from netpoll.inputs.snmp.client import SnmpClientPool
        from netpoll.inputs.snmp.poller import SnmpPoller

        s = self.settings
        pool = await stack.enter_async_context(SnmpClientPool(backend=s.snmp_backend))
        self._pool = pool
        stack.push_async_callback(self._cancel_background)  # before the pool closes
        self._poller = SnmpPoller(pool, profiles, restarts=self.restarts)
        saved = self._store.load_counters()
        if saved:
            self._poller.import_state(saved)
            log.info("state: counter state of %d devices restored", len(saved.get("devices", saved)))
        try:
            self._prober = await stack.enter_async_context(IcmpProber())
        except IcmpError as exc:
            log.error("ping disabled: %s", exc)

    def _on_signal(self, sig: signal.Signals) -> None:
        if sig == signal.SIGHUP:
            self._on_hup()
            return
        if self.stop_event.is_set():
            log.warning("%s again: stopping without waiting for polls", sig.name)
            self._fast_stop = True
            if self._scheduler is not None:  # cuts a grace period already running
                self._scheduler.cancel_in_flight()
            return
        log.info("%s: stopping", sig.name)
        self._begin_stop()
        self.stop_event.set()

    def _begin_stop(self) -> None:
        """Start the shutdown clock (once): polls get their grace, the rest the flush budget."""
        if self._stop_began is not None:
            return
        budget = self._budget_s()
        asked = self.signals.stop_requested_at
        # How long the loop took to get here since the signal came: an overloaded loop can be seconds behind,
        # and the budget is the operator's (signal to exit), not the loop's.
        late = min(budget, max(0.0, time.monotonic() - asked)) if asked is not None else 0.0
        self._stop_began = asyncio.get_running_loop().time() - late
        if late >= 1.0:
            log.warning("the stop signal was handled %.1f s after it came: the event loop is behind", late)
        if self._watchdog:
            after = budget + WATCHDOG_MARGIN_S
            timer = threading.Timer(after - late, _overran, args=(after, asyncio.get_running_loop()))
            timer.daemon = True  # a process that exits in time never waits for it
            timer.start()

    def _budget_s(self) -> float:
        """The whole shutdown budget: the polls' grace, then the flush."""
        return self.settings.shutdown_grace_s + self.settings.shutdown_flush_s

    def _left_of(self, seconds: float) -> float:
        """Seconds left until ``seconds`` after the stop signal (starting the shutdown clock if it is not)."""
        if self._stop_began is None:
            self._begin_stop()
        assert self._stop_began is not None
        return self._stop_began + seconds - asyncio.get_running_loop().time()

    def _grace_left(self) -> float:
        """What is left of the polls' grace period, counted from the stop signal."""
        return max(0.0, self._left_of(self.settings.shutdown_grace_s))

    def _remaining(self) -> float:
        """Seconds left of the shutdown budget."""
        return self._left_of(self._budget_s())

    def _budget_publisher(self) -> None:
        # The MQTT drain may take at most half of what is left (plus the publisher's 1 s to give up), so the
        # output always keeps time to flush or spool.
        if self._publisher is not None:
            half = max(0.1, (self._remaining() - 1.0) / 2)
            self._publisher.drain_timeout = min(self._publisher.drain_timeout, half)

    def _budget_sink(self) -> None:
        if isinstance(self._sink, InfluxWriter):
            left = max(0.1, self._remaining() - 0.5)  # the spool write after the deadline takes a moment
            self._sink.shutdown_timeout_s = min(self._sink.shutdown_timeout_s, left)

    def _on_hup(self) -> None:
        # Never the default action (death): a reload while running, remembered during start-up, nothing
        # during shutdown. The watcher coalesces a storm into paced reloads.
        if self.stop_event.is_set():
            log.info("SIGHUP during shutdown: ignored")
        elif self._watcher is not None:
            self._watcher.trigger("SIGHUP")
        elif not self._reload_pending:
            self._reload_pending = True
            log.info("SIGHUP during start-up: the inventory is reloaded once the daemon runs")

    async def _stop_scheduler(self) -> None:
        assert self._scheduler is not None
        self._begin_stop()  # a stop by --cycles or an error has the same budget as one by a signal
        self._monitor.running = False
        grace = 0.0 if self._fast_stop else self._grace_left()
        await self._scheduler.stop(grace)
        if isinstance(self._sink, FileSink):  # write its last points now, so they count in this cycle
            self._sink.flush()
        # The polls that finished during the grace period are in this last cycle.
        self._end_cycle(final=True)

    async def _save_state_at_exit(self) -> None:
        # The counter state may take at most a third of what is left of the shutdown budget, the alert edges
        # a third of what is left after it: the output's flush needs the rest, and the copies saved every
        # state_save_s are at most that old (rates after the restart then span the longer gap; they stay
        # right).
        await self._save_state(
            deadline=time.monotonic() + max(0.5, self._remaining() / 3),
            alerts_deadline=lambda: time.monotonic() + max(0.5, self._remaining() / 3),
        )

    async def _save_state(
        self, deadline: float | None = None, alerts_deadline: Callable[[], float] | None = None
    ) -> None:
        # Encoded here, in the event loop, because the poller and the alert engine mutate their state from
        # it: a worker thread walking the same dicts could see them change. Only the fsync is off-loop. The
        # counter state and the alert edges are encoded in steps between which the loop runs (the counters
        # of 3,000 devices took 2.5 s in one go, the edges of 40,000 devices 2.3-3.5 s: every poll stalled
        # meanwhile).
        if self._poller is not None:
            from netpoll.inputs.snmp.poller import STATE_VERSION

            try:
                head = {"version": STATE_VERSION}
                await self._store.save_counters(head, self._poller.export_devices(), deadline=deadline)
            except TimeoutError:
                log.warning(
                    "state: the counter state was not saved at shutdown (it would have taken more than a"
                    " third of the shutdown budget); the copy saved within the last %.0f s stays",
                    self.settings.state_save_s,
                )
            except (TypeError, ValueError):
                log.exception("state: cannot encode counter state")
        if self._engine is not None:
            try:
                await self._engine.save_in_steps(alerts_deadline() if alerts_deadline is not None else None)
            except Exception:
                log.exception("state: cannot save alert state")

    def _cycle_s(self) -> float:
        if self.settings.cycle_s:
            return self.settings.cycle_s
        assert self._scheduler is not None
        intervals = [
            settings.interval_s
            for device in self._scheduler.devices.values()
            for settings in (device.snmp, device.ping)
            if settings is not None
        ]
        return min(intervals, default=defaults.INTERVAL_S)

    async def _main_loop(self) -> None:
        assert self._scheduler is not None
        next_cycle = time.monotonic() + self._cycle_s()
        next_save = time.monotonic() + self.settings.state_save_s
        # The periodic save runs beside this loop, not in it: encoded in steps between which the event loop
        # runs, it takes as many loop turns as it has steps, and a loop seconds behind makes that minutes;
        # meanwhile cycles end on time and a stop is not kept waiting (it cancels the save: the exit's own,
        # bounded, save follows).
        saving: asyncio.Task[None] | None = None
        try:
            while not self.stop_event.is_set():
                with contextlib.suppress(TimeoutError):
                    # wait_for, not asyncio.timeout: a timeout cancels this task four times a second, and
                    # at 20,000 devices that alone started 12,000-28,000 polls a cycle late (event-loop lag
                    # p99 0.6-1.2 s against 0.2 s; bench/scale.py, four runs against three). Python 3.11's
                    # wait_for, which may swallow a cancellation, is safe here: this task is never
                    # cancelled, it ends when stop_event is set.
                    await asyncio.wait_for(self.stop_event.wait(), 0.25)
                now = time.monotonic()
                if now >= next_cycle:
                    self._monitor.cycle_interval_s = self._cycle_s()
                    next_cycle = now + self._monitor.cycle_interval_s
                    self._end_cycle()
                if now >= next_save and (saving is None or saving.done()):
                    next_save = now + self.settings.state_save_s
                    saving = asyncio.create_task(self._save_state(), name="netpoll-state-save")
                cycles = self.settings.cycles
                if cycles is not None and self._scheduler.devices and self._scheduler.min_runs() >= cycles:
                    log.info("%d cycles done: stopping", cycles)
                    self.stop_event.set()
        finally:
            if saving is not None:
                saving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await saving

    def _end_cycle(self, final: bool = False) -> None:
        assert self._scheduler is not None
        assert self._sink is not None
        cycle = self._scheduler.take_cycle()
        if final and not (cycle.polls_ok or cycle.polls_failed or cycle.polls_overloaded):
            return
        self.cycle_no += 1
        sink = self._sink
        figures = SinkFigures(
            queue_size=sink.queue_size,
            spool_bytes=sink.spool_bytes,
            write_latency_ms=sink.last_write_latency_ms,
            points_written=sink.points_written,
            points_dropped=sink.points_dropped,
        )
        mqtt = self._publisher.stats() if self._publisher is not None else None
        loop = self._loop_lag.take()
        sample = self._monitor.cycle_sample(cycle, figures, len(self._scheduler.devices), mqtt, loop)
        # Through the same pipeline as every other sample: the output, and the alert engine (netpoll rules).
        self.emit([sample])
        if cycle.polls_cut or cycle.polls_overloaded:
            # One line per cycle, not one per device: at thousands of devices a per-poll warning floods the
            # log and costs CPU when it is least affordable (the per-device detail is in the data).
            log.warning(
                "cycle %d: %d polls cut at their deadline, %d overloaded (%s); e.g. %s",
                self.cycle_no,
                cycle.polls_cut,
                cycle.polls_overloaded,
                self._monitor.overload or "none",
                ", ".join(sorted(cycle.slow_devices)[:5]),
            )
        elif self._monitor.overload:  # no poll lost, but many started late: at capacity
            log.warning("cycle %d: behind schedule: %s", self.cycle_no, self._monitor.overload)
        if self.settings.console:
            self._print_summary(cycle, figures, sample)

    def _print_summary(self, cycle: CycleStats, figures: SinkFigures, sample: Sample) -> None:
        assert self._scheduler is not None
        stamp = time.strftime("%H:%M:%S")
        text = (
            f"{stamp} cycle {self.cycle_no}: {len(self._scheduler.devices)} devices, "
            f"{cycle.polls_ok} ok, {cycle.polls_failed} failed, {cycle.polls_skipped} skipped, "
            f"{cycle.polls_late} late, "
            f"{cycle.points} points, lag max {cycle.poll_lag_ms_max:.0f} ms, "
            f"written {sample.fields['points_written']}, "
            f"queue {figures.queue_size}, spool {figures.spool_bytes} B, "
            f"{cycle.polls_overloaded} overloaded, lag p99 {sample.fields['poll_lag_p99_ms']:.0f} ms, "
            f"loop lag p99 {sample.fields['loop_lag_p99_ms']:.0f} ms"
        )
        if cycle.failed_devices:
            names = sorted(cycle.failed_devices)
            shown = ", ".join(for_terminal(name, 80) for name in names[:5])
            text += f"; failing: {shown}{' ...' if len(names) > 5 else ''}"
        if sys.stdout.isatty():
            if self._console is None:
                from rich.console import Console

                self._console = Console(highlight=False, emoji=False)
            style = "red" if cycle.polls_failed else "green"
            self._console.print(text, style=style, markup=False)
        else:
            print(text, flush=True)


def _overran(after_s: float, loop: asyncio.AbstractEventLoop) -> None:
    """The watchdog: the shutdown overran its budget; end the process now (exit status 1).

    Logs first where each of the loop's tasks waits, so that the overrun can be told apart from its cause.
    """
    log.critical(
        "shutdown still running %.0f s after the stop signal: exiting now; waiting in: %s",
        after_s,
        "; ".join(_waiting_in(loop)) or "no task",
    )
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(1)


def _waiting_in(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Each pending task of ``loop``: its name and the chain of awaits it is suspended in, outermost first.

    Read from the watchdog's thread while the loop runs on: best effort, for the log line before the exit.
    """
    where: list[str] = []
    with contextlib.suppress(Exception):  # a task list changing under us must not stop the exit
        for task in list(asyncio.all_tasks(loop)):
            chain: list[str] = []
            coro: Any = task.get_coro()
            while coro is not None and len(chain) < 12:  # down the awaits to the innermost coroutine
                frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
                if frame is not None:
                    name = Path(frame.f_code.co_filename).name
                    chain.append(f"{frame.f_code.co_name} ({name}:{frame.f_lineno})")
                coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
            where.append(f"{task.get_name()}: {' > '.join(chain) or '?'}")
    return where
