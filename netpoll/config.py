"""The daemon's own configuration: one YAML file, embedded defaults, ``NETPOLL_<SECTION>__<KEY>`` overrides.

Order of precedence (last wins): the embedded defaults, the file (``load_config(path)``, else the file
``$NETPOLL_CONFIG`` names, else none), then environment variables: ``NETPOLL_INFLUXDB__URL``,
``NETPOLL_MQTT__TLS__CA_FILE`` (one ``__`` per level), and for the top-level keys ``NETPOLL_DATA_DIR``,
``NETPOLL_STATE_DIR``, ``NETPOLL_THRESHOLDS``, ``NETPOLL_PROFILES_DIR``, ``NETPOLL_SHARD`` and
``NETPOLL_INVENTORIES`` (comma separated). Values from the environment are read as YAML scalars (``true``,
``5``); an empty value means null. Relative paths in the file resolve against the file's directory (``~``
expanded, as for secret files), others against the working directory. Secrets (``influxdb.token``,
``influxdb.password``, ``mqtt.password``) follow the inventory rule: ``${ENV_VAR}`` or ``*_file: PATH``,
never a literal in the file (``NETPOLL_INFLUXDB__TOKEN`` is itself from the environment, so it is accepted
as is).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from netpoll import defaults
from netpoll.configkit.files import resolve_path, unreadable
from netpoll.configkit.problems import Problems, hint
from netpoll.configkit.secrets import (
    DEFAULT_SECRET_DIRS,
    DEFAULT_SECRET_ENV,
    SecretError,
    SecretPolicy,
    config_secret_refs,
    resolve_secret,
)
from netpoll.configkit.units import ByteSize
from netpoll.configkit.validation import describe, expect
from netpoll.configkit.yamlsource import PathKey, YamlSource, load_yaml
from netpoll.inventory.addresses import AddressError, parse_address
from netpoll.inventory.models import SnmpBackendName
from netpoll.naming import Naming
from netpoll.sharding import ShardError, parse_shard

__all__ = [
    "DEFAULT_HTTP_LISTEN",
    "DEFAULT_INVENTORIES",
    "DaemonConfig",
    "HttpConfig",
    "InfluxConfig",
    "LogConfig",
    "MqttConfig",
    "SchedulerConfig",
    "TlsConfig",
    "TrapsConfig",
    "load_config",
]

# What ``netpoll run`` polls with no configuration file: empty until the daemon points it at its demo lab.
DEFAULT_INVENTORIES: tuple[str, ...] = ()
# The HTTP endpoint (metrics, health) is off unless configured, so two daemons never fight over a port.
DEFAULT_HTTP_LISTEN: str | None = None
CONFIG_ENV = "NETPOLL_CONFIG"
ENV_PREFIX = "NETPOLL_"

# (section, key) of every secret: read from ${VAR} or KEY_file.
_SECRETS = (("influxdb", "token"), ("influxdb", "password"), ("mqtt", "password"))
# Keys holding paths, resolved against the configuration file's directory.
_PATHS: tuple[PathKey, ...] = (
    ("data_dir",),
    ("state_dir",),
    ("thresholds",),
    ("profiles_dir",),
    *(
        (section, "tls", key)
        for section in ("influxdb", "mqtt")
        for key in ("ca_file", "cert_file", "key_file")
    ),
)
_TOP_SCALARS = ("inventories", "data_dir", "state_dir", "thresholds", "profiles_dir", "shard", "naming")
_SECTIONS = ("influxdb", "mqtt", "scheduler", "http", "log", "inventory_secrets", "traps")


def _listen(value: str) -> str:
    try:
        address = parse_address(value)
    except AddressError:
        address = None
    if address is None or address.port is None:
        raise ValueError(f"listen '{value}' must be HOST:PORT, e.g. 127.0.0.1:9108 or [::1]:9108")
    return value


def _trap_listen(value: str) -> str:
    from netpoll.inputs.traps.listen import parse_listen

    parse_listen(value)  # ValueError with the message
    return value


def _engine_id(value: str) -> str:
    text = value.removeprefix("0x").removeprefix("0X")
    try:
        octets = bytes.fromhex(text)
    except ValueError:
        octets = b""
    if not 5 <= len(octets) <= 32:
        raise ValueError(f"engine_id '{value}' must be 5 to 32 octets in hex, e.g. 0x80004fb805aabbccdd")
    return text.lower()


def _shard(value: str) -> str:
    try:
        index, count = parse_shard(value)
    except ShardError as exc:
        raise ValueError(str(exc)) from None
    return f"{index}/{count}"


def _thresholds(value: Path) -> Path:
    try:
        found = value.is_file()
    except OSError as exc:  # e.g. a directory on the way without search permission
        raise ValueError(f"thresholds file {value}: {unreadable(exc)}") from None
    if not found:
        raise ValueError(f"thresholds file {value} not found: fix the path, or null for the shipped rules")
    return value


def _profiles_dir(value: Path) -> Path:
    try:
        found = value.is_dir()
    except OSError as exc:
        raise ValueError(f"profiles_dir {value}: {unreadable(exc)}") from None
    if not found:
        raise ValueError(
            f"profiles_dir {value} is not a directory: fix the path, or null for the shipped ones"
        )
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TlsConfig(_Frozen):
    """TLS to the InfluxDB server or the MQTT broker. No ``ca_file``: the system's CAs."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False  # skip certificate and host name verification (tests only)

    @model_validator(mode="after")
    def _readable(self) -> TlsConfig:
        for key in ("ca_file", "cert_file", "key_file"):
            path: Path | None = getattr(self, key)
            if path is not None and not os.access(path, os.R_OK):
                raise ValueError(f"tls.{key} {path} is missing or unreadable: fix the path or permissions")
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("tls.key_file without tls.cert_file: add the client certificate")
        return self


