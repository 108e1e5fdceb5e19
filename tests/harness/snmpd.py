"""net-snmp snmpd with a generated configuration: v2c ro/rw communities and SNMPv3 users."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.harness.ports import free_port
from tests.harness.process import ServerHandle, ServerProcess, ServerStartError, log_ready, require_binary

if TYPE_CHECKING:
    from tests.harness.netns import Netns

SYS_DESCR_OID = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID_OID = "1.3.6.1.2.1.1.2.0"
# nsCacheTimeout of ifTable: SET it to 0 through the rw community so counters are read fresh (DESIGN.md).
IF_TABLE_CACHE_TIMEOUT_OID = "1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2"


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 USM user of the test agent; protocol names are net-snmp's (``SHA-256``, ``AES``, ...).

    ``AES`` means AES-128 (CFB). ``priv_protocol``/``auth_protocol`` are None for the lower security levels.
    """

    name: str
    auth_protocol: str | None
    auth_key: str | None
    priv_protocol: str | None
    priv_key: str | None

    @property
    def security_level(self) -> str:
        """``authPriv``, ``authNoPriv`` or ``noAuthNoPriv``."""
        if self.priv_protocol:
            return "authPriv"
        return "authNoPriv" if self.auth_protocol else "noAuthNoPriv"

    def netsnmp_args(self) -> list[str]:
        """Arguments for net-snmp's command line tools (``snmpget -v3 ...``)."""
        args = ["-v3", "-l", self.security_level, "-u", self.name]
        if self.auth_protocol and self.auth_key:
            args += ["-a", self.auth_protocol, "-A", self.auth_key]
        if self.priv_protocol and self.priv_key:
            args += ["-x", self.priv_protocol, "-X", self.priv_key]
        return args

    def create_user_line(self) -> str:
        parts = ["createUser", self.name]
        if self.auth_protocol and self.auth_key:
            parts += [self.auth_protocol, self.auth_key]
            if self.priv_protocol and self.priv_key:
                parts += [self.priv_protocol, self.priv_key]
        return " ".join(parts)


def _make_users() -> dict[str, V3User]:
    token = secrets.token_hex(4)  # unique per run, so tests grepping output for secrets find real ones

    def user(name: str, auth: str | None, priv: str | None) -> V3User:
        return V3User(
            name=name,
            auth_protocol=auth,
            auth_key=f"auth-{name}-{token}" if auth else None,
            priv_protocol=priv,
            priv_key=f"priv-{name}-{token}" if priv else None,
        )

    users = [
        user("sha256_aes128", "SHA-256", "AES"),
        user("sha_aes", "SHA", "AES"),
        user("md5_des", "MD5", "DES"),
        user("sha512_aes256", "SHA-512", "AES-256"),
        user("sha_nopriv", "SHA", None),
        user("noauth_nopriv", None, None),
    ]
    return {u.name: u for u in users}


@dataclass
class SnmpdAgent(ServerHandle):
    """A running snmpd. ``host``/``port`` is the first listening address; ``addresses`` has them all.

    A restart keeps the engine boots and the users, in snmpd's own persistent directory.
    """

    host: str
    port: int
    community: str
    rw_community: str
    v3_users: dict[str, V3User]
    addresses: list[tuple[str, int]]
    workdir: Path
    process: ServerProcess
    netns: str | None = None
    config_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config_path = self.workdir / "snmpd.conf"


def _endpoint(address: str, default_port: int) -> tuple[str, str, int]:
    """Parse ``HOST``, ``HOST:PORT``, ``udp:HOST:PORT``, ``[V6]:PORT`` into (transport spec, host, port)."""
    spec = address
    for prefix in ("udp6:", "udp:"):
        if spec.startswith(prefix):
            spec = spec[len(prefix) :]
    if spec.startswith("["):  # [::1]:161
        host, _, port_text = spec[1:].partition("]")
        port = int(port_text.lstrip(":") or default_port)
        return f"udp6:[{host}]:{port}", host, port
    if spec.count(":") > 1:  # bare IPv6
        return f"udp6:[{spec}]:{default_port}", spec, default_port
    host, _, port_text = spec.partition(":")
    port = int(port_text or default_port)
    return f"udp:{host}:{port}", host, port


