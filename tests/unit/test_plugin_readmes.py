"""The plugin READMEs (netpoll/inputs/*, netpoll/outputs/*): their configuration tables state the built-in
defaults (each key the model has, and the default of each, as the model gives it; a default stated in words,
``(required)`` or ``the host name``, is not compared), and each input's README has the measurement tables of
what it writes.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from netpoll.config import DaemonConfig, InfluxConfig, MqttConfig
from netpoll.inventory.models import PingSettings, SnmpSettings
from netpoll.measurements import MODEL, generated_blocks
from tests.doctext import code_spans, documented_defaults, marked_table, read


def _defaults(model: type[SnmpSettings] | type[PingSettings]) -> dict[str, object]:
    return {
        name: f.default.model_dump(exclude_none=True) if isinstance(f.default, BaseModel) else f.default
        for name, f in model.model_fields.items()
        if not f.is_required()
    }


# README, table name → (every key the table must list, the defaults it must state).
TABLES: dict[tuple[str, str], tuple[set[str], dict[str, object]]] = {
    ("netpoll/inputs/snmp/README.md", "snmp"): (
        {"enabled", *SnmpSettings.model_fields},
        {"enabled": True, **_defaults(SnmpSettings)},  # a device is polled unless snmp.enabled: false
    ),
    ("netpoll/inputs/icmp/README.md", "ping"): (
        {"enabled", *PingSettings.model_fields},
        {"enabled": True, **_defaults(PingSettings)},
    ),
    ("netpoll/outputs/mqtt/README.md", "mqtt"): (
        set(MqttConfig.model_fields),
        {
            k: v
            for k, v in MqttConfig(host="127.0.0.1").model_dump().items()
            if k not in {"host", "instance"}  # required; the host name (stated in words)
        },
    ),
    ("netpoll/outputs/influxdb/README.md", "influxdb"): (
        set(InfluxConfig.model_fields),
        {k: v for k, v in InfluxConfig(url="http://x").model_dump().items() if k != "url"},  # url: required
    ),
    ("netpoll/outputs/files/README.md", "files"): ({"data_dir"}, {"data_dir": str(DaemonConfig().data_dir)}),
}


@pytest.mark.parametrize(("readme", "table"), list(TABLES), ids=lambda x: str(x))
def test_config_table_states_the_defaults(readme: str, table: str) -> None:
    keys, defaults = TABLES[readme, table]
    rows = marked_table(read(readme), "config", table)
    assert {code_spans(row["key"])[0] for row in rows} == keys
    assert documented_defaults(rows) == defaults


def test_each_input_readme_shows_what_its_producers_write() -> None:
    """Every measurement an input writes has its table, generated from the data model, in the input's README
    (whether the table is current is tests/unit/test_measurements.py's check)."""
    by_folder: dict[str, set[str]] = {}
    for name in MODEL:
        parts = MODEL[name].producer.split(".")
        if parts[:2] == ["netpoll", "inputs"]:
            by_folder.setdefault("/".join(parts[:3]), set()).add(name)
    assert by_folder, "no input produces a declared measurement"
    for folder, names in by_folder.items():
        assert set(generated_blocks(read(f"{folder}/README.md"))) == names, folder
