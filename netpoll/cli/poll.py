"""``netpoll poll TARGET...``: one-shot SNMP poll of inventory devices or ad-hoc agents.

A TARGET is an inventory device name or an ad-hoc agent ``host``, ``host:port`` or ``[v6addr]:port``. Ad-hoc
agents use the credentials given here: ``--community`` (or ``--community-file``, or
``$NETPOLL_SNMP_COMMUNITY``) for v1/v2c, ``--user`` with the v3 options for v3 (keys also from
``$NETPOLL_SNMP_AUTH_KEY`` / ``$NETPOLL_SNMP_PRIV_KEY``). The inventory (``--inventory``, default
``inventories/``) is read when ``--inventory`` is given, or to look up a TARGET that is a name when no
credentials are given; an IP address target never reads ``inventories/``.

``--samples N --every SECONDS`` polls N times to show rates. Output: a table of the last round (default),
``--format json`` (every record of every round: a list of {measurement, tags, fields, time}) or
``--format lp`` (InfluxDB line protocol, exactly what the daemon would write). The table never cuts a
device name or an address: on a narrow terminal less important columns are left out (and named), piped
it shows them all. ``--failed-only`` shows the failed devices only; a summary line ends the table. A
failing device gets one line on stderr and exit status 1; the others are still shown. ``--explain`` adds,
per device, every interface and whether its interface selection keeps it (else the rule that drops it); with
``--format json`` the output is then ``{"records": [...], "interfaces": [...]}``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.markup import escape

from netpoll import defaults
from netpoll.cli.argtypes import (
    add_inventory_option,
    add_naming,
    add_verb,
    int_between,
    inventory_devices,
    seconds_between,
)
from netpoll.cli.explain import explanation_json, print_explanation
from netpoll.cli.tables import Column, columns, print_table, terminal_width
from netpoll.configkit.problems import did_you_mean
from netpoll.configkit.secrets import SecretError, resolve_secret
from netpoll.errors import ConfigError, NetpollError
from netpoll.inputs.snmp.ifselect import ADMIN_STATUS, Decision
from netpoll.inventory.models import (
    MIN_V3_KEY,
    AuthProtocol,
    CommunityCredentials,
    Device,
    PrivProtocol,
    SnmpBackendName,
    SnmpCredentials,
    SnmpSettings,
    UsmCredentials,
)
from netpoll.naming import renamer
from netpoll.numbers import human
from netpoll.probe import Budget, ProbeResult
from netpoll.sample import Sample
from netpoll.text import for_terminal

DEFAULT_INVENTORY = "inventories"
EXAMPLES = (
    "netpoll poll rtr-core-1                              # an inventory device (inventories/)",
    "NETPOLL_SNMP_COMMUNITY=public netpoll poll 127.0.0.1:1161",
    "netpoll poll '[::1]:1161' --community-file ~/.snmp-community",
    "netpoll poll 127.0.0.1 -u monitor -a SHA256 -x AES   # SNMPv3: keys from $NETPOLL_SNMP_*_KEY",
    "netpoll poll rtr-core-1 --samples 2 --every 10        # rates need two samples",
    "netpoll poll -i inventories/ sw-1 sw-2 --failed-only --format json",
    "netpoll poll -i inventories/ sw-1 --explain            # which interfaces are selected, and why not",
)
ENV_COMMUNITY = "NETPOLL_SNMP_COMMUNITY"
ENV_AUTH_KEY = "NETPOLL_SNMP_AUTH_KEY"
ENV_PRIV_KEY = "NETPOLL_SNMP_PRIV_KEY"
AUTH_PROTOCOLS: tuple[AuthProtocol, ...] = get_args(AuthProtocol)
PRIV_PROTOCOLS: tuple[PrivProtocol, ...] = get_args(PrivProtocol)
# The inventory's defaults (one place) for what the options leave unset, as the help texts state them.
_SNMP_DEFAULTS = {name: info.default for name, info in SnmpSettings.model_fields.items()}


def register(sub: Any) -> None:
    """Add the ``poll`` sub-command."""
    parser = add_verb(
        sub, "poll", "one-shot SNMP poll of inventory devices or ad-hoc agents", __doc__, EXAMPLES
    )
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="inventory device name or host[:port]")
    add_inventory_option(
        parser, f"inventory file or directory (repeatable; default {DEFAULT_INVENTORY}/ without credentials)"
    )
    creds = parser.add_argument_group("ad-hoc agents")
    creds.add_argument("--community", "-c", help=f"v1/v2c community (visible in ps: prefer ${ENV_COMMUNITY})")
    creds.add_argument("--community-file", metavar="PATH", help="read the community from this file")
    creds.add_argument("--snmp-version", "-v", choices=("1", "2c", "3"), help="default 2c, or 3 with --user")
    creds.add_argument("--user", "-u", help="SNMPv3 user name")
    creds.add_argument("--auth-protocol", "-a", type=str.upper, choices=AUTH_PROTOCOLS)
    creds.add_argument("--auth-key", "-A", help=f"SNMPv3 auth key (prefer ${ENV_AUTH_KEY})")
    creds.add_argument("--priv-protocol", "-x", type=str.upper, choices=PRIV_PROTOCOLS)
    creds.add_argument("--priv-key", "-X", help=f"SNMPv3 privacy key (prefer ${ENV_PRIV_KEY})")
    creds.add_argument("--context", default="", help="SNMPv3 context name")
    d = _SNMP_DEFAULTS
    creds.add_argument(
        "--port", type=int, default=d["port"], help=f"UDP port when the target has none (default {d['port']})"
    )
    tuning = parser.add_argument_group("polling")
    timeout = f"default {d['timeout_s']:g}, or the inventory's"
    tuning.add_argument("--timeout", type=float, help=f"seconds per request ({timeout})")
    tuning.add_argument(
        "--retries", type=int, help=f"retries per request (default {d['retries']}, or the inventory's)"
    )
    tuning.add_argument(
        "--max-repetitions", type=int, help=f"GETBULK max-repetitions (default {d['max_repetitions']})"
    )
    tuning.add_argument("--profile", help="device profile name (default: picked by sysObjectID)")
    tuning.add_argument(
        "--profiles",
        "--profiles-dir",  # its first name, kept as an alias
        dest="profiles_dir",
        metavar="DIR",
        help="your own profiles, on top of the shipped mibs/ (same name: yours wins)",
    )
    tuning.add_argument("--backend", choices=("auto", "pysnmp", "gufo"), help="SNMP client backend")
    tuning.add_argument(
        "--samples", "-n", type=int_between(1, 10_000), default=1, help="poll this many times (default 1)"
    )
    tuning.add_argument(
        "--every", type=seconds_between(0, 86_400), default=10.0, help="seconds between samples (default 10)"
    )
    tuning.add_argument(
        "--deadline", type=seconds_between(0, 86_400), help="hard limit for one poll of one device, seconds"
    )
    parser.add_argument("--format", "-f", choices=("table", "json", "lp"), default="table")
    parser.add_argument("--no-interfaces", action="store_true", help="table: device lines only")
    parser.add_argument("--failed-only", action="store_true", help="show only the devices whose poll failed")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also show each interface, whether the interface selection keeps it and which rule drops it",
    )
    add_naming(parser)
    parser.set_defaults(handler=handle)


# --- targets ---------------------------------------------------------------------------------------


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port)."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise NetpollError(f"poll: bad target {text!r}: write [IPv6]:port")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise NetpollError(f"poll: bad target {text!r}: no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise NetpollError(f"poll: bad port in {text!r}")
    return host, int(port_text)


def cli_credentials(
    args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]
) -> SnmpCredentials | None:
    """Credentials for ad-hoc agents from the command line and environment; None when none are given."""
    version = args.snmp_version or ("3" if args.user else None)
    if version == "3" or args.user:
        if not args.user:
            raise NetpollError("poll: SNMPv3 needs --user")
        auth_key = args.auth_key or environ.get(ENV_AUTH_KEY) or None
        priv_key = args.priv_key or environ.get(ENV_PRIV_KEY) or None
        if args.auth_protocol and not auth_key:
            raise NetpollError(f"poll: --auth-protocol needs --auth-key or ${ENV_AUTH_KEY}")
        if args.priv_protocol and not priv_key:
            raise NetpollError(f"poll: --priv-protocol needs --priv-key or ${ENV_PRIV_KEY}")
        if args.priv_protocol and not args.auth_protocol:
            raise NetpollError("poll: SNMPv3 privacy needs authentication too: add --auth-protocol")
        for source, key, protocol in (
            (f"--auth-key or ${ENV_AUTH_KEY}", auth_key, args.auth_protocol),
            (f"--priv-key or ${ENV_PRIV_KEY}", priv_key, args.priv_protocol),
        ):
            if protocol and key is not None and len(key) < MIN_V3_KEY:
                raise NetpollError(
                    f"poll: the key of {source} is shorter than {MIN_V3_KEY} characters, which SNMPv3"
                    " refuses: give the agent's full passphrase"
                )
        return UsmCredentials(
            profile="command line",
            username=args.user,
            auth_protocol=args.auth_protocol,
            auth_key=SecretStr(auth_key) if args.auth_protocol and auth_key else None,
            priv_protocol=args.priv_protocol,
            priv_key=SecretStr(priv_key) if args.priv_protocol and priv_key else None,
            context_name=args.context,
        )
    community = args.community
    if community is None and args.community_file:
        # The inventory's community_file rules: one line, UTF-8, not empty, read relative to here.
        try:
            secret = resolve_secret("community", None, args.community_file, base_dir=Path.cwd())
        except SecretError as exc:
            raise NetpollError(f"poll: --{exc}".replace("community_file", "community-file", 1)) from None
        assert secret is not None  # a file was given
        community = secret.get_secret_value()
    if community is None:
        community = environ.get(ENV_COMMUNITY) or None
    if community is None:
        if version is not None:
            raise NetpollError(
                f"poll: SNMP v{version} needs --community, --community-file or ${ENV_COMMUNITY}"
            )
        return None
    return CommunityCredentials(
        profile="command line", version=version or "2c", community=SecretStr(community)
    )


def resolve_targets(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> list[Device]:
    """Inventory devices and ad-hoc agents, with the command line's overrides applied."""
    credentials = cli_credentials(args, environ)
    names = [text for text in args.targets if not is_address(text, args.port)]
    devices = _inventory(args.inventory, names if credentials is None else [], args.profiles_dir)
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("timeout_s", args.timeout),
            ("retries", args.retries),
            ("max_repetitions", args.max_repetitions),
            ("backend", args.backend),
            ("profile", args.profile),
        )
        if value is not None
    }
    out: dict[str, Device] = {}
    for text in args.targets:
        device = devices.get(text)
        if device is not None:
            if device.snmp is None:
                raise NetpollError(f"poll: {text}: SNMP is disabled for this device in the inventory")
            snmp = snmp_settings(dict(device.snmp), overrides) if overrides else device.snmp
            out.setdefault(text, device.model_copy(update={"snmp": snmp}))
            continue
        if credentials is None:
            hint = did_you_mean(text, devices)
            what = "is not an inventory device" if text in names else "is an ad-hoc agent"
            raise NetpollError(
                f"poll: {text} {what}: give --community, --community-file or ${ENV_COMMUNITY}"
                f" (or --user for SNMPv3){hint}"
            )
        host, port = split_host_port(text, args.port)
        settings = snmp_settings({"credentials": credentials, "port": port}, overrides)
        out.setdefault(text, Device(name=text, address=host, snmp=settings))
    return list(out.values())


