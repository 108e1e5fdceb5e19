"""The configuration tables of the plugin READMEs (netpoll/inputs/*, netpoll/outputs/*) state the built-in
defaults: each key the model has, and the default of each, as the model gives it.

A key whose default is stated in words (``(required)``, ``the host name``) is not compared.
"""

from __future__ import annotations

import pytest

from netpoll.config import DaemonConfig, MqttConfig
from netpoll.inventory.models import PingSettings, SnmpSettings
from tests.doctext import code_spans, documented_defaults, marked_table, read


def _defaults(model: type[SnmpSettings] | type[PingSettings]) -> dict[str, object]:
    return {name: f.default for name, f in model.model_fields.items() if not f.is_required()}


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
    ("netpoll/outputs/files/README.md", "files"): ({"data_dir"}, {"data_dir": str(DaemonConfig().data_dir)}),
}


@pytest.mark.parametrize(("readme", "table"), list(TABLES), ids=lambda x: str(x))
def test_config_table_states_the_defaults(readme: str, table: str) -> None:
    keys, defaults = TABLES[readme, table]
    rows = marked_table(read(readme), "config", table)
    assert {code_spans(row["key"])[0] for row in rows} == keys
    assert documented_defaults(rows) == defaults
