"""``netpoll run``: the daemon.

With a configuration (``--config FILE`` or ``$NETPOLL_CONFIG``) that names inventories, polls them. With
none, runs on its embedded defaults, the demo: it generates a simulated lab of routers, switches and
firewalls in ``DATA_DIR/demo-lab/``, serves it with snmpsim on loopback addresses, polls and pings it,
writes line-protocol files to ``DATA_DIR``, serves its status page and ``/metrics`` on
http://127.0.0.1:9108/ and prints one summary line per cycle; alerts go to the log.
SIGTERM or Ctrl-C stops it cleanly (exit 0); SIGHUP reloads the inventory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path
from typing import Any

from netpoll import defaults
from netpoll.cli.argtypes import add_verb, int_between, seconds_between
from netpoll.config import DaemonConfig, load_config
from netpoll.daemon.app import Daemon, RunSettings
from netpoll.daemon.signals import ProcessSignals
from netpoll.errors import NetpollError
from netpoll.logging_setup import setup_logging
from netpoll.sharding import parse_shard, shard_from_environment

log = logging.getLogger("netpoll.cli.run")

DEMO_INTERVAL_S = 10.0
DEMO_HTTP = (
    defaults.HTTP_HOST,
    9108,
)  # the demo serves its status page and /metrics here (or on a free port)


def register(sub: Any) -> None:
    """Add the ``run`` sub-command."""
    parser = add_verb(
        sub,
        "run",
        "run the polling daemon (the demo lab when no configuration is given)",
        __doc__,
        (
            "netpoll run                                  # the demo: status page on http://127.0.0.1:9108/",
            "netpoll run --config /etc/netpoll/netpoll.yaml",
            "netpoll run --config netpoll.yaml --shard 0/2  # one of two pollers",
        ),
    )
    parser.add_argument(
        "--config", metavar="FILE", help="daemon configuration file (default: embedded defaults)"
    )
    parser.add_argument("--shard", metavar="I/N", help="poll only shard I of N (I counted from 0)")
    parser.add_argument(
        "--cycles",
        type=int_between(1, 1_000_000_000),
        metavar="N",
        help="exit after every device was polled N times (tests, benchmarks)",
    )
    parser.add_argument(
        "--interval", type=seconds_between(0, 86_400), metavar="S", help=argparse.SUPPRESS
    )  # demo interval override
    parser.set_defaults(handler=handle)


def settings_from_config(
    config: DaemonConfig, *, shard: tuple[int, int] | None, cycles: int | None
) -> RunSettings:
    """Map the validated configuration onto the daemon's run settings."""
    instance = instance_name(config, shard)
    mqtt = config.mqtt
    if mqtt is not None and mqtt.instance != instance:
        mqtt = mqtt.model_copy(update={"instance": instance})
    return RunSettings(
        inventories=tuple(Path(p) for p in config.inventories),
        data_dir=config.data_dir,
        state_dir=config.state_dir,
        influx=config.influxdb,
        mqtt=mqtt,
        traps=config.traps,
        alert_rules=config.thresholds,
        profiles_dir=config.profiles_dir,
        secret_policy=config.secret_policy(),
        snmp_concurrency=config.scheduler.max_concurrent_snmp,
        snmp_backend=config.scheduler.snmp_backend,
        icmp_concurrency=config.scheduler.max_concurrent_icmp,
        http_host=config.http.host or defaults.HTTP_HOST,
        http_port=config.http.port,
        shard=shard,
        instance=instance,
        cycles=cycles,
        naming=config.naming,
    )


def instance_name(config: DaemonConfig, shard: tuple[int, int] | None) -> str:
    """This poller's name in self-monitoring and in its MQTT status topic and client id.

    ``mqtt.instance`` when the configuration sets it; else the host name, with ``-shard-I-of-N`` added when
    sharded, so two shards on one host do not share an MQTT client id (the broker would keep dropping one).
    """
    if config.mqtt is not None and "instance" in config.mqtt.model_fields_set:
        return config.mqtt.instance
    host = socket.gethostname()
    return f"{host}-shard-{shard[0]}-of-{shard[1]}" if shard is not None else host


