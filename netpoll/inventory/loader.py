"""Load inventory files into one validated :class:`~netpoll.inventory.models.Inventory`.

Several files, or directories of ``*.yaml``/``*.yml`` files, are merged: credential profiles and groups
form one namespace across all of them, ``defaults`` may be given once. Each device is flattened once:
built-in defaults, then ``defaults``, then its groups (the first listed wins), then the device itself;
``tags``, ``snmp`` and ``ping`` merge key by key. Every problem is collected with its ``file:line`` and
raised together as :class:`~netpoll.errors.ConfigError`.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast, get_args

from pydantic import BaseModel, SecretStr, ValidationError

from netpoll.configkit.files import file_kind, unreadable
from netpoll.configkit.limits import MAX_INVENTORY_DEVICES
from netpoll.configkit.problems import Problems, did_you_mean
from netpoll.configkit.secrets import SecretError, SecretPolicy, resolve_secret
from netpoll.configkit.validation import describe, expect, validate
from netpoll.configkit.yamlsource import PathKey, YamlSource, display_path, load_yaml
from netpoll.errors import ConfigError
from netpoll.inventory.addresses import (
    DEFAULT_RANGE_CAP,
    AddressError,
    check_name_pattern,
    expand_range,
    parse_address,
    render_name,
)
from netpoll.inventory.interfaces import selection as interface_selection
from netpoll.inventory.models import (
    MIN_V3_KEY,
    AuthProtocol,
    CommunityCredentials,
    Device,
    InterfaceSelection,
    Inventory,
    PingSettings,
    PrivProtocol,
    SnmpCredentials,
    SnmpSettings,
    SourceLocation,
    UsmCredentials,
)
from netpoll.inventory.schema import (
    TOP_LEVEL_KEYS,
    RawCredentials,
    RawDefaults,
    RawDevice,
    RawGroup,
    RawInterfaces,
    RawLayer,
    RawRange,
)

__all__ = ["DEFAULT_RANGE_CAP", "inventory_files", "load_inventory"]

logger = logging.getLogger("netpoll.inventory")

B = TypeVar("B", bound=BaseModel)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # credential profile and group names
_TAG_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
# Tags every record already carries; a free tag of the same name would be silently shadowed.
_RESERVED_TAGS = {"device": "name", "agent_host": "address", "site": "site", "role": "role", "url": "address"}
AUTH_PROTOCOLS: tuple[AuthProtocol, ...] = get_args(AuthProtocol)
PRIV_PROTOCOLS: tuple[PrivProtocol, ...] = get_args(PrivProtocol)
_PROTOCOL_ALIASES = {"SHA1": "SHA", "AES": "AES128"}
# Credential keys a v1/v2c profile must not hold, in the order their problems are reported.
_V3_ONLY = (
    "username",
    "auth_protocol",
    "auth_key",
    "auth_key_file",
    "priv_protocol",
    "priv_key",
    "priv_key_file",
    "context_name",
)


@dataclass
class _Entry:
    """One validated layer (defaults, group, device or range) and where it is."""

    raw: Any
    source: YamlSource
    path: PathKey

    @property
    def line(self) -> int:
        return self.source.line(self.path)

    def line_of(self, *keys: str | int) -> int:
        return self.source.line((*self.path, *keys))

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(file=self.source.file, line=self.line)


def inventory_files(paths: Sequence[str | Path], problems: Problems) -> list[Path]:
    """The files ``paths`` name: files as given, directories as their ``*.yaml``/``*.yml`` (sorted).

    Nothing in a directory is skipped silently: a dangling symlink, a symlink loop, or an entry that is
    not a regular file (a FIFO, a device, a directory named ``*.yaml``) is a problem of its own.
    """
    files: list[Path] = []
    seen: set[Path] = set()
    for item in paths:
        path = Path(item)
        try:
            if path.is_dir():
                found = _directory_files(path, problems)
            elif not path.exists():
                problems.add(display_path(path), 1, "no such file or directory: fix the inventory path")
                found = []
            else:
                found = [path]
        except OSError as exc:  # e.g. a directory without read or search permission
            problems.add(display_path(path), 1, unreadable(exc))
            continue
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files


def _directory_files(path: Path, problems: Problems) -> list[Path]:
    found: list[Path] = []
    entries = sorted(
        child
        for child in path.iterdir()
        if child.suffix in (".yaml", ".yml") and not child.name.startswith(".")
    )
    for child in entries:
        try:
            mode = child.stat().st_mode
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                problems.add(
                    display_path(child), 1, "a symlink loop: point it at an inventory file, or remove it"
                )
            elif child.is_symlink():
                problems.add(
                    display_path(child), 1, "a dangling symlink (its target is missing): fix it, or remove it"
                )
            else:
                problems.add(display_path(child), 1, unreadable(exc))
            continue
        if not stat.S_ISREG(mode):
            problems.add(
                display_path(child),
                1,
                f"is {file_kind(mode)}, not a regular file: inventory directories are not read recursively;"
                " remove it or rename it",
            )
            continue
        found.append(child)
    if not entries:
        problems.add(
            display_path(path),
            1,
            "no *.yaml or *.yml files in this directory: name the inventory files, or the"
            " directory that holds them",
        )
    return found


def load_inventory(
    paths: Sequence[str | Path],
    *,
    environ: Mapping[str, str] | None = None,
    range_cap: int = DEFAULT_RANGE_CAP,
    resolve_secrets: bool = True,
    profiles: Collection[str] | None = None,
    secret_policy: SecretPolicy | None = None,
) -> Inventory:
    """Load, merge and validate inventory files and directories.

    Args:
        paths: inventory files, or directories whose ``*.yaml``/``*.yml`` files are read (sorted).
        environ: where ``${VAR}`` secrets come from (default: ``os.environ``).
        range_cap: how many devices one ``ranges:`` entry may expand to unless it sets ``max_devices``.
        resolve_secrets: False for callers that never use SNMP credentials (``netpoll ping``): secrets are
            then neither read nor checked, and every one is an empty placeholder.
        profiles: the SNMP profile names an ``snmp.profile`` may name (the daemon passes the ones it
            loaded); None: the shipped profiles, loaded only when some layer names one.
        secret_policy: which variables and files secrets may come from (the daemon configuration's
            ``DaemonConfig.secret_policy()``); None: the defaults of ``inventory_secrets``.

    Raises:
        ConfigError: with every problem found, each ``file:line: message``.
    """
    loader = _Loader(os.environ if environ is None else environ, range_cap, resolve_secrets, profiles)
    loader.secret_policy = SecretPolicy() if secret_policy is None else secret_policy
    return loader.load(paths)


def _shipped_profiles(problems: Problems) -> Collection[str]:
    from netpoll.inputs.snmp.profiles import load_profiles  # only when a layer names a profile

    try:
        return load_profiles().profiles
    except ConfigError as exc:
        problems.extend(exc.problems)
        return {}


class _Loader:
    def __init__(
        self,
        environ: Mapping[str, str],
        range_cap: int,
        resolve_secrets: bool = True,
        profiles: Collection[str] | None = None,
    ) -> None:
        self.environ = environ
        self.range_cap = range_cap
        self.resolve_secrets = resolve_secrets
        self.secret_policy = SecretPolicy()
        self.profiles = profiles
        self.problems = Problems()
        self.defaults: _Entry | None = None
        self.groups: dict[str, _Entry] = {}
        self.credential_entries: dict[str, _Entry] = {}
        self.credentials: dict[str, SnmpCredentials] = {}
        self.device_entries: list[_Entry] = []
        # Names defined but invalid (already reported): references to them are not "unknown" again.
        self.broken: set[tuple[str, str]] = set()
        self.entries_seen = 0
        self.range_entries: list[_Entry] = []
        self.tags: dict[int, dict[str, str] | None] = {}
        # Per layer: the snmp.interfaces keys it sets (checked); merged key by key like snmp itself.
        self.selections: dict[int, dict[str, Any]] = {}
        self.devices: list[Device] = []
        # Equal SNMP and ping settings (a group's devices, the defaults) held once: they are frozen, and one
        # copy per device was ~1.9 KB of a device's ~4 KB of validated records. Keyed with the fields set
        # too: models that are equal may differ there (an explicit max_repetitions is not the default's).
        self.settings: dict[tuple[BaseModel, frozenset[str]], BaseModel] = {}
        self.names: dict[str, SourceLocation] = {}
        self.endpoints: dict[tuple[str, int], tuple[str, SourceLocation]] = {}

    def add(self, entry: _Entry, line: int, message: str) -> None:
        self.problems.add(entry.source.file, line, message)

    def load(self, paths: Sequence[str | Path]) -> Inventory:
        if not paths:
            self.problems.add("netpoll", 1, "no inventory given: name inventory files or directories")
        files = inventory_files(paths, self.problems)
        sources: list[YamlSource] = []
        for file in files:
            source = load_yaml(file, self.problems)
            if source is not None:
                sources.append(source)
                self._read_file(source)
        for name, entry in self.credential_entries.items():
            self._resolve_credentials(name, entry)
        if self.defaults is not None:
            self._check_layer(self.defaults, "defaults")
        for name, entry in self.groups.items():
            self._check_layer(entry, f"group '{name}'")
        for entry in self.device_entries:
            self._load_device(entry)
        for entry in self.range_entries:
            self._load_range(entry)
        if not self.entries_seen and sources and not self.problems:
            first = sources[0]
            self.problems.add(
                first.file, 1, "the inventory has no devices: add a devices: or ranges: section"
            )
        self.problems.raise_if_any()
        logger.debug("loaded %d devices from %d files", len(self.devices), len(sources))
        return Inventory(devices=tuple(self.devices), files=tuple(source.file for source in sources))

    # -- reading files ---------------------------------------------------------------------------

    def _read_file(self, source: YamlSource) -> None:
        data = source.data
        if data is None:
            self.problems.add(
                source.file, 1, "the file is empty: add devices: (see inventories/example.yaml)"
            )
            return
        if not expect(source, (), data, dict, f"a mapping with the keys {', '.join(TOP_LEVEL_KEYS)}"):
            return
        for key, value in data.items():
            if key not in TOP_LEVEL_KEYS:
                hint = did_you_mean(str(key), TOP_LEVEL_KEYS) or f"; use {', '.join(TOP_LEVEL_KEYS)}"
                self.problems.add(source.file, source.line((key,)), f"unknown top-level key '{key}'{hint}")
            elif value is None:
                continue
            elif key == "defaults":
                self._read_defaults(source, value)
            elif key in ("credentials", "groups"):
                self._read_named(source, key, value)
            else:
                self._read_list(source, key, value)

    def _read_defaults(self, source: YamlSource, value: Any) -> None:
        raw = validate(RawDefaults, value, source, ("defaults",), "defaults", self.problems)
        if raw is None:
            self.broken.add(("defaults", ""))
            return
        entry = _Entry(raw, source, ("defaults",))
        if self.defaults is not None:
            self.add(
                entry,
                entry.line,
                f"defaults given a second time (first at {self.defaults.location}): keep one defaults:",
            )
            return
        self.defaults = entry

    def _read_named(self, source: YamlSource, section: str, value: Any) -> None:
        kind = "credential profile" if section == "credentials" else "group"
        if not expect(source, (section,), value, dict, f"a mapping of {kind} names to settings"):
            return
        target = self.credential_entries if section == "credentials" else self.groups
        model: type[BaseModel] = RawCredentials if section == "credentials" else RawGroup
        for name, body in value.items():
            path = (section, name)
            line = source.line(path)
            if not isinstance(name, str) or not _REFERENCE_RE.fullmatch(name):
                self.problems.add(
                    source.file, line, f"{kind} name '{name}' may only hold letters, digits, '.', '_', '-'"
                )
                continue
            raw = validate(
                model, {} if body is None else body, source, path, f"{kind} '{name}'", self.problems
            )
            if raw is None:
                self.broken.add((section, name))
                continue
            entry = _Entry(raw, source, path)
            if name in target:
                self.problems.add(
                    source.file,
                    line,
                    f"{kind} '{name}' is defined twice (also at {target[name].location}): rename one",
                )
                continue
            target[name] = entry

    def _read_list(self, source: YamlSource, section: str, value: Any) -> None:
        if not expect(source, (section,), value, list, f"a list, one '- name: ...' entry per {section[:-1]}"):
            return
        model: type[BaseModel] = RawDevice if section == "devices" else RawRange
        target = self.device_entries if section == "devices" else self.range_entries
        for index, body in enumerate(value):
            self.entries_seen += 1
            path = (section, index)
            label = f"{section[:-1]} #{index + 1}"
            if isinstance(body, dict) and isinstance(body.get("name"), str):
                label = f"{section[:-1]} '{body['name']}'"
            raw = validate(model, body, source, path, label, self.problems)
            if raw is not None:
                target.append(_Entry(raw, source, path))

    # -- credentials -------------------------------------------------------------------------------

    def _resolve_credentials(self, name: str, entry: _Entry) -> None:
        raw: RawCredentials = entry.raw
        label = f"credential profile '{name}'"
        version = str(raw.version).strip().lower().removeprefix("v")
        if version not in ("1", "2c", "3"):
            hint = "; did you mean '2c'?" if version == "2" else ""
            self.add(entry, entry.line_of("version"), f"{label}: version must be 1, 2c or 3{hint}")
            return
        ok = True
        if version in ("1", "2c"):
            for key in _V3_ONLY:
                if getattr(raw, key) is not None:
                    ok = False
                    self.add(entry, entry.line_of(key), f"{label}: {key} is for version 3 only: remove it")
            community = self._secret(entry, label, "community", raw.community, raw.community_file)
            if community is None or not ok:
                return
            self.credentials[name] = CommunityCredentials(
                profile=name, version="1" if version == "1" else "2c", community=community
            )
            return
        for key in ("community", "community_file"):
            if getattr(raw, key) is not None:
                ok = False
                self.add(entry, entry.line_of(key), f"{label}: {key} is for versions 1 and 2c: remove it")
        if not raw.username:
            ok = False
            self.add(entry, entry.line, f"{label}: version 3 needs a username: add username: NAME")
        auth = self._protocol(entry, label, "auth_protocol", raw.auth_protocol, AUTH_PROTOCOLS)
        priv = self._protocol(entry, label, "priv_protocol", raw.priv_protocol, PRIV_PROTOCOLS)
        auth_ok, auth_key = self._v3_key(entry, label, "auth", "SHA256")
        priv_ok, priv_key = self._v3_key(entry, label, "priv", "AES128")
        ok = ok and auth_ok and priv_ok
        ok = ok and (raw.auth_protocol is None or auth is not None)
        ok = ok and (raw.priv_protocol is None or priv is not None)
        if raw.priv_protocol is not None and raw.auth_protocol is None:
            ok = False
            self.add(
                entry,
                entry.line_of("priv_protocol"),
                f"{label}: privacy needs authentication (SNMPv3 has no noAuthPriv): add auth_protocol"
                " and auth_key",
            )
        if not ok or raw.username is None:
            return
        self.credentials[name] = UsmCredentials(
            profile=name,
            username=raw.username,
            auth_protocol=auth,
            auth_key=auth_key,
            priv_protocol=priv,
            priv_key=priv_key,
            context_name=raw.context_name or "",
        )

    def _v3_key(self, entry: _Entry, label: str, part: str, example: str) -> tuple[bool, Any]:
        """``(usable, secret)`` of the ``auth``/``priv`` key: required with its protocol, refused without."""
        raw: RawCredentials = entry.raw
        value, file = getattr(raw, f"{part}_key"), getattr(raw, f"{part}_key_file")
        if getattr(raw, f"{part}_protocol") is not None:
            secret = self._secret(entry, label, f"{part}_key", value, file, v3=True)
            return secret is not None, secret
        if value is None and file is None:
            return True, None
        key = f"{part}_key" if value is not None else f"{part}_key_file"
        self.add(
            entry,
            entry.line_of(key),
            f"{label}: {key} without {part}_protocol: add {part}_protocol: {example}",
        )
        return False, None

    def _protocol(
        self, entry: _Entry, label: str, key: str, value: str | None, choices: Sequence[str]
    ) -> Any:
        if value is None:
            return None
        normal = re.sub(r"[-_ ]", "", value).upper()
        normal = _PROTOCOL_ALIASES.get(normal, normal)
        if normal in choices:
            return normal
        hint = did_you_mean(normal, choices)
        self.add(
            entry, entry.line_of(key), f"{label}: {key} '{value}' is not one of {', '.join(choices)}{hint}"
        )
        return None

    def _secret(
        self, entry: _Entry, label: str, key: str, value: str | None, file: str | None, v3: bool = False
    ) -> Any:
        if not self.resolve_secrets and (value is not None or file is not None):
            return SecretStr("")  # written where it belongs; what it holds is not this caller's business
        where = entry.line_of(f"{key}_file") if value is None and file is not None else entry.line_of(key)
        if value is None and file is None:
            where = entry.line
        try:
            secret = resolve_secret(
                key,
                value,
                file,
                base_dir=entry.source.base_dir,
                environ=self.environ,
                policy=self.secret_policy,
            )
        except SecretError as exc:
            self.add(entry, where, f"{label}: {exc}")
            return None
        if v3 and secret is not None and len(secret.get_secret_value()) < MIN_V3_KEY:
            self.add(
                entry, where, f"{label}: {key} is shorter than {MIN_V3_KEY} characters, which SNMPv3 refuses"
            )
            return None
        return secret

    # -- layers and devices ------------------------------------------------------------------------

    def _check_layer(self, entry: _Entry, label: str) -> bool:
        """Check a layer's references and tags where they are written; False if the layer is unusable."""
        raw: RawLayer = entry.raw
        ok = self._layer_tags(entry, label) is not None
        snmp = raw.snmp
        if snmp is not None and snmp.credentials is not None:
            ok = (
                self._reference(entry, ("snmp", "credentials"), label, "credentials", snmp.credentials) and ok
            )
        if snmp is not None and snmp.profile is not None:
            if self.profiles is None:
                self.profiles = _shipped_profiles(self.problems)
            ok = self._reference(entry, ("snmp", "profile"), label, "profiles", snmp.profile) and ok
        for index, group in enumerate(getattr(raw, "groups", None) or []):
            ok = self._reference(entry, ("groups", index), label, "groups", group) and ok
        if snmp is not None and snmp.interfaces is not None and id(entry) not in self.selections:
            ok = self._layer_interfaces(entry, label, snmp.interfaces) and ok
        return ok

    def _layer_interfaces(self, entry: _Entry, label: str, raw: RawInterfaces) -> bool:
        """Check a layer's ``snmp.interfaces`` (patterns, ifType names) and keep the keys it sets."""
        at: PathKey = ("snmp", "interfaces")

        def report(path: PathKey, message: str) -> None:
            self.add(entry, entry.line_of(*at, *path), f"{label}: snmp.interfaces.{message}")

        checked = interface_selection(raw, report)
        if checked is None:
            return False
        self.selections[id(entry)] = {key: getattr(checked, key) for key in raw.model_fields_set}
        return True

    def _reference(self, entry: _Entry, at: PathKey, label: str, section: str, name: str) -> bool:
        """Whether ``name`` (written at ``at``) names a usable credential profile, SNMP profile or group."""
        if (section, name) in self.broken:
            return False  # defined, but broken: its own problem is reported where it is defined
        known: Collection[str] = {
            "credentials": self.credential_entries,
            "groups": self.groups,
            "profiles": self.profiles or (),
        }[section]
        if name in known:
            return True
        what = {"credentials": "credential profile", "groups": "group", "profiles": "SNMP profile"}[section]
        listed = sorted(known)
        if section == "profiles":
            listing = f"; known profiles: {', '.join(listed)}" if listed else ""
        elif listed:
            listing = f"; defined: {', '.join(listed[:10])}"
        else:
            listing = f"; no {section} are defined: add a {section}: section"
        hint = did_you_mean(name, known) or listing
        self.add(entry, entry.line_of(*at), f"{label}: unknown {what} '{name}'{hint}")
        return False

    def _layer_tags(self, entry: _Entry, label: str) -> dict[str, str] | None:
        key = id(entry)
        if key in self.tags:
            return self.tags[key]
        raw: RawLayer = entry.raw
        tags: dict[str, str] | None = {}
        for tag, value in (raw.tags or {}).items():
            line = entry.line_of("tags", tag)
            if not isinstance(tag, str) or not _TAG_KEY_RE.fullmatch(tag):
                tags = None
                self.add(
                    entry,
                    line,
                    f"{label}: tag key '{tag}' must start with a letter and hold only letters, digits,"
                    " '_', '.', '-'",
                )
            elif tag in _RESERVED_TAGS:
                tags = None
                self.add(
                    entry,
                    line,
                    f"{label}: tag '{tag}' is reserved: use the {_RESERVED_TAGS[tag]}: key instead",
                )
            elif isinstance(value, bool) or not isinstance(value, str | int | float):
                tags = None
                self.add(entry, line, f"{label}: tag '{tag}' must be text: write {tag}: \"...\"")
            elif tags is not None:
                tags[tag] = str(value)
        self.tags[key] = tags
        return tags

    def _load_device(self, entry: _Entry) -> None:
        raw: RawDevice = entry.raw
        label = f"device '{raw.name}'"
        ok = self._check_name(entry, raw.name, label)
        ok = self._check_layer(entry, label) and ok
        try:
            address = parse_address(raw.address)
        except AddressError as exc:
            self.add(entry, entry.line_of("address"), f"{label}: {exc}")
            return
        if not ok or ("defaults", "") in self.broken:
            return
        device = self._flatten(entry, raw.name, address.host, address.port, label, entry.location)
        if device is not None:
            self._register(device, address.host, label)

    def _load_range(self, entry: _Entry) -> None:
        raw: RawRange = entry.raw
        label = f"range '{raw.range}'"
        ok = self._check_layer(entry, label)
        try:
            check_name_pattern(raw.name)
            expansion = expand_range(raw.range, raw.exclude or (), raw.max_devices or self.range_cap)
        except AddressError as exc:
            # Range messages name the range already; only the pattern's and excludes' need the label.
            message = str(exc) if raw.range in str(exc) else f"{label}: {exc}"
            self.add(entry, entry.line, message)
            return
        if not ok or ("defaults", "") in self.broken:
            return
        if len(self.devices) + expansion.size > MAX_INVENTORY_DEVICES:
            self.add(
                entry,
                entry.line,
                f"{label}: the inventory would hold more than {MAX_INVENTORY_DEVICES} devices with it:"
                " split the inventory over several pollers (shard:), or narrow the range",
            )
            return
        for index, ip in enumerate(expansion, start=1):
            name = render_name(raw.name, ip, index)
            device_label = f"device '{name}' (range '{raw.range}')"
            if not self._check_name(entry, name, device_label):
                return
            device = self._flatten(entry, name, str(ip), None, device_label, entry.location)
            if device is None:
                return  # every address of the range would give the same problem
            if not self._register(device, str(ip), device_label):
                return  # one duplicate line per range is enough; the rest would repeat it

    def _check_name(self, entry: _Entry, name: str, label: str) -> bool:
        if NAME_RE.fullmatch(name):
            return True
        self.add(
            entry,
            entry.line_of("name"),
            f"{label}: a device name may only hold letters, digits, '.', '_', ':' and '-' (at most 128),"
            " as it becomes a tag and an MQTT topic level",
        )
        return False

    def _flatten(
        self,
        entry: _Entry,
        name: str,
        host: str,
        port: int | None,
        label: str,
        location: SourceLocation,
    ) -> Device | None:
        raw: RawDevice | RawRange = entry.raw
        layers: list[_Entry] = []
        if self.defaults is not None:
            layers.append(self.defaults)
        # The first group listed wins, so apply them last to first.
        layers.extend(self.groups[group] for group in reversed(raw.groups or []))
        layers.append(entry)
        role = site = ""
        enabled = True
        tags: dict[str, str] = {}
        snmp: dict[str, Any] = {}
        ping: dict[str, Any] = {}
        for layer in layers:
            body: RawLayer = layer.raw
            if body.role is not None:
                role = body.role
            if body.site is not None:
                site = body.site
            if body.enabled is not None:
                enabled = body.enabled
            tags.update(self.tags.get(id(layer)) or {})
            if body.snmp is not None:
                snmp.update(body.snmp.model_dump(exclude_unset=True, exclude={"interfaces"}))
            if body.ping is not None:
                ping.update(body.ping.model_dump(exclude_unset=True))
        if port is not None:
            snmp["port"] = port
        snmp.update(self._selection(layers))
        snmp_settings = ping_settings = None
        if snmp.pop("enabled", True):
            credentials_name = snmp.pop("credentials", None)
            if credentials_name is None:
                self.add(
                    entry,
                    entry.line,
                    f"{label}: no SNMP credentials: set snmp.credentials here, in one of its groups or in"
                    " defaults, or set snmp.enabled: false to only ping it",
                )
                return None
            credentials = self.credentials.get(credentials_name)
            if credentials is None:
                return None  # the profile's own problem is reported where it is defined
            snmp_settings = self._build(entry, label, SnmpSettings, {"credentials": credentials, **snmp})
            if snmp_settings is None:
                return None
            snmp_settings = self._shared(snmp_settings)
        else:
            snmp.pop("credentials", None)
        if ping.pop("enabled", True):
            ping_settings = self._build(entry, label, PingSettings, ping)
            if ping_settings is None:
                return None
            ping_settings = self._shared(ping_settings)
        return self._build(
            entry,
            label,
            Device,
            {
                "name": name,
                "address": host,
                "role": role,
                "site": site,
                "tags": tags,
                "enabled": enabled,
                "snmp": snmp_settings,
                "ping": ping_settings,
                "source": location,
            },
        )

    def _selection(self, layers: Sequence[_Entry]) -> dict[str, InterfaceSelection]:
        """``{"interfaces": selection}`` merged key by key over the layers (none set: ``{}``)."""
        keys: dict[str, Any] = {}
        for layer in layers:
            keys.update(self.selections.get(id(layer)) or {})
        return {"interfaces": InterfaceSelection(**keys)} if keys else {}

    def _shared(self, settings: B) -> B:
        """The first built copy of settings equal to ``settings`` (and with the same fields set)."""
        return cast("B", self.settings.setdefault((settings, frozenset(settings.model_fields_set)), settings))

    def _build(self, entry: _Entry, label: str, model: type[B], values: dict[str, Any]) -> B | None:
        # The raw layers are already checked, so this only fails on a rule the frozen records add.
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                self.add(entry, entry.line, f"{label}: {describe(model, error)}")
            return None

    def _register(self, device: Device, host: str, label: str) -> bool:
        assert device.source is not None
        here = device.source
        first = self.names.get(device.name)
        if first is not None:
            self.problems.add(
                here.file,
                here.line,
                f"{label}: duplicate device name, also defined at {first}: rename one of them",
            )
            return False
        port = device.snmp.port if device.snmp is not None else 161
        other = self.endpoints.get((host, port))
        if other is not None:
            self.problems.add(
                here.file,
                here.line,
                f"{label}: address {host} port {port} is also used by device '{other[0]}' at {other[1]}:"
                " remove one, or give them different SNMP ports",
            )
            return False
        self.names[device.name] = here
        self.endpoints[(host, port)] = (device.name, here)
        self.devices.append(device)
        return True
