"""Resolved, frozen per-device records: what the loader produces and every probe consumes.

The loader (``netpoll.inventory.loader``) flattens defaults → groups → device once, at load, resolves
secrets and expands ranges; nothing downstream ever walks groups or reads the environment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from netpoll import defaults

AuthProtocol = Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"]
PrivProtocol = Literal["DES", "AES128", "AES192", "AES256"]
SnmpBackendName = Literal["auto", "pysnmp", "gufo"]
# RFC 3414: USM passphrases are at least 8 characters; agents (and pysnmp) reject shorter ones.
MIN_V3_KEY = 8


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceLocation(_Frozen):
    """Where a record was defined, for error messages: ``file:line``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class CommunityCredentials(_Frozen):
    """SNMP v1 or v2c community. The community is a secret: it never appears in output or logs."""

    profile: str
    version: Literal["1", "2c"]
    community: SecretStr


class UsmCredentials(_Frozen):
    """SNMPv3 user-based security. Keys are secrets; no key means noAuth / noPriv."""

    profile: str
    version: Literal["3"] = "3"
    username: str
    auth_protocol: AuthProtocol | None = None
    auth_key: SecretStr | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key: SecretStr | None = None
    context_name: str = ""

    @property
    def security_level(self) -> Literal["noAuthNoPriv", "authNoPriv", "authPriv"]:
        """The USM security level these credentials give."""
        if self.auth_protocol is None:
            return "noAuthNoPriv"
        return "authPriv" if self.priv_protocol is not None else "authNoPriv"


SnmpCredentials = CommunityCredentials | UsmCredentials


AdminDown = Literal["keep", "drop"]


class InterfaceRules(_Frozen):
    """One side (``include`` or ``exclude``) of an interface selection: a row matches when any rule does.

    Patterns are Python regular expressions searched in the label (checked at load by
    ``netpoll.configkit.patterns``); ifTypes are IANAifType numbers (names are turned into numbers at load).
    """

    ifName: tuple[str, ...] = ()  # noqa: N815 - the IF-MIB column names, as the file writes them
    ifDescr: tuple[str, ...] = ()  # noqa: N815
    ifAlias: tuple[str, ...] = ()  # noqa: N815
    ifType: tuple[int, ...] = ()  # noqa: N815

    def __bool__(self) -> bool:
        return bool(self.ifName or self.ifDescr or self.ifAlias or self.ifType)


class InterfaceSelection(_Frozen):
    """Which interfaces of a device are polled and written (``snmp.interfaces``).

    A key left unset (None) takes the profile's own default (``interfaces.select`` in ``mibs/*.yaml``), else:
    every interface is included, none excluded, admin-down ports kept.
    """

    include: InterfaceRules | None = None
    exclude: InterfaceRules | None = None
    admin_down: AdminDown | None = None

    def over(self, base: InterfaceSelection | None) -> InterfaceSelection:
        """This selection with the keys it leaves unset taken from ``base`` (a profile's default)."""
        if base is None:
            return self
        return InterfaceSelection(
            include=self.include if self.include is not None else base.include,
            exclude=self.exclude if self.exclude is not None else base.exclude,
            admin_down=self.admin_down if self.admin_down is not None else base.admin_down,
        )


class SnmpSettings(_Frozen):
    """How and how often one device is polled over SNMP."""

    credentials: SnmpCredentials
    port: int = Field(default=161, ge=1, le=65535)
    interval_s: float = Field(default=defaults.INTERVAL_S, gt=0)
    timeout_s: float = Field(default=2.0, gt=0)
    retries: int = Field(default=1, ge=0, le=10)
    max_repetitions: int = Field(default=25, ge=1, le=200)
    backend: SnmpBackendName = "auto"
    profile: str | None = None  # None: picked by sysObjectID
    interfaces: InterfaceSelection = InterfaceSelection()
    # Every interface's labels are walked at least this often, even when ifTableLastChange and ifNumber say
    # the interface set did not change (an ifAlias edit changes neither); 0: on every label poll.
    labels_max_age_s: float = Field(default=3600.0, ge=0, le=604800)


class PingSettings(_Frozen):
    """How and how often one device is probed with ICMP echo."""

    interval_s: float = Field(default=defaults.INTERVAL_S, gt=0)
    count: int = Field(default=3, ge=1, le=100)
    packet_interval_s: float = Field(default=1.0, ge=0)
    timeout_s: float = Field(default=1.0, gt=0)
    payload_size: int = Field(default=56, ge=0, le=65000)


class Device(_Frozen):
    """One device, fully resolved. ``snmp``/``ping`` are None when that probe is disabled for it."""

    name: str
    address: str  # IPv4, IPv6 or DNS name, without port
    role: str = ""
    site: str = ""
    tags: Mapping[str, str] = Field(default_factory=dict)
    enabled: bool = True
    snmp: SnmpSettings | None = None
    ping: PingSettings | None = None
    source: SourceLocation | None = None

    def output_tags(self) -> dict[str, str]:
        """Tags every record of this device carries: device, agent_host, site, role and the free tags."""
        tags = {"device": self.name, "agent_host": self.address}
        if self.site:
            tags["site"] = self.site
        if self.role:
            tags["role"] = self.role
        for key, value in self.tags.items():
            tags.setdefault(key, value)
        return tags


class Inventory(_Frozen):
    """All devices from all inventory files, after merging and validation."""

    devices: tuple[Device, ...] = ()
    files: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Device]:  # type: ignore[override]
        return iter(self.devices)

    def __len__(self) -> int:
        return len(self.devices)

    def by_name(self) -> Mapping[str, Device]:
        """Devices keyed by name."""
        return {device.name: device for device in self.devices}

    def filter(self, **attrs: str) -> tuple[Device, ...]:
        """Devices whose attribute (or free tag) equals each given value, e.g. ``filter(role="router")``."""
        return tuple(
            device
            for device in self.devices
            if all(
                getattr(device, key, None) == value or device.tags.get(key) == value
                for key, value in attrs.items()
            )
        )
