"""``netpoll traps --listen ADDR:PORT``: print SNMP traps and informs as they arrive.

For an engineer checking a device's trap configuration. v1, v2c and v3 traps and informs (acknowledged, so
the sender stops retransmitting) are decoded: standard and profile-named traps by name (coldStart, linkDown,
jnxCmCfgChange, ...) with their variable bindings. Without ``--inventory`` every v1/v2c sender and community
is shown, named by its address (SNMPv3 needs the inventory's USM users); with it, only inventory devices
whose credentials are right: other senders and wrong credentials are counted (the summary on stderr at the
end), never shown. Output: one line per trap (``table``, the default), one JSON
object per line (``json``) or InfluxDB line protocol (``lp``). Ctrl-C, or ``--count`` traps, ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from netpoll.cli.argtypes import add_inventory_option, add_verb, int_between, inventory_devices
from netpoll.defaults import TRAP_PORT
from netpoll.inputs.traps.catalog import load_trap_names
from netpoll.inputs.traps.listen import Address, parse_listen
from netpoll.inputs.traps.receiver import TrapReceiver, TrapStats
from netpoll.inputs.traps.record import Trap
from netpoll.inputs.traps.sources import Sources
from netpoll.text import for_terminal, json_text

DEFAULT_PORT = TRAP_PORT


def listen_address(text: str) -> Address:
    """``ADDR:PORT``, ``[V6ADDR]:PORT`` or ``ADDR`` (port 162) → (address, port); IP literals only."""
    try:
        return parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    """Add the ``traps`` sub-command."""
    parser = add_verb(sub, "traps", "print SNMP traps and informs as they arrive", __doc__)
    parser.add_argument(
        "--listen",
        "-l",
        action="append",
        type=listen_address,
        metavar="ADDR:PORT",
        help=f"listen address, repeatable; [::]:PORT for IPv6 (default 0.0.0.0:{DEFAULT_PORT})",
    )
    add_inventory_option(parser, "inventory file or directory: accept only its devices and communities")
    parser.add_argument("--format", "-f", choices=("table", "json", "lp"), default="table")
    parser.add_argument("--count", "-c", type=int_between(1, 10**9), help="exit after this many traps")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Listen and print until Ctrl-C or ``--count`` traps; the counts go to stderr at the end."""
    sources = Sources(inventory_devices(args.inventory).values()) if args.inventory else None
    receiver = TrapReceiver(args.listen or [("0.0.0.0", DEFAULT_PORT)], sources, names=load_trap_names())
    try:
        asyncio.run(_run(receiver, args.format, args.count))
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    finally:
        print(summary(receiver.stats), file=sys.stderr)
    return 0


async def _run(receiver: TrapReceiver, fmt: str, count: int | None) -> None:
    await receiver.__aenter__()
    try:
        bound = ", ".join(f"{host}:{port}" for host, port in receiver.addresses)
        print(f"listening on {bound}", file=sys.stderr, flush=True)
        if fmt == "table":
            print(f"{'time':<12} {'device':<20} {'version':<7} {'kind':<6} {'trap':<22} varbinds", flush=True)
        seen = 0
        async for trap in receiver:
            print(render(trap, fmt), flush=True)
            seen += 1
            if count is not None and seen >= count:
                return
    finally:
        receiver.close()


def render(trap: Trap, fmt: str) -> str:
    """One trap as one line: table row, JSON object or line protocol; device strings made safe."""
    sample = trap.to_sample()
    if fmt == "lp":
        return sample.to_line_protocol()
    if fmt == "json":
        record = {**sample.to_dict(), "varbinds": trap.varbinds()}
        return json_text(json.dumps(record, ensure_ascii=False))

    clock = time.strftime("%H:%M:%S", time.localtime(trap.time_ns / 1e9))
    varbinds = " ".join(f"{name}={value}" for name, value in trap.varbinds().items())
    note = trap.notification
    return for_terminal(
        f"{clock:<12} {trap.device_name:<20} {note.version:<7} {note.kind:<6} {trap.name:<22} {varbinds}",
        limit=2000,
    )


def summary(stats: TrapStats) -> str:
    """The counts, one line: traps shown, drops, unknown senders, wrong communities by device."""
    auth = ", ".join(f"{for_terminal(name)} {n}" for name, n in sorted(stats.auth_failures.items()))
    return (
        f"traps: {stats.events} shown, {stats.informs_acknowledged} informs acknowledged,"
        f" {stats.unknown_source} from unknown senders, {sum(stats.auth_failures.values())} wrong community"
        f"{f' ({auth})' if auth else ''}, {stats.undecodable} undecodable,"
        f" {stats.v3_unsupported} SNMPv3 without an inventory,"
        f" {stats.queue_dropped + stats.rate_dropped + stats.kernel_dropped} dropped (queue"
        f" {stats.queue_dropped}, rate {stats.rate_dropped}, kernel {stats.kernel_dropped});"
        f" {stats.received} datagrams"
    )
