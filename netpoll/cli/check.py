"""``netpoll check``: validate inventories (and the daemon configuration) and summarise them.

Exit 0 with a summary (devices by role, site, credential profile and SNMP version) when everything is
valid; exit 1 with every problem, one ``file:line: message`` line each, otherwise. ``--json`` gives the
same as one JSON document on stdout. Without INVENTORY arguments the inventories of the configuration
are checked: ``--config FILE``, else the embedded defaults (what ``netpoll run`` would poll).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from netpoll.cli.argtypes import add_verb
from netpoll.config import DaemonConfig, load_config
from netpoll.configkit.problems import problem_dict
from netpoll.errors import ConfigError
from netpoll.inventory.loader import load_inventory
from netpoll.inventory.models import Device, Inventory
from netpoll.sharding import parse_shard, shard_devices

if TYPE_CHECKING:
    from netpoll.inputs.snmp.profiles import ProfileSet


def register(sub: Any) -> None:
    """Add the ``check`` sub-command."""
    parser = add_verb(
        sub,
        "check",
        "validate inventories and the daemon configuration",
        __doc__,
        (
            "netpoll check inventories/",
            "netpoll check --config /etc/netpoll/netpoll.yaml",
            "netpoll check inventories/ --shard 1/4 --json",
            "netpoll check inventories/ --profiles my-profiles/",
        ),
    )
    inventories = "inventory files or directories (default: the inventories of the configuration)"
    parser.add_argument("inventories", nargs="*", metavar="INVENTORY", help=inventories)
    parser.add_argument("--config", metavar="FILE", help="also validate this daemon configuration file")
    parser.add_argument(
        "--profiles",
        metavar="DIR",
        help="also validate your own profiles in DIR, on top of the shipped mibs/ (default: the"
        " configuration's profiles_dir)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--shard", metavar="I/N", help="list the devices shard I of N polls (I counted from 0)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Validate, print the summary or the problems; 0 when valid, 1 otherwise."""
    try:
        shard = parse_shard(args.shard) if args.shard else None
        config = load_config(args.config) if args.config or not args.inventories else None
        paths: list[str | Path] = list(args.inventories) or list(config.inventories if config else [])
        if not paths:
            raise ConfigError(
                [
                    "netpoll check: nothing to check: name inventory files or directories, or give"
                    " --config FILE whose inventories: lists them"
                ]
            )
        profiles = _profiles(args.profiles or (config.profiles_dir if config else None))
        inventory = load_inventory(
            paths, secret_policy=config.secret_policy() if config else None, profiles=profiles.profiles
        )
        if config is not None and args.config:
            check_rules(config, profiles)
    except ConfigError as exc:
        if args.json:
            _print_json({"ok": False, "problems": [problem_dict(p) for p in exc.problems]})
        else:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
        return 1
    selected = None if shard is None else shard_devices(inventory.devices, *shard)
    try:
        if args.json:
            _print_json(_report(inventory, config if args.config else None, args.shard, selected))
        else:
            _print_text(inventory, config if args.config else None, args.shard, selected)
        sys.stdout.flush()
    except BrokenPipeError:
        # `netpoll check --json | head`: the reader left; not an error, and no traceback at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _profiles(user_dir: str | Path | None) -> ProfileSet:
    """The shipped profiles and the user's (``--profiles``, ``profiles_dir``), validated (``ConfigError``)."""
    from netpoll.inputs.snmp.profiles import load_profiles

    return load_profiles(user_dir=user_dir)


def check_rules(config: DaemonConfig, profiles: ProfileSet | None = None) -> None:
    """The thresholds file the configuration names must load, so a typo shows here and not at ``run``.

    Raises:
        ConfigError: one ``file:line: message`` per problem in the rules file.
    """
    from netpoll.alerts.rules import load_rules  # only needed with --config

    # A rule may watch any field or table a profile computes, not only those netpoll.measurements declares.
    load_rules(config.thresholds, (profiles or _profiles(config.profiles_dir)).model())


def _print_json(data: dict[str, Any]) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def snmp_version(device: Device) -> str:
    """``v1``, ``v2c``, ``v3 authPriv`` ... or ``none`` (ping only)."""
    if device.snmp is None:
        return "none (ping only)"
    credentials = device.snmp.credentials
    if credentials.version == "3":
        return f"v3 {credentials.security_level}"
    return f"v{credentials.version}"


def summary(devices: Iterable[Device]) -> dict[str, dict[str, int]]:
    """Device counts by role, site, credential profile and SNMP version."""
    devices = list(devices)
    by: dict[str, Counter[str]] = {
        "role": Counter(device.role or "(none)" for device in devices),
        "site": Counter(device.site or "(none)" for device in devices),
        "credentials": Counter(
            device.snmp.credentials.profile if device.snmp else "(ping only)" for device in devices
        ),
        "snmp_version": Counter(snmp_version(device) for device in devices),
    }
    return {key: dict(sorted(counter.items())) for key, counter in by.items()}


def _device_json(device: Device) -> dict[str, Any]:
    data = device.model_dump(mode="json", exclude={"snmp": {"credentials"}})
    if device.snmp is not None:
        credentials = device.snmp.credentials
        # Only the profile's name and level: SecretStr would dump as '**********', which says nothing.
        data["snmp"]["credentials"] = credentials.profile
        data["snmp"]["version"] = credentials.version
        if credentials.version == "3":
            data["snmp"]["security_level"] = credentials.security_level
    data["source"] = str(device.source) if device.source else None
    return data


def _report(
    inventory: Inventory, config: DaemonConfig | None, shard: str | None, selected: list[Device] | None
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "ok": True,
        "files": list(inventory.files),
        "devices": len(inventory),
        "enabled": sum(1 for device in inventory if device.enabled),
        "summary": summary(inventory),
        "inventory": [_device_json(device) for device in inventory],
    }
    if config is not None:
        report["config"] = config.summary()
    if shard is not None and selected is not None:
        report["shard"] = {"shard": shard, "devices": [device.name for device in selected]}
    return report


def _print_text(
    inventory: Inventory, config: DaemonConfig | None, shard: str | None, selected: list[Device] | None
) -> None:
    console = Console(highlight=False, soft_wrap=True, emoji=False)
    enabled = sum(1 for device in inventory if device.enabled)
    console.print(
        f"OK: {len(inventory)} devices ({enabled} enabled) from {len(inventory.files)} file(s):"
        f" {', '.join(inventory.files)}"
    )
    if config is not None:
        for key, value in config.summary().items():
            console.print(f"  {key}: {value}")
    for title, counts in summary(inventory).items():
        table = Table(title=f"devices by {title.replace('_', ' ')}", title_justify="left")
        table.add_column(title.replace("_", " "))
        table.add_column("devices", justify="right")
        for key, count in counts.items():
            table.add_row(key, str(count))
        console.print(table)
    if shard is not None and selected is not None:
        console.print(f"shard {shard} polls {len(selected)} of {len(inventory)} devices:")
        for device in selected:
            console.print(f"  {device.name} {device.address}")
