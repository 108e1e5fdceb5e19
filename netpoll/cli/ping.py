"""``netpoll ping TARGET...``: one-shot ICMP echo probe of inventory devices, addresses, names or CIDRs.

Every target is probed at once over one shared socket per address family. Inventory devices (``--inventory``)
use their own ping settings unless ``--count``/``--interval``/``--timeout``/``--size`` are given. Output is a
table (default), ``--format json`` (a list of ``ping`` records) or ``--format lp`` (InfluxDB line protocol).
The table never cuts a name or an address (on a narrow terminal the RTT spread columns go first; piped it
shows all) and ends with a summary line; ``--failed-only`` shows only the targets that did not answer. Exit
status as fping's: 0 every target answered, 1 some gave no reply, 2 some could not be probed (unresolvable
name, no route).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import shutil
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netpoll.cli.argtypes import (
    add_inventory_option,
    add_naming,
    add_verb,
    int_between,
    inventory_devices,
    seconds_between,
)
from netpoll.cli.tables import columns, print_table
from netpoll.configkit.problems import did_you_mean
from netpoll.errors import NetpollError
from netpoll.inputs.icmp.prober import IcmpProber
from netpoll.inventory.models import Device, PingSettings
from netpoll.naming import renamer
from netpoll.numbers import human
from netpoll.sample import Sample
from netpoll.text import for_terminal

EXAMPLES = (
    "netpoll ping 127.0.0.1 ::1",
    "netpoll ping -i inventories/ rtr-core-1 sw-access-1 --count 5",
    "netpoll ping 198.18.0.0/28 --failed-only              # a sweep: only the silent ones",
    "netpoll ping 127.0.0.1 --format lp                     # what the daemon would write",
)
# A CIDR is expanded to its host addresses; beyond this many in one run it is more likely a typo (/8 for /24).
CIDR_CAP = 65536
# The inventory's ping defaults (one place), as the help texts state them.
_PING = {name: info.default for name, info in PingSettings.model_fields.items()}
_RESULT_TEXT = {0: "[green]ok[/green]", 1: "[red]no reply[/red]", 2: "[yellow]error[/yellow]"}


def register(sub: Any) -> None:
    """Add the ``ping`` sub-command."""
    parser = add_verb(
        sub, "ping", "ICMP echo probe of inventory devices, addresses or CIDRs", __doc__, EXAMPLES
    )
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="TARGET",
        help="inventory device name (with --inventory), IP address, DNS name or CIDR (e.g. 192.0.2.0/28)",
    )
    add_inventory_option(parser, "inventory file or directory to look device names up in (repeatable)")
    d = _PING
    count, size = (
        f"echo requests per target (default {d['count']})",
        f"payload bytes (default {d['payload_size']})",
    )
    parser.add_argument("--count", "-c", type=int_between(1, 100_000), help=count)
    parser.add_argument(
        "--interval",
        type=seconds_between(0, 3600, low_inclusive=True),
        help=f"seconds between requests to one target (default {d['packet_interval_s']:g})",
    )
    timeout = f"seconds to wait for each reply (default {d['timeout_s']:g})"
    parser.add_argument("--timeout", "-t", type=seconds_between(0, 3600), help=timeout)
    parser.add_argument("--size", "-s", type=int_between(0, 65_000), help=size)
    parser.add_argument(
        "--format",
        "-f",
        choices=("table", "json", "lp"),
        default="table",
        help="output format (default table)",
    )
    parser.add_argument(
        "--socket",
        choices=("auto", "dgram", "raw"),
        default="auto",
        help="ICMP socket kind: datagram (ping_group_range) or raw (CAP_NET_RAW); auto tries datagram first",
    )
    parser.add_argument(
        "--failed-only", action="store_true", help="show only the targets that did not answer"
    )
    add_naming(parser)
    parser.set_defaults(handler=handle)


@dataclass(frozen=True)
class Target:
    """One thing to probe: an inventory device or an ad-hoc address or name."""

    name: str
    address: str
    settings: PingSettings
    tags: dict[str, str]


def expand_targets(
    texts: Sequence[str], devices: Mapping[str, Device], overrides: dict[str, Any], cidr_cap: int = CIDR_CAP
) -> list[Target]:
    """Turn command-line targets into a de-duplicated, ordered list; raises NetpollError for a bad CIDR."""
    defaults = PingSettings().model_copy(update=overrides)
    targets: dict[str, Target] = {}
    expanded = 0
    for text in texts:
        device = devices.get(text)
        if device is not None:
            settings = (device.ping or PingSettings()).model_copy(update=overrides)
            targets.setdefault(
                device.name, Target(device.name, device.address, settings, device.output_tags())
            )
            continue
        if "/" in text:
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise NetpollError(f"ping: {text!r} is neither an inventory device nor a CIDR") from None
            expanded += network.num_addresses
            if expanded > cidr_cap:
                raise NetpollError(
                    f"ping: {text} has {network.num_addresses} addresses; at most {cidr_cap} per run"
                    " (use a longer prefix)"
                )
            # A single address, /31 and /127 have no network/broadcast to skip; hosts() handles that.
            for host in network.hosts() if network.num_addresses > 1 else [network.network_address]:
                address = str(host)
                targets.setdefault(address, Target(address, address, defaults, {}))
            continue
        targets.setdefault(text, Target(text, text, defaults, {}))
    return list(targets.values())


def handle(args: argparse.Namespace) -> int:
    """Probe, print, and return fping's exit status (0 all answered, 1 some silent, 2 some errors)."""
    devices = inventory_devices(args.inventory, snmp=False) if args.inventory else {}
    overrides = {
        key: value
        for key, value in (
            ("count", args.count),
            ("packet_interval_s", args.interval),
            ("timeout_s", args.timeout),
            ("payload_size", args.size),
        )
        if value is not None
    }
    targets = expand_targets(args.targets, devices, overrides)
    stderr = Console(stderr=True, emoji=False)
    show_progress = sys.stderr.isatty() and len(targets) > shutil.get_terminal_size().lines
    outcomes = asyncio.run(_probe_all(targets, args.socket, stderr if show_progress else None))
    samples = [sample for sample, _error in outcomes]
    rename = renamer(args.naming) if args.format != "table" else None
    try:
        _print(samples if rename is None else rename(samples), args.format, failed_only=args.failed_only)
    except BrokenPipeError:  # e.g. piped into head: not an error worth a traceback
        sys.stderr.close()
        return 0
    if args.format == "table":
        for sample, error in outcomes:
            if error:
                name = sample.tags["device"]
                # A typo of an inventory name was probed as a DNS name: point at the device meant.
                hint = did_you_mean(name, devices) if devices and name not in devices else ""
                stderr.print(f"{name}: {error}{hint}", markup=False, highlight=False, soft_wrap=True)
    codes = {int(sample.fields["result_code"]) for sample in samples}
    return 2 if 2 in codes else 1 if 1 in codes else 0