def is_address(text: str, default_port: int) -> bool:
    """Whether a TARGET is an IP address (with or without a port): an ad-hoc agent, not a device name."""
    try:
        host, _port = split_host_port(text, default_port)
        ipaddress.ip_address(host)
    except (NetpollError, ValueError):
        return False
    return True


def _inventory(
    paths: Sequence[str], names: Sequence[str], profiles_dir: str | None = None
) -> Mapping[str, Device]:
    """The devices of ``--inventory`` paths; without any, of ``inventories/`` when ``names`` need looking up.

    A default ``inventories/`` that does not load is not the user's doing: it is reported in one line that
    points at ``netpoll check`` instead of as its problems.
    """
    if paths:
        return inventory_devices(paths, profiles_dir=profiles_dir)
    if not names:
        return {}
    if not Path(DEFAULT_INVENTORY).exists():
        raise NetpollError(
            f"poll: {names[0]} is not an address and there is no {DEFAULT_INVENTORY}/ here to look it up in:"
            " give --inventory PATH, or --community (or --user) to poll it as an ad-hoc agent"
        )
    try:
        return inventory_devices([DEFAULT_INVENTORY], profiles_dir=profiles_dir)
    except ConfigError as exc:
        raise NetpollError(
            f"poll: cannot look {names[0]} up: {DEFAULT_INVENTORY}/ does not load ({len(exc.problems)}"
            f" problems; netpoll check {DEFAULT_INVENTORY}/ lists them); give --inventory PATH, or"
            " --community (or --user) to poll it as an ad-hoc agent"
        ) from None


