"""The SNMP input's sample.yaml states exactly the built-in snmp: defaults and loads as an inventory layer."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel

import netpoll.inputs.snmp
from netpoll.inventory.loader import load_inventory
from netpoll.inventory.models import CommunityCredentials, SnmpSettings

FOLDER = Path(netpoll.inputs.snmp.__file__).parent


def sample() -> dict[str, object]:
    documented: dict[str, object] = yaml.safe_load((FOLDER / "sample.yaml").read_text())["snmp"]
    return documented


def builtin_snmp_defaults() -> dict[str, object]:
    """The defaults of every key but credentials (required), plus enabled (a device is polled by default)."""
    defaults = {
        name: field.default.model_dump() if isinstance(field.default, BaseModel) else field.default
        for name, field in SnmpSettings.model_fields.items()
        if not field.is_required()
    }
    return {"enabled": True, **defaults}


def test_sample_yaml_matches_snmp_defaults() -> None:
    assert sample() == builtin_snmp_defaults()


def test_sample_loads_as_inventory_defaults(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "defaults": {"snmp": {**sample(), "credentials": "ro"}},
                "credentials": {"ro": {"version": "2c", "community": "${NETPOLL_TEST_COMMUNITY}"}},
                "devices": [{"name": "r1", "address": "127.0.0.1"}],
            }
        )
    )
    device = load_inventory([inventory], environ={"NETPOLL_TEST_COMMUNITY": "c"}).devices[0]
    assert device.snmp is not None
    assert isinstance(device.snmp.credentials, CommunityCredentials)
    assert device.snmp == SnmpSettings(credentials=device.snmp.credentials)
