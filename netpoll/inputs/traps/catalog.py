"""The ``traps:`` sections of the device profiles (``mibs/*.yaml``): vendor notifications by name.

::

    traps:
      ciscoConfigManEvent:                     # the notification's name (the MIB's)
        oid: 1.3.6.1.4.1.9.9.43.2.0.1          # its snmpTrapOID
        severity: info                         # critical, major, minor, warning or info
        varbinds:                              # names of the objects it carries (columns: name.index)
          ccmHistoryEventCommandSource: 1.3.6.1.4.1.9.9.43.1.1.6.1.3

Every profile's section is read (a notification OID is the same whatever the device), checked like the rest
of a profile (``file:line: message``, unknown keys with a did-you-mean), and merged over the standard names.
The SNMP profile loader leaves the section to this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netpoll.configkit.problems import Problems
from netpoll.configkit.validation import check_keys, expect
from netpoll.configkit.yamlsource import YamlSource, load_yaml
from netpoll.inputs.snmp.profiles import DEFAULT_DIR, profile_oid
from netpoll.inputs.snmp.tables import NAME_RE
from netpoll.inputs.snmp.types import Oid, format_oid
from netpoll.inputs.traps.names import STANDARD_NAMES, TrapNames, TrapType

SEVERITIES = ("critical", "major", "minor", "warning", "info")
_KEYS = ("oid", "severity", "varbinds", "description")
# A trap's OID is written like a profile's; this one is the example its error shows.
_EXAMPLE_OID = "1.3.6.1.4.1.9.9.43.2.0.1"


class _Catalog:
    def __init__(self) -> None:
        self.traps: dict[Oid, TrapType] = {}
        self.columns: dict[Oid, str] = {}
        self.seen: dict[Oid, str] = {}  # trap OID → where it was named first

    def add_file(self, doc: YamlSource) -> None:
        data = doc.data if isinstance(doc.data, dict) else {}
        section = data.get("traps")
        if section is None or not expect(doc, ("traps",), section, dict, "a mapping of notification names"):
            return
        for name, spec in section.items():
            self._add(doc, str(name), spec)

    def _add(self, doc: YamlSource, name: str, spec: Any) -> None:
        path = ("traps", name)
        if not NAME_RE.fullmatch(name):
            doc.report(path, f"bad notification name {name!r}: use the MIB's name, e.g. jnxCmCfgChange")
            return
        if not expect(doc, path, spec, dict, "a mapping with oid, severity, varbinds"):
            return
        check_keys(doc, path, spec, _KEYS, f"traps: {name}: ")
        oid = profile_oid(doc, (*path, "oid"), spec.get("oid"), _EXAMPLE_OID)
        severity = spec.get("severity", "info")
        if severity not in SEVERITIES:
            doc.report((*path, "severity"), f"traps: {name}: severity must be one of {', '.join(SEVERITIES)}")
            severity = "info"
        varbinds = spec.get("varbinds") or {}
        if expect(doc, (*path, "varbinds"), varbinds, dict, "a mapping of object names to OIDs"):
            for object_name, value in varbinds.items():
                column = profile_oid(doc, (*path, "varbinds", object_name), value, _EXAMPLE_OID)
                if column is not None and NAME_RE.fullmatch(str(object_name)):
                    self.columns.setdefault(column, str(object_name))
        if oid is None:
            return
        where = f"{doc.file}:{doc.line(path)}"
        first = self.seen.setdefault(oid, where)
        known = self.traps.get(oid)
        if known is not None and known.name != name:
            doc.report(path, f"traps: {format_oid(oid)} is already named {known.name} ({first})")
            return
        self.traps[oid] = TrapType(name, str(severity))


def load_trap_names(directory: str | Path | None = None) -> TrapNames:
    """The standard names plus every profile's ``traps:`` in ``directory`` (default: the shipped mibs/).

    Raises:
        ConfigError: one ``file:line: message`` per problem.
    """
    problems = Problems()
    catalog = _Catalog()
    for path in sorted(Path(directory if directory is not None else DEFAULT_DIR).glob("*.yaml")):
        doc = load_yaml(path, problems)
        if doc is not None:
            catalog.add_file(doc)
    problems.raise_if_any()
    return STANDARD_NAMES.with_profiles(catalog.traps, catalog.columns)
