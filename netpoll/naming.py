"""Output naming: netpoll's records as they are, or with Telegraf's names beside them (``naming: telegraf``).

With ``telegraf`` the records written to the time-series output (InfluxDB, or the line-protocol files) also
carry what a Grafana dashboard made for Telegraf's ``inputs.snmp`` (its common interface-table example) and
``inputs.ping`` reads: the ``hostname`` tag (sysName) on ``interface`` and ``snmp``, the IF-MIB-named status
and speed fields, ``snmp.uptime`` in TimeTicks, and ``ping.result_code`` as Telegraf defines it. netpoll's own
tags and fields stay, so netpoll's dashboards keep working on the same data. The alert engine and MQTT never
see these additions: rules keep netpoll's meanings. Mapping, costs and the migration: docs/telegraf.md.

Every tag and field added here is declared in ``netpoll.measurements``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from netpoll.measurements import INTERFACE, PING, PING_NO_SUCH_HOST, SNMP
from netpoll.sample import FieldValue, Sample

Naming = Literal["netpoll", "telegraf"]

# ifSpeed is a Gauge32: an interface faster than 4.29 Gbit/s reads as its maximum (ifHighSpeed has the truth).
IF_SPEED_MAX = 2**32 - 1
# Telegraf's ping result_code for a target that names no host (netpoll's own code says 2, could not probe).
TELEGRAF_NO_SUCH_HOST = 1
# Devices whose sysName is remembered; beyond it the oldest is forgotten (a removed device's entry lingers).
MAX_DEVICES = 1_000_000

Renamer = Callable[[Sequence[Sample]], list[Sample]]


def renamer(naming: Naming) -> Renamer | None:
    """What turns netpoll's records into the output's for ``naming``; None for netpoll's own names."""
    return TelegrafNaming() if naming == "telegraf" else None


class TelegrafNaming:
    """Adds Telegraf's tags and fields to netpoll's records; remembers each device's sysName between polls.

    Call it with the records of one poll or probe at a time: a poll's ``snmp`` record (which has sysName)
    comes after its ``interface`` records, so the batch is read for sysName first. A failed poll, which
    has no sysName, gets the one seen last, so its record stays in the device's series.
    """

    def __init__(self) -> None:
        self._hostnames: dict[str, str] = {}

    def __call__(self, samples: Sequence[Sample]) -> list[Sample]:
        """The records with Telegraf's names added (records of other measurements as they are)."""
        for sample in samples:
            if sample.measurement == SNMP.name:
                self._learn(sample)
        return [self._rename(sample) for sample in samples]

    def _learn(self, sample: Sample) -> None:
        device = sample.tags.get("device")
        name = sample.fields.get("sys_name")
        if device is None or not isinstance(name, str) or not name:
            return
        if device not in self._hostnames and len(self._hostnames) >= MAX_DEVICES:
            del self._hostnames[next(iter(self._hostnames))]
        self._hostnames[device] = name

    def _rename(self, sample: Sample) -> Sample:
        if sample.measurement == INTERFACE.name:
            return self._with(sample, interface_fields(sample.fields), hostname=True)
        if sample.measurement == SNMP.name:
            return self._with(sample, snmp_fields(sample.fields), hostname=True)
        if sample.measurement == PING.name:
            return self._with(sample, ping_fields(sample.fields), hostname=False)
        return sample

    def _with(self, sample: Sample, extra: dict[str, FieldValue], *, hostname: bool) -> Sample:
        tags = sample.tags
        # An inventory tag ``hostname`` wins: the user named the device so on purpose.
        name = self._hostnames.get(tags.get("device", "")) if hostname and "hostname" not in tags else None
        if name is not None:
            tags = {**tags, "hostname": name}
        if not extra and tags is sample.tags:
            return sample
        return Sample(sample.measurement, tags, {**sample.fields, **extra}, sample.time_ns)


def interface_fields(fields: Mapping[str, FieldValue]) -> dict[str, FieldValue]:
    """The IF-MIB-named fields of Telegraf's interface table that netpoll writes under its own names.

    ``ifHighSpeed`` and ``ifSpeed`` come from ``speed_bps`` (ifHighSpeed x 10^6, else ifSpeed): the same
    values wherever the agent's two columns agree, ifSpeed saturated at its Gauge32 maximum as agents send it.
    """
    out: dict[str, FieldValue] = {}
    for telegraf, own in (("ifOperStatus", "oper_status"), ("ifAdminStatus", "admin_status")):
        value = fields.get(own)
        if isinstance(value, int):
            out[telegraf] = value
    speed = fields.get("speed_bps")
    if isinstance(speed, int) and not isinstance(speed, bool):
        out["ifHighSpeed"] = speed // 1_000_000
        out["ifSpeed"] = min(speed, IF_SPEED_MAX)
    return out


def snmp_fields(fields: Mapping[str, FieldValue]) -> dict[str, FieldValue]:
    """``uptime`` in TimeTicks (hundredths of a second), as Telegraf writes sysUpTimeInstance."""
    uptime_s = fields.get("uptime_s")
    if isinstance(uptime_s, float | int) and not isinstance(uptime_s, bool):
        return {"uptime": round(uptime_s * 100)}
    return {}


def ping_fields(fields: Mapping[str, FieldValue]) -> dict[str, FieldValue]:
    """``result_code`` as Telegraf defines it: 1 (no such host) where the target names no host.

    netpoll says 2 there (the probe could not run). The other codes mean the same in both: 0 a reply came,
    1 none did (Telegraf writes 1 for that too), 2 the probe failed otherwise.
    """
    error = fields.get("error")  # written only with result code 2
    if isinstance(error, str) and error.startswith(PING_NO_SUCH_HOST):
        return {"result_code": TELEGRAF_NO_SUCH_HOST}
    return {}