def _secrets(config: DaemonConfig) -> list[str]:
    influx, mqtt = config.influxdb, config.mqtt
    secrets = (
        influx.token if influx else None,
        influx.password if influx else None,
        mqtt.password if mqtt else None,
    )
    return [secret.get_secret_value() for secret in secrets if secret is not None]


def check_directories(config: DaemonConfig) -> None:
    """Create ``data_dir`` and ``state_dir`` now, so a bad path is one line and not a traceback mid-start.

    Raises:
        NetpollError: naming the key, the path, the reason and the fix.
    """
    origin = config.source or "the embedded defaults"
    for key, path in (("data_dir", config.data_dir), ("state_dir", config.state_dir)):
        try:
            path.mkdir(parents=True, exist_ok=True)
            writable = os.access(path, os.W_OK | os.X_OK)
        except OSError as exc:
            reason = exc.strerror or str(exc)
        else:
            if writable:
                continue
            reason = "not writable"
        raise NetpollError(
            f"run: {key} {path} (from {origin}): cannot create or write it ({reason}): fix the path or its"
            " permissions"
        )


def handle(args: argparse.Namespace) -> int:
    """Run until stopped; 0 after a clean stop."""
    # First: from here to the exit SIGHUP never kills and SIGTERM/SIGINT always end through a clean stop.
    signals = ProcessSignals().install()
    config = load_config(args.config)
    check_directories(config)
    setup_logging(config.log.level, config.log.format, _secrets(config))
    # --shard, else the configuration's shard: (validated there), else a StatefulSet's NETPOLL_SHARD or
    # NETPOLL_SHARDS + pod ordinal.
    shard = parse_shard(args.shard) if args.shard else config.shard_spec or shard_from_environment()
    if shard == (0, 1):
        shard = None
    settings = settings_from_config(config, shard=shard, cycles=args.cycles)
    demo = not settings.inventories
    try:
        return asyncio.run(_run(settings, demo, args.interval or DEMO_INTERVAL_S, signals))
    finally:
        signals.finish()


async def _run(settings: RunSettings, demo: bool, demo_interval: float, signals: ProcessSignals) -> int:
    if not demo:
        return await Daemon(settings, signals=signals).run()
    from dataclasses import replace

    from netpoll.demo.lab import demo_devices, write_lab
    from netpoll.demo.simulator import Simulator, free_udp_port

    if settings.http_port is None:  # the demo is for looking at: its status page and /metrics are on
        settings = replace(settings, http_host=DEMO_HTTP[0], http_port=_demo_http_port())
    lab_dir = settings.data_dir / "demo-lab"
    port = free_udp_port()
    recordings, inventory = await asyncio.to_thread(write_lab, lab_dir, port, demo_interval)
    _readable_for_nobody(lab_dir)
    devices = demo_devices()
    output = settings.influx.url if settings.influx else f"line-protocol files in {settings.data_dir}/"
    print(
        f"netpoll demo: {len(devices)} simulated devices (+2 ping-only peers) on 127.0.0.11-16, "
        f"polled every {demo_interval:g} s; points go to {output}; Ctrl-C stops.\n"
        "To see them in Grafana: make demo-grafana (VictoriaMetrics and Grafana where installed), or"
        " docs/deployment.md (deploy/compose.yaml: InfluxDB and Grafana)."
    )
    simulator = Simulator(recordings, [d.address for d in devices], port, lab_dir, devices[0].community)
    async with simulator:
        return await Daemon(replace(settings, inventories=(inventory,)), signals=signals).run()


def _demo_http_port() -> int:
    """9108 when free; else 0 (a free port, printed at start), so a second demo still starts."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server will
        try:
            probe.bind(DEMO_HTTP)
        except OSError:
            return 0
    return DEMO_HTTP[1]


def _readable_for_nobody(lab_dir: Path) -> None:
    """As root snmpsim drops to nobody: let it read the recordings (never the community files)."""
    with contextlib.suppress(OSError):
        for path in (lab_dir, lab_dir / "snmprec"):
            os.chmod(path, 0o755)
