"""The profiles' ``traps:`` sections: the shipped ones load, and a bad one is one line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netpoll.errors import ConfigError
from netpoll.inputs.snmp.profiles import DEFAULT_DIR
from netpoll.inputs.snmp.types import parse_oid
from netpoll.inputs.traps.catalog import load_trap_names
from tests.doctext import code_spans, marked_table, read


def test_shipped_profiles_name_vendor_notifications() -> None:
    names = load_trap_names()
    cases = {
        "1.3.6.1.4.1.9.9.43.2.0.1": ("ciscoConfigManEvent", "info"),
        "1.3.6.1.4.1.2636.4.5.0.1": ("jnxCmCfgChange", "info"),
        "1.3.6.1.4.1.2636.4.1.1": ("jnxPowerSupplyFailure", "major"),
        "1.3.6.1.2.1.15.0.2": ("bgpBackwardTransNotification", "major"),
        "1.3.6.1.4.1.9.9.187.0.1": ("cbgpFsmStateChange", "warning"),
        "1.3.6.1.6.3.1.1.5.3": ("linkDown", "major"),
    }
    for oid, (name, severity) in cases.items():
        known = names.trap(parse_oid(oid))
        assert known is not None, oid
        assert (known.name, known.severity) == (name, severity)
    assert names.varbind_name(parse_oid("1.3.6.1.4.1.2636.3.18.1.7.1.5.12")) == "jnxCmCfgChgEventUser.12"
    assert names.varbind_name(parse_oid("1.3.6.1.2.1.15.3.1.2.192.0.2.1")) == "bgpPeerState.192.0.2.1"
    assert names.varbind_name(parse_oid("1.3.6.1.2.1.2.2.1.8.3")) == "ifOperStatus.3"  # standard kept
    assert names.trap_name(parse_oid("1.3.6.1.4.1.99999.0.1")) == "1.3.6.1.4.1.99999.0.1"


BAD = [
    ("traps:\n  x1: {oid: nope}\n", "generic.yaml:2: bad OID 'nope'"),
    ("traps:\n  x1: {oid: 1.3.6.1.4.1.1.0.1, severity: loud}\n", "severity must be one of"),
    ("traps:\n  x1: {oid: 1.3.6.1.4.1.1.0.1, varbind: {}}\n", "did you mean 'varbinds'?"),
    ("traps:\n  coldStart: {oid: 1.3.6.1.4.1.1.0.1}\n  other: {oid: 1.3.6.1.4.1.1.0.1}\n", "already named"),
    ("traps: [a]\n", "traps must be a mapping"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_sections_are_reported_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "generic.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_trap_names(tmp_path)
    assert any(message in problem for problem in info.value.problems), info.value.problems


def test_docs_table_lists_the_profiles_that_ship_notifications() -> None:
    rows = marked_table(read("docs/traps.md"), "traps", "shipped")
    documented = {code_spans(row["profile"])[0]: row["notifications"] for row in rows}
    shipped = {
        path.stem: yaml.safe_load(path.read_text())["traps"]
        for path in sorted(DEFAULT_DIR.glob("*.yaml"))
        if "traps" in yaml.safe_load(path.read_text())
    }
    assert set(documented) == set(shipped)
    for profile, traps in shipped.items():
        missing = [name for name in traps if name not in documented[profile]]
        assert not missing, (profile, missing)