# The command-line flag behind each SnmpSettings field it can set, for error messages.
_FLAGS = {
    "timeout_s": "--timeout",
    "retries": "--retries",
    "max_repetitions": "--max-repetitions",
    "backend": "--backend",
    "profile": "--profile",
    "port": "--port",
}


def snmp_settings(fields: dict[str, Any], overrides: dict[str, Any]) -> SnmpSettings:
    """``fields`` with the command line's ``overrides`` on top, held to the inventory's bounds.

    Raises:
        NetpollError: naming the offending flag, e.g. ``--retries: Input should be less than or equal to 10``.
    """
    try:
        return SnmpSettings(**{**fields, **overrides})
    except ValidationError as exc:
        problems = "; ".join(
            f"{_FLAGS.get(str(e['loc'][0]), '--' + '.'.join(map(str, e['loc'])))}: {e['msg']}"
            for e in exc.errors()
        )
        raise NetpollError(f"poll: {problems}") from None


# --- polling ---------------------------------------------------------------------------------------


async def poll_rounds(
    devices: Sequence[Device],
    *,
    samples: int,
    every: float,
    backend: SnmpBackendName | None,
    profile: str | None,
    profiles_dir: str | None,
    deadline: float | None,
    decisions: dict[str, list[Decision]] | None = None,
) -> list[list[ProbeResult]]:
    """Poll every device ``samples`` times, ``every`` seconds apart: rounds → one result per device.

    Each poll's budget is ``deadline`` seconds, else the daemon's (a fraction of the device's interval), but
    at least one full timeout-and-retries cycle and a second, so a one-shot poll can always time out honestly.
    ``decisions``, when given, gets each device's interfaces and what its selection made of them (ifType is
    read for it on every label poll).
    """
    from netpoll.inputs.snmp.client import SnmpClientPool
    from netpoll.inputs.snmp.poller import SnmpPoller
    from netpoll.inputs.snmp.profiles import load_profiles

    profiles = await asyncio.to_thread(load_profiles, None, profiles_dir)
    if profile is not None and profile not in profiles:
        known = ", ".join(sorted(profiles.profiles))
        raise NetpollError(f"poll: unknown --profile {profile!r} (known: {known})")
    rounds: list[list[ProbeResult]] = []
    slots = asyncio.Semaphore(defaults.MAX_CONCURRENT_SNMP)  # as the daemon's scheduler
    # Every gufo reply checked before decoding: a one-shot command never shows a gufo decoder panic.
    async with SnmpClientPool(backend=backend or "auto", check_replies=True) as pool:
        poller = SnmpPoller(pool, profiles, explain=decisions is not None)

        async def poll(device: Device) -> ProbeResult:
            async with slots:  # the budget starts with the poll, not with the wait for a slot
                return await poller.run(device, Budget.start(deadline or _budget_s(device)))

        start = time.monotonic()
        for i in range(samples):
            if i:
                await asyncio.sleep(max(0.0, start + i * every - time.monotonic()))
            rounds.append(list(await asyncio.gather(*(poll(d) for d in devices))))
        if decisions is not None:
            decisions.update({d.name: poller.decisions(d.name) for d in devices})
    return rounds