Outcome = tuple[Sample, str | None]


async def _probe_all(targets: list[Target], mode: Any, progress_console: Console | None) -> list[Outcome]:
    async with IcmpProber(mode=mode) as prober:

        def job(target: Target) -> Awaitable[Outcome]:
            return _probe_one(prober, target)

        if progress_console is None:
            return list(await asyncio.gather(*(job(target) for target in targets)))
        return await _with_progress(targets, job, progress_console)


async def _probe_one(prober: IcmpProber, target: Target) -> Outcome:
    result = await prober.probe_with(target.address, target.settings)
    return result.sample(device=target.name, tags=target.tags), result.error


async def _with_progress(
    targets: list[Target], job: Callable[[Target], Awaitable[Outcome]], console: Console
) -> list[Outcome]:
    columns = (TextColumn("ping"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("ping", total=len(targets))

        async def tracked(target: Target) -> Outcome:
            outcome = await job(target)
            progress.advance(task)
            return outcome

        return list(await asyncio.gather(*(tracked(target) for target in targets)))


def _ms(value: Any) -> str:
    if value is None:
        return "-"
    # Microseconds are the finest a person reads here (loopback answers in 0.02 ms).
    return f"{value:.3f}" if abs(value) < 1 else human(value)


_COLUMNS = columns(
    """
    device
    address
    sent          | 3 >
    recv          | 3 >
    loss %        | 1 >
    min           | 4 >
    avg           | 1 >
    max           | 4 >
    stddev        | 5 >
    jitter        | 5 >
    result
    """
)


def summary(samples: Sequence[Sample]) -> str:
    """One line: how many targets, how many answered, gave no reply, could not be probed."""
    codes = [int(sample.fields["result_code"]) for sample in samples]
    parts = [f"{codes.count(0)} answered", f"{codes.count(1)} no reply"]
    if codes.count(2):
        parts.append(f"{codes.count(2)} error")
    return f"{len(samples)} target{'s' if len(samples) != 1 else ''}: {', '.join(parts)}"


def _print(samples: list[Sample], fmt: str, *, failed_only: bool = False) -> None:
    shown = [s for s in samples if s.fields["result_code"] != 0] if failed_only else samples
    if fmt == "json":
        print(json.dumps([sample.to_dict() for sample in shown], indent=2))
        return
    if fmt == "lp":
        sys.stdout.write("".join(sample.to_line_protocol() + "\n" for sample in shown))
        return
    rows = []
    for sample in shown:
        fields = sample.fields
        rows.append(
            [
                escape(for_terminal(sample.tags["device"])),
                escape(for_terminal(sample.tags["url"]))
                if sample.tags["url"] != sample.tags["device"]
                else "",
                str(fields["packets_transmitted"]),
                str(fields["packets_received"]),
                human(fields["percent_packet_loss"]),
                *(
                    _ms(fields.get(name))
                    for name in (
                        "minimum_response_ms",
                        "average_response_ms",
                        "maximum_response_ms",
                        "standard_deviation_ms",
                        "jitter_ms",
                    )
                ),
                _RESULT_TEXT.get(int(fields["result_code"]), str(fields["result_code"])),
            ]
        )
    title = f"ping: {len(shown)} target{'s' if len(shown) != 1 else ''}"
    if failed_only:
        title += f" of {len(samples)} without an answer"
    if rows:
        print_table(f"{title}, RTTs in ms", _COLUMNS, rows)
    print(summary(samples))
