"""The inventory file format, as written: strict models of each section before resolution.

Every field is optional at this level (except a device's name and address and a range's range and
name), because any layer (defaults, a group, the device) may set it; ``model_fields_set`` tells which
ones a layer actually set. The loader flattens the layers into :mod:`netpoll.inventory.models` records.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netpoll.inventory.addresses import MAX_RANGE_CAP
from netpoll.inventory.models import AdminDown, SnmpBackendName

TOP_LEVEL_KEYS = ("defaults", "credentials", "groups", "devices", "ranges")


class _Strict(BaseModel):
    # strict: YAML already gives real numbers and booleans; "60" for a number is a mistake to report.
    model_config = ConfigDict(extra="forbid", strict=True)


class RawInterfaceRules(_Strict):
    """``include:``/``exclude:`` of ``snmp.interfaces``: patterns (one or a list), ifTypes by name or number.

    Patterns and ifType names are checked by ``netpoll.inventory.interfaces`` (a precise line for each).
    """

    ifName: str | list[str] | None = None  # noqa: N815 - the IF-MIB column names, as written
    ifDescr: str | list[str] | None = None  # noqa: N815
    ifAlias: str | list[str] | None = None  # noqa: N815
    ifType: int | str | list[int | str] | None = None  # noqa: N815


class RawInterfaces(_Strict):
    """``snmp.interfaces``: which interfaces are polled and written."""

    include: RawInterfaceRules | None = None
    exclude: RawInterfaceRules | None = None
    admin_down: AdminDown | None = None


class RawSnmp(_Strict):
    """``snmp:`` of defaults, a group, a device or a range."""

    enabled: bool | None = None
    credentials: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    interval_s: float | None = Field(default=None, ge=1, le=86400)
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    retries: int | None = Field(default=None, ge=0, le=10)
    max_repetitions: int | None = Field(default=None, ge=1, le=200)
    backend: SnmpBackendName | None = None
    profile: str | None = None
    interfaces: RawInterfaces | None = None
    labels_max_age_s: float | None = Field(default=None, ge=0, le=604800)


class RawPing(_Strict):
    """``ping:`` of defaults, a group, a device or a range."""

    enabled: bool | None = None
    interval_s: float | None = Field(default=None, ge=1, le=86400)
    count: int | None = Field(default=None, ge=1, le=100)
    packet_interval_s: float | None = Field(default=None, ge=0, le=60)
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    payload_size: int | None = Field(default=None, ge=0, le=65000)


class RawLayer(_Strict):
    """What every layer (defaults, group, device, range) may set."""

    role: str | None = None
    site: str | None = None
    # Checked by the loader (text or numbers, turned into text), so a bad tag gets a precise message.
    tags: dict[str, Any] | None = None
    enabled: bool | None = None
    snmp: RawSnmp | None = None
    ping: RawPing | None = None
    description: str | None = None


class RawDefaults(RawLayer):
    """``defaults:``: the lowest layer."""


class RawGroup(RawLayer):
    """One entry of ``groups:``."""


class RawDevice(RawLayer):
    """One entry of ``devices:``."""

    name: str
    address: str
    groups: list[str] | None = None


class RawRange(RawLayer):
    """One entry of ``ranges:``: many devices, one per address."""

    range: str
    name: str
    exclude: list[str] | None = None
    groups: list[str] | None = None
    max_devices: int | None = Field(default=None, ge=1, le=MAX_RANGE_CAP)


class RawCredentials(_Strict):
    """One entry of ``credentials:``: a v1/v2c community or a v3 user; secrets are ${VAR} or *_file."""

    version: Any  # 1, "2c" or 3: checked by the loader for a precise message
    community: str | None = None
    community_file: str | None = None
    username: str | None = None
    auth_protocol: str | None = None
    auth_key: str | None = None
    auth_key_file: str | None = None
    priv_protocol: str | None = None
    priv_key: str | None = None
    priv_key_file: str | None = None
    context_name: str | None = None
    description: str | None = None