def _budget_s(device: Device) -> float:
    settings = device.snmp
    assert settings is not None  # resolve_targets keeps SNMP devices only
    cycle = settings.timeout_s * (settings.retries + 1) + 1.0
    return max(settings.interval_s * defaults.DEADLINE_FRACTION, cycle)


def handle(args: argparse.Namespace) -> int:
    """Poll, print, and return 0 when every device answered, else 1."""
    if args.explain and args.format == "lp":
        raise NetpollError("poll: --explain shows a table or JSON: use --format table or --format json")
    devices = resolve_targets(args, os.environ)
    decisions: dict[str, list[Decision]] | None = {} if args.explain else None
    rounds = asyncio.run(
        poll_rounds(
            devices,
            samples=args.samples,
            every=args.every,
            backend=args.backend,
            profile=args.profile,
            profiles_dir=args.profiles_dir,
            deadline=args.deadline,
            decisions=decisions,
        )
    )
    stderr = Console(stderr=True, highlight=False, emoji=False)
    records = [[result.samples for result in rnd] for rnd in rounds]
    rename = renamer(args.naming) if args.format != "table" else None
    if rename is not None:
        records = [[rename(samples) for samples in rnd] for rnd in records]
    try:
        _print(
            records,
            args.format,
            interfaces=not args.no_interfaces,
            failed_only=args.failed_only,
            decisions=decisions,
        )
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    failed = [(device, result) for device, result in zip(devices, rounds[-1], strict=True) if not result.ok]
    for device, result in failed:
        line = f"{for_terminal(device.name)}: {for_terminal(result.error or 'failed')}"
        stderr.print(line, markup=False, soft_wrap=True)
    return 1 if failed else 0


