"""docs/snmp.md's table of shipped profiles: every profile of mibs/ is listed, and the sysObjectIDs (and
sysDescr) the table says pick it do pick it."""

from __future__ import annotations

import re

import pytest

from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inputs.snmp.types import parse_oid
from tests.doctext import code_spans, marked_table, read

PROFILES = load_profiles()
ROWS = marked_table(read("docs/snmp.md"), "profiles", "shipped")


def test_every_shipped_profile_is_listed() -> None:
    assert sorted(code_spans(row["profile"])[0] for row in ROWS) == sorted(PROFILES.profiles)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: code_spans(row["profile"])[0])
def test_the_documented_sys_object_ids_pick_the_profile(row: dict[str, str]) -> None:
    name = code_spans(row["profile"])[0]
    spans = code_spans(row["picked by"])
    oids = [span for span in spans if re.fullmatch(r"[\d.]+", span)]
    descr = next((s for s in spans if s not in oids), "") if "with sysDescr" in row["picked by"] else ""
    if not oids:  # the default: nothing else matched
        assert PROFILES.pick(None).name == name
    for oid in oids:
        assert PROFILES.pick(parse_oid(oid), descr).name == name, f"{oid} {descr!r}"