def start_snmpd(
    workdir: Path,
    addresses: Sequence[str] | None = None,
    netns: Netns | None = None,
    extra_config: str = "",
    port: int | None = None,
) -> SnmpdAgent:
    """Start snmpd in ``workdir`` and return it once it answers.

    ``addresses`` are ``HOST[:PORT]`` strings (``udp:``/``udp6:`` prefixes allowed); without a port they use
    ``port`` (default: a free UDP port, or 161 inside a namespace). Default address: 127.0.0.1, or the
    namespace's ``ns_ip``. The addresses go on the command line because snmpd silently truncates a long
    ``agentaddress`` line.
    """
    picked = port is None and netns is None
    for attempt in range(3):
        try:
            return _start_snmpd(
                workdir / f"try{attempt}" if attempt else workdir, addresses, netns, extra_config, port
            )
        except ServerStartError as exc:
            # A free port picked here was taken before snmpd bound it (tests run side by side): pick again.
            if not picked or attempt == 2 or "Error opening specified endpoint" not in str(exc):
                raise
    raise AssertionError("unreachable")


def _start_snmpd(
    workdir: Path,
    addresses: Sequence[str] | None,
    netns: Netns | None,
    extra_config: str,
    port: int | None,
) -> SnmpdAgent:
    snmpd = require_binary("snmpd", "Debian package snmpd")
    if port is None:
        port = 161 if netns is not None else free_port("udp")
    if not addresses:
        addresses = [netns.ns_ip if netns is not None else "127.0.0.1"]
    endpoints = [_endpoint(a, port) for a in addresses]
    workdir.mkdir(parents=True, exist_ok=True)
    persistent = workdir / "persist"
    persistent.mkdir(exist_ok=True)  # fresh per agent: stale engine boots / users break SNMPv3

    community = f"ro-{secrets.token_hex(4)}"
    rw_community = f"rw-{secrets.token_hex(4)}"
    users = _make_users()
    rw_sources = ["127.0.0.1"] + ([netns.host_ip] if netns is not None else [])
    lines = [
        "# generated by tests/harness/snmpd.py",
        f"rocommunity {community} default",
        f"rocommunity6 {community} default",
        *(f"rwcommunity {rw_community} {src}" for src in rw_sources),
        *(u.create_user_line() for u in users.values()),
        *(
            f"rouser -s usm {u.name} {'priv' if u.priv_protocol else 'auth' if u.auth_protocol else 'noauth'}"
            for u in users.values()
        ),
        "sysLocation netpoll test lab",
        "sysContact netpoll tests",
        "dontLogTCPWrappersConnects yes",
        extra_config,
    ]
    (workdir / "snmpd.conf").write_text("\n".join(lines) + "\n")

    argv = [
        snmpd,
        "-f",  # foreground: we own the PID
        "-Lo",  # log to stdout (captured)
        "-C",  # no system config files
        "-c",
        str(workdir / "snmpd.conf"),
        "-I",
        "-smux",  # no SMUX listener on the fixed port 199
        "-p",
        str(workdir / "snmpd.pid"),
        *(spec for spec, _, _ in endpoints),
    ]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns.name, *argv]
    process = ServerProcess(
        "snmpd",
        argv,
        log_dir=workdir,
        ready=log_ready("NET-SNMP version"),
        env={"SNMP_PERSISTENT_DIR": str(persistent), "MIBS": "", "MIBDIRS": "/nonexistent"},
        timeout=60.0 if len(endpoints) > 100 else 20.0,
        nofile=len(endpoints) + 256 if len(endpoints) > 200 else None,
    )
    process.start()
    return SnmpdAgent(
        host=endpoints[0][1],
        port=endpoints[0][2],
        community=community,
        rw_community=rw_community,
        v3_users=users,
        addresses=[(host, p) for _, host, p in endpoints],
        workdir=workdir,
        process=process,
        netns=netns.name if netns is not None else None,
    )