def _status(samples: Sequence[Sample]) -> Sample | None:
    return next((s for s in samples if s.measurement == "snmp"), None)


def _ok(samples: Sequence[Sample]) -> bool:
    status = _status(samples)
    return status is not None and status.fields.get("poll_ok") == 1


# --- output ----------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """A device string as a table cell: markup escaped, no control or escape sequences (``netpoll.text``)."""
    return escape(for_terminal(text))


def _print(
    rounds: list[list[list[Sample]]],
    fmt: str,
    *,
    interfaces: bool,
    failed_only: bool = False,
    decisions: Mapping[str, Sequence[Decision]] | None = None,
) -> None:
    if failed_only:
        rounds = [[samples for samples in rnd if not _ok(samples)] for rnd in rounds]
    if fmt == "json":
        records = [s.to_dict() for rnd in rounds for dev in rnd for s in dev]
        if decisions is None:
            print(json.dumps(records, indent=2))
        else:  # --explain: the records and, beside them, every interface and its selection
            print(json.dumps({"records": records, "interfaces": explanation_json(decisions)}, indent=2))
        return
    if fmt == "lp":
        sys.stdout.write("".join(s.to_line_protocol() + "\n" for rnd in rounds for dev in rnd for s in dev))
        return
    last = rounds[-1]
    width = terminal_width()
    print_table(*_device_table(last, len(rounds)), width)
    shown_interfaces = False
    if interfaces:
        for samples in last:
            table = _interface_table(samples)
            if table is not None:
                print_table(*table, width)
                shown_interfaces = True
            for row_table in _row_tables(samples):
                print_table(*row_table, width)
    if shown_interfaces and len(rounds) == 1:
        print(_RATES_NEED_TWO)
    if decisions is not None:
        print_explanation(decisions)
    ok = sum(1 for samples in last if _ok(samples))
    if failed_only:
        print(f"{len(last)} device{'s' if len(last) != 1 else ''} failed")
    else:
        print(f"{len(last)} device{'s' if len(last) != 1 else ''}: {ok} ok, {len(last) - ok} failed")


def _num(value: Any) -> str:
    return "-" if value is None else human(value)