class InfluxConfig(_Frozen):
    """Where and how the InfluxDB output writes (``netpoll.outputs.influxdb``). Absent: files in ``data_dir``.

    ``api`` picks the write API: ``v2`` (``/api/v2/write``: InfluxDB 2.x/3.x, 1.8+, VictoriaMetrics), ``v1``
    (``/write?db=``: every InfluxDB 1.x, also 1.6 and 1.7 that have no v2 API), or ``auto`` (asks ``/ping``
    once: a server that names itself InfluxDB 1.x gets ``v1``, anything else ``v2``). ``token`` is a v2
    secret; ``username``/``password`` (a secret) authenticate a v1 write. ``timeout_s`` is the wall-clock
    deadline of one whole write, not of one socket read.
    """

    url: str
    api: Literal["auto", "v1", "v2"] = "auto"
    org: str = ""
    bucket: str = "netpoll"
    token: SecretStr | None = None
    database: str | None = None  # v1; None: the bucket's name
    retention_policy: str = ""  # v1; "": the database's default policy
    username: str | None = None  # v1
    password: SecretStr | None = None  # v1
    tls: TlsConfig | None = None
    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    flush_interval_s: float = Field(default=1.0, gt=0, le=3600)
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    gzip: bool = True
    queue_max_points: int = Field(default=100_000, ge=1)
    queue_max_bytes: ByteSize = Field(default=32 * 1024**2, ge=1024)
    spool_max_bytes: ByteSize = Field(default=256 * 1024**2, ge=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # The url is logged and shown by `netpoll check`: a user:password@ in it would be a secret in clear,
        # so it is refused, and never echoed (only what follows the last '@' is).
        shown = value if "@" not in value else "...@" + value.rpartition("@")[2]
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"url '{shown}' must start with http:// or https://, e.g. http://127.0.0.1:8086")
        if "@" in value.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError(
                f"url '{shown}' must not hold a user or password (user:password@): use token (v2), or"
                " username and password: ${ENV_VAR} (v1)"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _v1_auth(self) -> InfluxConfig:
        if self.password is not None and self.username is None:
            raise ValueError("password without username: add username (InfluxDB 1.x authentication)")
        return self

    @property
    def v1_database(self) -> str:
        """The database a v1 write goes to."""
        return self.database or self.bucket


class MqttConfig(_Frozen):
    """The MQTT broker alerts go to. Absent: alerts are only logged."""

    host: str
    port: int = Field(default=1883, ge=1, le=65535)
    tls: TlsConfig | None = None
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = "netpoll"
    client_id: str | None = None
    protocol: Literal["auto", "5", "3.1.1"] = "auto"  # auto: MQTT 5, 3.1.1 for a broker without it
    instance: str = Field(default_factory=socket.gethostname)
    queue_max: int = Field(default=10_000, ge=1, le=10_000_000)

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: Any) -> Any:
        # MQTT over TLS listens on 8883 by convention; only when no port is given.
        if isinstance(data, dict) and data.get("tls") is not None and data.get("port") is None:
            data = {**data, "port": 8883}
        return data

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_text(cls, value: Any) -> Any:
        # YAML reads a bare 5 as a number and 3.1.1 as text
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("topic_prefix")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not value or value.startswith("/") or value.endswith("/") or any(c in value for c in "+#\0"):
            raise ValueError(
                f"topic_prefix '{value}' must be a non-empty topic without '+', '#' or a leading or trailing"
                " '/', e.g. netpoll or noc/netpoll"
            )
        return value

    @model_validator(mode="after")
    def _password_needs_user(self) -> MqttConfig:
        if self.password is not None and self.username is None:
            raise ValueError("password without username: add username")
        return self