def _si(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    v = float(value)
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor:
            return f"{human(v / factor)}{prefix}{unit}"
    return f"{human(v)}{unit}"


def _uptime(seconds: Any) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    days, s = divmod(s, 86400)
    return f"{days}d {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


Table = tuple[str, list[Column], list[list[str]]]

_DEVICE_COLUMNS = columns(
    """
    device
    agent
    profile       | 3
    sysName       | 4
    uptime        | 2
    cpu %         | 2 >
    mem %         | 2 >
    temp °C       | 5 >
    sessions      | 6 >
    ifs           | 3 >
    varbinds      | 6 >
    ms            | 4 >
    status
    """
)


def _device_table(devices: list[list[Sample]], rounds: int) -> Table:
    title = f"snmp: {len(devices)} device{'s' if len(devices) != 1 else ''}"
    if rounds > 1:
        title += f", sample {rounds} of {rounds}"
    rows = []
    for samples in devices:
        status = _status(samples)
        if status is None:
            continue
        f = status.fields
        ok = f.get("poll_ok") == 1
        state = "[green]ok[/green]" if ok else "[red]failed[/red]"
        if f.get("rebooted"):
            state += " [yellow]rebooted[/yellow]"
        name, agent = status.tags.get("device", ""), status.tags.get("agent_host", "")
        rows.append(
            [
                _cell(name),
                "" if agent in name else _cell(agent),  # an ad-hoc target is named by its address
                _cell(str(f.get("profile", "-"))),
                _cell(str(f.get("sys_name", "-"))),
                _uptime(f.get("uptime_s")),
                _num(f.get("cpu_pct")),
                _num(f.get("mem_used_pct")),
                _num(f.get("temperature_c")),
                _num(f.get("sessions")),
                str(sum(1 for s in samples if s.measurement == "interface")) if ok else "-",
                str(f.get("varbinds", 0)),
                _num(f.get("poll_duration_ms")),
                state,
            ]
        )
    return title, _DEVICE_COLUMNS, rows


_OPER = {
    1: "[green]up[/green]",
    2: "[red]down[/red]",
    3: "testing",
    5: "dormant",
    6: "notPresent",
    7: "lowerDown",
}
_INTERFACE_COLUMNS = columns(
    """
    ifName
    ifIndex       | 6 >
    ifAlias       | 5
    oper          | 1
    admin         | 4
    speed         | 3 >
    in bps        | 1 >
    out bps       | 1 >
    in %          | 2 >
    out %         | 2 >
    in pps        | 5 >
    out pps       | 5 >
    err/s in/out  | 4 >
    disc/s in/out | 4 >
    """
)
_RATES_NEED_TWO = (
    "rates (bps, pps, %, err/s, disc/s; '-' above) are differences between two polls:"
    " add --samples 2 (10 s apart by default, --every to change)"
)


def _admin(status: Any) -> str:
    return "-" if status is None else ADMIN_STATUS.get(int(status), str(status))


def _row_tables(samples: list[Sample]) -> list[Table]:
    """One table per per-row profile table (``bgp_peer``, ``sensor``, ...): its row tags, then its fields."""
    status = _status(samples)
    device_tags = set(status.tags) if status is not None else set()
    by_measurement: dict[str, list[Sample]] = {}
    for sample in samples:
        if sample.measurement not in ("interface", "snmp"):
            by_measurement.setdefault(sample.measurement, []).append(sample)
    tables: list[Table] = []
    for name, rows in by_measurement.items():
        tags = list(dict.fromkeys(k for s in rows for k in s.tags if k not in device_tags and k != "index"))
        fields = list(dict.fromkeys(k for s in rows for k in s.fields))
        # The row's own tags are never dropped; its index and fields go first when the terminal is narrow.
        heads = [Column(t) for t in tags] + [Column("index", 2)]
        heads += [Column(f, 1, "right") for f in fields]
        cells = [
            [_cell(s.tags.get(t, "")) for t in (*tags, "index")]
            + [_cell(str(s.fields[f])) if f in s.fields else "-" for f in fields]
            for s in rows
        ]
        device = rows[0].tags.get("device", "")
        tables.append((_cell(f"{device}: {len(rows)} {name} rows"), heads, cells))
    return tables


def _interface_table(samples: list[Sample]) -> Table | None:
    rows = [s for s in samples if s.measurement == "interface"]
    if not rows:
        return None
    title = _cell(f"{rows[0].tags.get('device', '')}: {len(rows)} interfaces")
    cells = []
    for s in rows:
        f = s.fields
        cells.append(
            [
                _cell(s.tags.get("ifName", "")),
                _cell(s.tags.get("ifIndex", "")),
                _cell(s.tags.get("ifAlias", "")),
                _OPER.get(int(f["oper_status"]), str(f["oper_status"])) if "oper_status" in f else "-",
                _admin(f.get("admin_status")),
                _si(f.get("speed_bps")),
                _si(f.get("in_bps")),
                _si(f.get("out_bps")),
                _num(f.get("in_util_pct")),
                _num(f.get("out_util_pct")),
                _si(f.get("in_pps")),
                _si(f.get("out_pps")),
                f"{_num(f.get('in_errors_ps'))}/{_num(f.get('out_errors_ps'))}",
                f"{_num(f.get('in_discards_ps'))}/{_num(f.get('out_discards_ps'))}",
            ]
        )
    return title, _INTERFACE_COLUMNS, cells