class SchedulerConfig(_Frozen):
    """Concurrency limits of the scheduler."""

    max_concurrent_snmp: int = Field(default=defaults.MAX_CONCURRENT_SNMP, ge=1, le=100_000)
    max_concurrent_icmp: int = Field(default=defaults.MAX_CONCURRENT_ICMP, ge=1, le=100_000)
    snmp_backend: SnmpBackendName = "auto"


class HttpConfig(_Frozen):
    """The daemon's HTTP endpoint (metrics, health): ``HOST:PORT``, or null for none."""

    listen: Annotated[str, AfterValidator(_listen)] | None = DEFAULT_HTTP_LISTEN

    @property
    def host(self) -> str | None:
        """The address to bind, or None when off."""
        return None if self.listen is None else parse_address(self.listen).host

    @property
    def port(self) -> int | None:
        """The port to bind, or None when off."""
        return None if self.listen is None else parse_address(self.listen).port


class TrapsConfig(_Frozen):
    """The SNMP trap and inform receiver (``netpoll.inputs.traps``). Off unless ``enabled``.

    ``listen``: ``ADDR:PORT`` IP literals, ``[::]:162`` for IPv6 (which takes IPv4 senders too on Linux);
    ports below 1024 need ``CAP_NET_BIND_SERVICE`` (docs/traps.md). ``rate_per_source``: datagrams per
    second accepted from one sender address (a burst of twice that). ``poll_on_link_change``: a linkDown or
    linkUp makes an immediate SNMP poll of the device, whose interface record then raises the alert.
    """

    enabled: bool = False
    listen: tuple[Annotated[str, AfterValidator(_trap_listen)], ...] = Field(
        default=(f"0.0.0.0:{defaults.TRAP_PORT}",), max_length=64
    )
    queue_size: int = Field(default=defaults.TRAP_QUEUE_SIZE, ge=1, le=10_000_000)
    rate_per_source: float = Field(default=defaults.TRAP_RATE_PER_SOURCE, gt=0, le=1_000_000)
    poll_on_link_change: bool = True
    # The receiver's SNMP engine ID (hex), which SNMPv3 inform senders discover; None: derived from the
    # instance name, so it stays the same across restarts.
    engine_id: Annotated[str, AfterValidator(_engine_id)] | None = None

    @field_validator("listen", mode="before")
    @classmethod
    def _listen_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("listen")
    @classmethod
    def _some_listen(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("listen needs an ADDR:PORT, e.g. 0.0.0.0:162 (enabled: false turns it off)")
        return value

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """``listen`` as (address, port) pairs."""
        from netpoll.inputs.traps.listen import parse_listen

        return [parse_listen(text) for text in self.listen]


class LogConfig(_Frozen):
    """Logging of the daemon."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def _variable_pattern(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\*?", value):
        raise ValueError(f"'{value}' must be a variable name, or a prefix ending in '*' (e.g. SNMP_*)")
    return value


def _absolute_dir(value: str) -> str:
    if not Path(value).is_absolute():
        raise ValueError(f"'{value}' must be an absolute directory, e.g. /run/secrets/netpoll")
    return value


class InventorySecretsConfig(_Frozen):
    """Where inventories' secrets may come from (see netpoll.configkit.secrets.SecretPolicy).

    ``env``: variable names or prefixes ending in ``*`` a ``${VAR}`` may name (the daemon's own
    ``NETPOLL_<SECTION>__*`` variables and those this configuration's secrets name never are). ``dirs``:
    directories a ``*_file`` may be in, besides the inventory's own (symlinks resolved first; systemd's
    ``$CREDENTIALS_DIRECTORY`` is added when set).
    """

    env: tuple[Annotated[str, AfterValidator(_variable_pattern)], ...] = DEFAULT_SECRET_ENV
    dirs: tuple[Annotated[str, AfterValidator(_absolute_dir)], ...] = DEFAULT_SECRET_DIRS


class DaemonConfig(_Frozen):
    """The whole daemon configuration, validated and with secrets resolved."""

    inventories: tuple[Path, ...] = tuple(Path(path) for path in DEFAULT_INVENTORIES)
    data_dir: Path = Path("data")
    state_dir: Path = Path("data/state")
    influxdb: InfluxConfig | None = None
    mqtt: MqttConfig | None = None
    scheduler: SchedulerConfig = SchedulerConfig()
    thresholds: Annotated[Path, AfterValidator(_thresholds)] | None = None  # None: the shipped rules
    # Your own device profiles, over the shipped mibs/ (docs/profiles.md); None: the shipped ones only.
    profiles_dir: Annotated[Path, AfterValidator(_profiles_dir)] | None = None
    http: HttpConfig = HttpConfig()
    log: LogConfig = LogConfig()
    inventory_secrets: InventorySecretsConfig = InventorySecretsConfig()
    traps: TrapsConfig = TrapsConfig()
    # "I/N": poll only shard I of N (see netpoll.sharding)
    shard: Annotated[str, AfterValidator(_shard)] | None = None
    # How the time-series output names things: netpoll's own, or Telegraf's beside them (netpoll.naming)
    naming: Naming = "netpoll"
    # The file this came from, for messages; None: embedded defaults. Set by load_config, never by the file
    # (exclude: not offered among the keys a file may hold).
    source: str | None = Field(default=None, exclude=True)
    # The variables and (real) files this configuration's own secrets come from: never an inventory's.
    _own_secrets: tuple[frozenset[str], frozenset[str]] = PrivateAttr(default=(frozenset(), frozenset()))

    def secret_policy(self, environ: Mapping[str, str] | None = None) -> SecretPolicy:
        """What the inventories this daemon loads may read their secrets from."""
        env = os.environ if environ is None else environ
        credentials = env.get("CREDENTIALS_DIRECTORY")
        dirs = self.inventory_secrets.dirs + ((credentials,) if credentials else ())
        variables, files = self._own_secrets
        return SecretPolicy(self.inventory_secrets.env, dirs, variables, files)

    @field_validator("inventories", mode="before")
    @classmethod
    def _inventory_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def shard_spec(self) -> tuple[int, int] | None:
        """``(index, count)`` of ``shard``, or None."""
        if self.shard is None:
            return None
        index, count = self.shard.split("/")
        return int(index), int(count)

    def summary(self) -> dict[str, str]:
        """One line per section for ``netpoll check --config``; never a secret."""
        lines = {
            "config": self.source or "(embedded defaults)",
            "inventories": ", ".join(str(path) for path in self.inventories) or "(none)",
            "data_dir": str(self.data_dir),
            "state_dir": str(self.state_dir),
        }
        if self.influxdb is None:
            lines["output"] = f"files in {self.data_dir} (no influxdb section)"
        else:
            influx = self.influxdb
            token = "token set" if influx.token is not None else "no token"
            v1 = f"database={influx.v1_database!r}" + (f" user={influx.username}" if influx.username else "")
            tls = " tls" if influx.tls is not None else ""
            lines["output"] = (
                f"influxdb {influx.url}{tls} api={influx.api} org={influx.org!r} bucket={influx.bucket!r}"
                f" ({token}); v1 {v1}"
            )
        if self.mqtt is None:
            lines["alerts"] = "log only (no mqtt section)"
        else:
            mqtt = self.mqtt
            tls = " tls" if mqtt.tls is not None else ""
            auth = f" user={mqtt.username}" if mqtt.username else ""
            lines["alerts"] = f"mqtt {mqtt.host}:{mqtt.port}{tls}{auth} topics {mqtt.topic_prefix}/..."
        sched = self.scheduler
        lines["scheduler"] = (
            f"snmp<={sched.max_concurrent_snmp} icmp<={sched.max_concurrent_icmp}"
            f" backend={sched.snmp_backend}"
        )
        lines["thresholds"] = str(self.thresholds) if self.thresholds else "(shipped defaults)"
        lines["profiles"] = f"shipped mibs/ + {self.profiles_dir}" if self.profiles_dir else "shipped mibs/"
        lines["http"] = self.http.listen or "(off)"
        lines["log"] = f"{self.log.level} {self.log.format}"
        lines["shard"] = self.shard or "(all devices)"
        lines["naming"] = self.naming
        traps = self.traps
        lines["traps"] = (
            f"listen {', '.join(traps.listen)} queue {traps.queue_size}"
            f" rate/source {traps.rate_per_source:g}/s"
            if traps.enabled
            else "(off)"
        )
        secrets = self.inventory_secrets
        lines["inventory_secrets"] = (
            f"env {', '.join(secrets.env) or '(none)'}; files in {', '.join(secrets.dirs)}"
        )
        return lines


def load_config(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> DaemonConfig:
    """Load the daemon configuration (embedded defaults when no file), with environment overrides.

    Raises:
        ConfigError: every problem, ``file:line: message`` (``environment: NETPOLL_...: message`` for
            an override).
    """
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_ENV):
        path = env[CONFIG_ENV]
    problems = Problems()
    if path is None:
        source = YamlSource(file="(embedded defaults)", data={}, problems=problems)
        base_dir = None
    else:
        loaded = load_yaml(Path(path), problems)
        if loaded is None:
            problems.raise_if_any()
        assert loaded is not None
        source = loaded
        base_dir = source.base_dir
        if source.data is None:
            source.data = {}
        if not expect(source, (), source.data, dict, "a mapping of sections"):
            problems.raise_if_any()
    data: dict[str, Any] = source.data
    if "source" in data:
        problems.add(source.file, source.line(("source",)), "unknown key 'source': remove it")
    if base_dir is not None:
        _resolve_paths(data, base_dir)
    in_file = set(data)
    env_origin = _apply_environment(data, env, problems)
    own_secrets = _resolve_secrets(data, source, env_origin, env, base_dir or Path.cwd(), problems)
    data["source"] = None if path is None else source.file
    config: DaemonConfig | None = None
    try:
        config = DaemonConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            origin = next(
                (env_origin[loc[:end]] for end in range(len(loc), 0, -1) if loc[:end] in env_origin), None
            )
            if origin is None and loc and loc[0] not in in_file:
                # A section only the environment created (NETPOLL_MQTT__PASSWORD alone): blame its variables.
                origin = ", ".join(sorted(v for k, v in env_origin.items() if k[0] == loc[0])) or None
            message = describe(DaemonConfig, error)
            if origin is not None:
                problems.add("environment", 0, f"{origin}: {message}")
            else:
                problems.add(source.file, source.line(loc), message)
    problems.raise_if_any()
    assert config is not None
    config._own_secrets = own_secrets
    return config


def _resolve_paths(data: dict[str, Any], base_dir: Path) -> None:
    inventories = data.get("inventories")
    if isinstance(inventories, str):
        inventories = [inventories]
    if isinstance(inventories, list):
        data["inventories"] = [_joined(item, base_dir) for item in inventories]
    for key_path in _PATHS:
        parent: Any = data
        for key in key_path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and key_path[-1] in parent:
            parent[key_path[-1]] = _joined(parent[key_path[-1]], base_dir)
    for section, key in _SECRETS:
        body = data.get(section)
        if isinstance(body, dict) and isinstance(body.get(f"{key}_file"), str):
            body[f"{key}_file"] = _joined(body[f"{key}_file"], base_dir)


def _joined(value: Any, base_dir: Path) -> Any:
    # The same rule as the secret files': ~ expanded, relative to the file's directory.
    return str(resolve_path(value, base_dir)) if isinstance(value, str) and value else value


def _apply_environment(
    data: dict[str, Any], env: Mapping[str, str], problems: Problems
) -> dict[PathKey, str]:
    """Apply ``NETPOLL_*`` overrides to ``data``; return which variable set which key path."""
    origin: dict[PathKey, str] = {}
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX) or variable == CONFIG_ENV:
            continue
        parts = variable[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) == 1:
            if parts[0] not in _TOP_SCALARS:
                continue  # NETPOLL_SHARDS, secrets referenced as ${NETPOLL_...}: not ours to judge
            key_path: PathKey = (parts[0],)
        else:
            if parts[0] not in _SECTIONS:
                listed = hint(parts[0], _SECTIONS, "sections")
                problems.add("environment", 0, f"{variable}: unknown section '{parts[0]}'{listed}")
                continue
            key_path = tuple(parts)
        raw = env[variable]
        value: Any
        if (key_path[0], key_path[-1]) in _SECRETS and len(key_path) == 2:
            value = f"${{{variable}}}"  # resolved like any ${VAR} secret, never parsed or shown
        elif key_path == ("inventories",):
            value = [item.strip() for item in raw.split(",") if item.strip()]
        elif raw == "":
            value = None
        else:
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                value = raw
            if isinstance(value, dict | list):
                value = raw
        parent: dict[Any, Any] = data
        for key in key_path[:-1]:
            child = parent.get(key)
            if not isinstance(child, dict):
                child = {}
                parent[key] = child
            parent = child
        parent[key_path[-1]] = value
        if len(key_path) == 2:
            # The environment beats the file whichever way each writes the secret (KEY or KEY_file).
            parent.pop(_other_secret_form(*key_path), None)
        origin[key_path] = variable
    return origin


def _other_secret_form(section: str | int, key: str | int) -> str | None:
    """For a secret written as ``key`` (``password`` or ``password_file``), the other way to write it."""
    if (section, key) in _SECRETS:
        return f"{key}_file"
    if isinstance(key, str) and key.endswith("_file") and (section, key.removesuffix("_file")) in _SECRETS:
        return key.removesuffix("_file")
    return None


def _resolve_secrets(
    data: dict[str, Any],
    source: YamlSource,
    env_origin: dict[PathKey, str],
    env: Mapping[str, str],
    base_dir: Path,
    problems: Problems,
) -> tuple[frozenset[str], frozenset[str]]:
    """Resolve the configuration's secrets in place; the variables and files they use."""
    used: list[tuple[str | None, str | None]] = []
    for section, key in _SECRETS:
        body = data.get(section)
        if not isinstance(body, dict):
            continue
        value, file = body.pop(key, None), body.pop(f"{key}_file", None)
        if value is None and file is None:
            continue
        used.append((value if isinstance(value, str) else None, file if isinstance(file, str) else None))
        where = (section, key) if value is not None else (section, f"{key}_file")
        if not isinstance(value, str | None) or not isinstance(file, str | None):
            problems.add(source.file, source.line(where), f"{section}.{where[1]} must be text")
            continue
        try:
            body[key] = resolve_secret(key, value, file, base_dir=base_dir, environ=env)
        except SecretError as exc:
            variable = env_origin.get(where)
            if variable is not None:
                problems.add("environment", 0, f"{variable}: {exc}")
            else:
                problems.add(source.file, source.line(where), f"{section}: {exc}")
    return config_secret_refs(used, base_dir)
