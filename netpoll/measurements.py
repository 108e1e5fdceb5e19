"""The data model: every measurement netpoll writes, declared once.

Each :class:`Measurement` names its tags and its fields (type, unit, one-line meaning) and the module that
writes it. Producers take the measurement name from here, the alert rules parser takes its known fields from
here (plus the fields of the loaded device profiles), the schema tables in ``docs/`` are generated from here
and the Grafana dashboards and every producer's output are checked against it by tests.

Adding a measurement: declare it below and add it to ``MEASUREMENTS``; write its samples with
``MY_MEASUREMENT.name``; put a ``<!-- generated: measurement NAME -->`` / ``<!-- /generated -->`` pair where
its table belongs in a Markdown file (docs/schema.md, the plugin's README) and run
``python -m netpoll.measurements --update FILE``; a test fails while a marked table differs from the model.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from netpoll.sample import Sample

FieldType = Literal["float", "integer", "string", "boolean"]
FIELD_TYPES: tuple[FieldType, ...] = ("float", "integer", "string", "boolean")
_TYPES: dict[str, FieldType] = {kind: kind for kind in FIELD_TYPES}
NUMERIC: frozenset[FieldType] = frozenset({"float", "integer"})


@dataclass(frozen=True, slots=True)
class Tag:
    """One tag key: its name and what it holds."""

    name: str
    meaning: str


@dataclass(frozen=True, slots=True)
class Field:
    """One field key.

    Attributes:
        name: the field key.
        type: how it is written to line protocol (``float``, ``integer`` ``i``, ``string``, ``boolean``).
        unit: e.g. ``bit/s``, ``%``, ``ms``; ``""`` for text, enumerations and flags.
        meaning: one line: what the value is.
        profile: computed by the device profiles (``mibs/``): present only where the device's profile has it.
    """

    name: str
    type: FieldType
    unit: str
    meaning: str
    profile: bool = False

    def accepts(self, value: object) -> bool:
        """Whether ``value`` has this field's line-protocol type (a bool is never an integer or a float)."""
        if self.type == "boolean":
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if self.type == "integer":
            return isinstance(value, int)
        if self.type == "float":
            return isinstance(value, float)
        return isinstance(value, str)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement: its tags, its fields and who writes it.

    Attributes:
        name: the InfluxDB measurement.
        producer: the module that builds its samples.
        summary: one line: when a point is written.
        tags: the tag keys it may carry.
        fields: the field keys it may carry (a field is absent when it has no value).
        subject_tag: the tag that names what a record is about: the alert engine keys its state on it and
            it becomes an alert's ``device``.
        entity_tag: the tag a rule on this measurement watches per entity by default (e.g. ifName); None:
            rules are device-level unless they say ``entity``.
        inventory_tags: records also carry the device's inventory tags (site, role and the free tags).
        rules: whether alert rules may watch it (not the ``alert`` records the rules themselves make).
    """

    name: str
    producer: str
    summary: str
    tags: tuple[Tag, ...]
    fields: tuple[Field, ...]
    subject_tag: str = "device"
    entity_tag: str | None = None
    inventory_tags: bool = False
    rules: bool = True

    def field(self, name: str) -> Field | None:
        """The declared field ``name``, or None."""
        for declared in self.fields:
            if declared.name == name:
                return declared
        return None

    @property
    def field_names(self) -> frozenset[str]:
        """Every declared field key."""
        return frozenset(f.name for f in self.fields)

    @property
    def tag_names(self) -> frozenset[str]:
        """Every declared tag key (inventory tags not included)."""
        return frozenset(t.name for t in self.tags)

    def with_fields(self, extra: Iterable[Field]) -> Measurement:
        """This measurement with more fields (those already declared keep their declaration)."""
        known = self.field_names
        added = tuple(f for f in extra if f.name not in known)
        return dataclasses.replace(self, fields=self.fields + added) if added else self

    def problems(self, sample: Sample) -> list[str]:
        """What in ``sample`` does not fit this declaration: undeclared tags or fields, wrong types."""
        found = []
        for key, tag_value in sample.tags.items():
            if not isinstance(tag_value, str):
                found.append(f"{self.name}: tag {key}={tag_value!r} is not a string")
            if key not in self.tag_names and not (self.inventory_tags and key not in self.field_names):
                found.append(f"{self.name}: undeclared tag {key!r}")
        for key, value in sample.fields.items():
            declared = self.field(key)
            if declared is None:
                found.append(f"{self.name}: undeclared field {key!r}={value!r}")
            elif not declared.accepts(value):
                found.append(
                    f"{self.name}: field {key}={value!r} is {type(value).__name__}, declared {declared.type}"
                )
        if self.subject_tag not in sample.tags:
            found.append(f"{self.name}: no {self.subject_tag!r} tag")
        return found


# --- the declarations ---------------------------------------------------------------------------------

_DEVICE = Tag("device", "inventory name of the device")
_AGENT_HOST = Tag("agent_host", "the address polled")
_SITE = Tag("site", "the device's site in the inventory (absent when not set)")
_ROLE = Tag("role", "the device's role in the inventory (absent when not set)")
# With ``naming: telegraf`` (netpoll.naming): Telegraf's tag for the agent's own name.
_HOSTNAME = Tag("hostname", "naming: telegraf only: sysName, as Telegraf's common snmp example tags it")

# Telegraf's ping tags: ``url`` is the address as configured, ``device`` netpoll's own.
_PING_TAGS = (
    Tag("device", "inventory name (ad-hoc targets: the address as given)"),
    Tag("url", "the address probed as configured (IP or DNS name), as Telegraf's url"),
    _SITE,
    _ROLE,
)

# How a ping record's ``error`` begins when the target names no host (a name that does not resolve, an invalid
# address): the one failure Telegraf gives a result code of its own (1, "no such host"; netpoll: 2).
PING_NO_SUCH_HOST = "no such host"

# The poller itself is the subject: its instance name, as in the MQTT status topic.
_NETPOLL_TAGS = (
    Tag("instance", "mqtt.instance, else the host name (+ -shard-I-of-N when sharded)"),
    Tag("shard", "I/N from --shard or shard:, 0/1 when not sharded"),
)

# A trap's sender and what it was: the notification's name and the SNMP version it came in.
_TRAP_TAGS = (
    Tag("device", "inventory name of the sender (netpoll traps without an inventory: its address)"),
    Tag("agent_host", "the address the notification came from"),
    Tag("trap", "the notification's name (coldStart, linkDown, ...), else its dotted snmpTrapOID"),
    Tag("version", "SNMP version it came in: 1, 2c, 3"),
    Tag("ifName", "linkDown/linkUp: the ifName of its ifIndex from the poller's labels (absent if unknown)"),
    _SITE,
    _ROLE,
)


def _fields(table: str, *, profile: bool = False) -> tuple[Field, ...]:
    """Fields from a table, one per line: name, type, unit (``-`` for none) and the meaning (the rest).

    A line that starts with a space continues the meaning of the line above.
    """
    rows: list[list[str]] = []
    for line in textwrap.dedent(table).strip("\n").splitlines():
        if line[:1].isspace():
            rows[-1][3] += " " + line.strip()
        else:
            rows.append(line.split(maxsplit=3))
    fields = []
    for name, kind, unit, meaning in rows:
        if kind not in _TYPES:
            raise ValueError(f"field {name}: type {kind!r} is not one of {', '.join(FIELD_TYPES)}")
        fields.append(Field(name, _TYPES[kind], "" if unit == "-" else unit, meaning, profile=profile))
    return tuple(fields)


def _raw_counters() -> tuple[Field, ...]:
    """The IF-MIB counters, written raw under their MIB names next to the rates computed from them."""
    pairs = (
        ("InOctets", "bytes", "octets received"),
        ("OutOctets", "bytes", "octets sent"),
        ("InUcastPkts", "packets", "unicast packets received"),
        ("OutUcastPkts", "packets", "unicast packets sent"),
        ("InMulticastPkts", "packets", "multicast packets received"),
        ("OutMulticastPkts", "packets", "multicast packets sent"),
        ("InBroadcastPkts", "packets", "broadcast packets received"),
        ("OutBroadcastPkts", "packets", "broadcast packets sent"),
    )
    only_32 = "only on devices where some interface lacks the 64-bit one"
    fields = []
    for suffix, unit, what in pairs:
        fields.append(Field(f"ifHC{suffix}", "integer", unit, f"raw 64-bit counter: {what}"))
        fields.append(Field(f"if{suffix}", "integer", unit, f"raw 32-bit counter: {what}; {only_32}"))
    for name, what in (
        ("ifInErrors", "inbound packets with errors"),
        ("ifOutErrors", "outbound packets with errors"),
        ("ifInDiscards", "inbound packets discarded"),
        ("ifOutDiscards", "outbound packets discarded"),
    ):
        fields.append(Field(name, "integer", "packets", f"raw 32-bit counter: {what}"))
    return tuple(fields)


INTERFACE = Measurement(
    name="interface",
    producer="netpoll.inputs.snmp.metrics",
    summary="SNMP, one point per interface per poll",
    tags=(
        _DEVICE,
        _AGENT_HOST,
        Tag("ifName", "ifName, else ifDescr, else the ifIndex"),
        Tag("ifIndex", "the IF-MIB row index"),
        Tag("ifDescr", "ifDescr (absent when empty)"),
        Tag("ifAlias", "ifAlias, the interface description (absent when empty)"),
        _SITE,
        _ROLE,
        _HOSTNAME,
    ),
    fields=(
        *_fields(
            """
            in_bps           float    bit/s      received, from the 64-bit octet counters (32-bit fallback)
            out_bps          float    bit/s      sent, from the 64-bit octet counters (32-bit fallback)
            in_util_pct      float    %          in_bps as 0-100 of speed_bps; absent when the speed is 0 or
                                                 unknown
            out_util_pct     float    %          out_bps as 0-100 of speed_bps; absent when the speed is 0 or
                                                 unknown
            in_pps           float    packets/s  unicast + multicast + broadcast packets received
            out_pps          float    packets/s  unicast + multicast + broadcast packets sent
            in_errors_ps     float    1/s        inbound errors per second
            out_errors_ps    float    1/s        outbound errors per second
            in_discards_ps   float    1/s        inbound discards per second
            out_discards_ps  float    1/s        outbound discards per second
            in_error_pct     float    %          inbound errors x 100 / (packets + errors) over the interval
            out_error_pct    float    %          outbound errors x 100 / (packets + errors) over the interval
            oper_status      integer  -          IF-MIB ifOperStatus: 1 up, 2 down, 3 testing, 5 dormant, 6
                                                 notPresent, 7 lowerLayerDown
            admin_status     integer  -          IF-MIB ifAdminStatus: 1 up, 2 down, 3 testing
            speed_bps        integer  bit/s      ifHighSpeed (Mbit/s) x 1,000,000, else ifSpeed; 0 when the
                                                 agent says 0
            """
        ),
        *_raw_counters(),
        *_fields(
            """
            ifOperStatus   integer  -      naming: telegraf only: oper_status under its IF-MIB name
            ifAdminStatus  integer  -      naming: telegraf only: admin_status under its IF-MIB name
            ifHighSpeed    integer  Mbit/s naming: telegraf only: speed_bps / 1,000,000, rounded down
            ifSpeed        integer  bit/s  naming: telegraf only: speed_bps, at most 4,294,967,295 (Gauge32)
            """
        ),
    ),
    entity_tag="ifName",
    inventory_tags=True,
)

SNMP = Measurement(
    name="snmp",
    producer="netpoll.inputs.snmp.poller",
    summary="SNMP, one point per device per poll",
    tags=(_DEVICE, _AGENT_HOST, _SITE, _ROLE, _HOSTNAME),
    fields=(
        *_fields(
            """
            poll_ok           integer  -      1 the poll succeeded, 0 it failed (then only poll_duration_ms,
                                              varbinds, error)
            error             string   -      why the poll failed (timeout, SNMPv3 authentication, deadline,
                                              unknown profile)
            uptime_s          float    s      agent uptime (sysUpTime, wrap-corrected; snmpEngineTime beyond
                                              497 days)
            rebooted          integer  -      1 on the poll where a reboot was detected, else 0
            unexpected_reboot integer  -      1 on the poll where a reboot was detected and no coldStart or
                                              warmStart trap from the device came since it booted, else 0
            poll_duration_ms  float    ms     wall time of the whole poll
            varbinds          integer  count  variable bindings received
            partial           integer  -      1 when the deadline came while the profile's tables were read:
                                              every interface is there, some profile fields are not (read on
                                              the next polls); absent otherwise
            profile           string   -      the device profile used
            uptime            integer  1/100s  naming: telegraf only: uptime_s in TimeTicks, as Telegraf
                                              writes sysUpTimeInstance
            """
        ),
        *_fields(
            """
            sys_name           string   -      sysName
            cpu_pct            float    %      CPU load 0-100
            cpu_1min_pct       float    %      Cisco 1-minute CPU load 0-100
            mem_used_pct       float    %      memory in use 0-100
            temperature_c      float    °C     highest temperature sensor, where the MIB has one
            sessions           integer  count  firewall sessions (ASA, FortiGate, PAN-OS)
            sessions_util_pct  float    %      PAN-OS session table use 0-100
            bad_community_names_ps  float  1/s  SNMPv2-MIB snmpInBadCommunityNames: requests with a
                                                community the agent does not know, per second
            bad_community_uses_ps   float  1/s  SNMPv2-MIB snmpInBadCommunityUses: requests the community
                                                does not allow (a SET with a read-only one), per second
            usm_wrong_digests_ps    float  1/s  SNMP-USER-BASED-SM-MIB usmStatsWrongDigests: SNMPv3 messages
                                                with a wrong authentication digest (wrong key), per second
            usm_unknown_users_ps    float  1/s  SNMP-USER-BASED-SM-MIB usmStatsUnknownUserNames: SNMPv3
                                                messages for a user the agent does not know, per second
            config_changed          integer  -  1 on the poll where the device's last-configuration-change
                                                time moved, else 0 (vendors with one: Cisco, Juniper)
            config_changed_uptime_s float    s  the device's uptime at its last configuration change
                                                (ccmHistoryRunningLastChanged, jnxCmCfgChgLatestTime)
            """,
            profile=True,
        ),
    ),
    inventory_tags=True,
)

PING = Measurement(
    name="ping",
    producer="netpoll.inputs.icmp.stats",
    summary="ICMP, one point per target per probe (Telegraf-compatible)",
    tags=_PING_TAGS,
    fields=(
        *_fields(
            """
            packets_transmitted    integer  packets  echo requests the kernel accepted
            packets_received       integer  packets  replies within the timeout
            percent_packet_loss    float    %        0-100; 100 when nothing could be sent
            minimum_response_ms    float    ms       fastest reply; absent when nothing came back
            average_response_ms    float    ms       mean round trip; absent when nothing came back
            maximum_response_ms    float    ms       slowest reply; absent when nothing came back
            standard_deviation_ms  float    ms       population standard deviation (ping's mdev)
            jitter_ms              float    ms       mean absolute difference of consecutive RTTs; needs two
                                                     replies
            ttl                    integer  -        IP TTL (IPv6 hop limit) the first reply arrived with;
                                                     absent when nothing came back
            result_code            integer  -        0 ok, 1 no reply, 2 error (unresolvable name, no route,
                                                     no socket); naming: telegraf writes 1 for no such host
            reachable              integer  -        1 when at least one reply came back, else 0
            error                  string   -        why the probe could not run (only with result_code 2);
                                                     "no such host: ..." when the target names no host
            """
        ),
    ),
    inventory_tags=True,
)

NETPOLL = Measurement(
    name="netpoll",
    producer="netpoll.daemon.selfmon",
    summary="self-monitoring, one point per daemon per cycle; counts are for that cycle",
    tags=_NETPOLL_TAGS,
    fields=(
        *_fields(
            """
            polls_ok              integer  count   SNMP polls with poll_ok=1 and ping probes with result_code
                                                   0
            polls_failed          integer  count   the other polls and probes the device is to blame for
                                                   (unreachable agent, its deadline, error)
            polls_overloaded      integer  count   polls the poller was too busy for (not the device's
                                                   failure, no record written): overloaded_slot_wait +
                                                   polls_skipped + overloaded_loop_lag + overloaded_queue +
                                                   overloaded_shed
            overloaded_slot_wait  integer  count   polls that got no concurrency slot before their next run
                                                   was due (nothing sent)
            overloaded_loop_lag   integer  count   polls that failed for want of an answer while the event
                                                   loop stalled for 1 s or more
            overloaded_queue      integer  count   polls cut at their deadline after waiting 1 s or more in
                                                   the poller's own queues (pysnmp in-flight bound, ICMP
                                                   pacing)
            overloaded_shed       integer  count   polls not started because the event loop ran 1 s or
                                                   more behind (nothing sent)
            polls_skipped         integer  count   runs APScheduler did not start: the device's previous
                                                   poll still ran, or the run was missed (overloaded too)
            polls_late            integer  count   polls started more than max(1 s, 5 % of the interval) late
            poll_lag_ms           float    ms      largest delay between a poll's due time and its first
                                                   request (the wait for a slot included)
            poll_lag_p99_ms       float    ms      99th percentile of that delay over the cycle's polls
            loop_lag_p99_ms       float    ms      99th percentile of the event loop's lag (a timer due every
                                                   0.1 s, how late it ran)
            loop_lag_max_ms       float    ms      largest event-loop lag in the cycle
            queue_size            integer  points  points waiting in memory for the output
            spool_bytes           integer  bytes   bytes in the on-disk spool (InfluxDB unreachable); 0 for
                                                   files
            write_latency_ms      float    ms      duration of the last successful write
            points_written        integer  points  points the output delivered during the cycle
            points_dropped        integer  points  points the output dropped during the cycle (rejected, spool
                                                   full, unwritable)
            devices               integer  count   devices scheduled
            snmp_decoder_faults   integer  count   SNMP replies a backend could not decode, since start (per
                                                   backend on /metrics)
            snmp_replies_dropped  integer  count   SNMP datagrams dropped unread (no request was sent to their
                                                   source), since start
            alerts_queued         integer  count   with MQTT: alerts waiting for the broker now
            alerts_published      integer  count   with MQTT: alerts the broker acknowledged since start
            alerts_dropped        integer  count   with MQTT: alerts pushed out of the full queue since start
            alerts_refused        integer  count   with MQTT 5: alerts the broker refused (ACL, quota, topic;
                                                   PUBACK reason code) since start
            mqtt_connected        integer  -       with MQTT: 1 while connected to the broker, else 0
            """
        ),
    ),
    subject_tag="instance",
)

ALERT = Measurement(
    name="alert",
    producer="netpoll.alerts.alert",
    summary="one point per published alert transition, at the time of the sample that made it",
    tags=(
        Tag("device", "device name (for a netpoll rule: the poller instance)"),
        Tag("rule", "rule name"),
        Tag("severity", "critical, major, minor, warning or info"),
        Tag("entity", "e.g. the ifName for per-interface rules; absent for device-level rules"),
        Tag("state", "breach, clear or event"),
    ),
    fields=(
        *_fields(
            """
            value      float   -  the value that made the transition (bools as 1.0/0.0; absent for text)
            threshold  float   -  the rule's breach value (absent for text)
            id         string  -  the MQTT payload's id (unique per transition)
            message    string  -  the one-line description
            """
        ),
    ),
    rules=False,
)

TRAP = Measurement(
    name="trap",
    producer="netpoll.inputs.traps.record",
    summary="one point per SNMP trap or inform received from a known device",
    tags=_TRAP_TAGS,
    fields=(
        *_fields(
            """
            trap_oid    string  -  snmpTrapOID.0 (v1: from enterprise and generic/specific trap)
            kind        string  -  trap, or inform (acknowledged with a Response)
            varbinds    string  -  the variable bindings as a JSON object by name ({"ifIndex.3": 3})
            severity    string  -  the severity a profile's traps: section gives it (absent when none)
            agent_addr  string  -  v1 agent-addr or snmpTrapAddress.0 (absent when not sent)
            uptime_s    float   s  the sender's sysUpTime.0 (v1 time-stamp)
            id          string  -  unique per notification (the MQTT event's id)
            """
        ),
    ),
    inventory_tags=True,
    rules=False,
)

TRAP_AUTH = Measurement(
    name="trap_auth",
    producer="netpoll.daemon.traps",
    summary="one point per notification from a known device that failed authentication (never an event)",
    tags=(
        Tag("device", "inventory name of the device the notification came from"),
        Tag("agent_host", "the address the notification came from"),
        Tag(
            "reason",
            "community (v1/v2c), unknown_user, wrong_digest, decryption, not_in_time_window,"
            " unsupported_security_level (v3 USM)",
        ),
        _SITE,
        _ROLE,
    ),
    fields=(
        *_fields(
            """
            failures  integer  count  authentication failures of this device since the daemon started
            """
        ),
    ),
    inventory_tags=True,
)


# --- per-row tables of the device profiles (netpoll.inputs.snmp.tables) ----------------------------------
# Every table record carries the device's tags and the row index; a profile's ``tables:`` entry adds the
# table's own tags. The shipped profiles write these measurements; a user profile may write them too (its
# extra tags and fields are added to the model when it loads) or declare a measurement of its own.

TABLE_TAGS = (_DEVICE, _AGENT_HOST, Tag("index", "the table's row index, dotted"), _SITE, _ROLE)
_TABLES = "netpoll.inputs.snmp.tables"


def _table(name: str, summary: str, tags: Sequence[Tag], fields: str, entity: str) -> Measurement:
    return Measurement(
        name=name,
        producer=_TABLES,
        summary=summary,
        tags=(*TABLE_TAGS, *tags),
        fields=_fields(fields),
        entity_tag=entity,
        inventory_tags=True,
    )


BGP_PEER = _table(
    "bgp_peer",
    "SNMP, one point per BGP peer per poll (BGP4-MIB and the Cisco, Juniper and Arista BGP MIBs)",
    (
        Tag("peer", "the peer's address"),
        Tag("instance", "routing instance (Juniper, Arista; absent elsewhere)"),
    ),
    """
    state             integer  -    1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established
    state_text        string   -    the state's name (idle ... established)
    admin_status      integer  -    1 stopped (halted), 2 started (running)
    remote_as         integer  -    the peer's AS number
    established_s     integer  s    seconds in (or since leaving) the established state
    in_updates_ps     float    1/s  UPDATE messages received per second (absent where the table has none)
    out_updates_ps    float    1/s  UPDATE messages sent per second (absent where the table has none)
    """,
    "peer",
)

SENSOR = _table(
    "sensor",
    "SNMP, one point per entity sensor per poll (ENTITY-SENSOR-MIB, CISCO-ENTITY-SENSOR-MIB)",
    (
        Tag("sensor", "entPhysicalName of the sensor, else its index"),
        Tag(
            "sensor_type", "celsius, rpm, watts, voltsDC, voltsAC, amperes, percentRH, truthvalue, other, ..."
        ),
    ),
    """
    value        float    -  the reading in its unit (sensor_type), the agent's scale and precision applied
    status       integer  -  1 ok, 2 unavailable, 3 nonoperational
    status_text  string   -  the status's name
    """,
    "sensor",
)

OPTICAL = _table(
    "optical",
    "SNMP, one point per transceiver sensor per poll (Cisco, Arista entity sensors; JUNIPER-DOM-MIB)",
    (
        Tag("sensor", "entPhysicalName of the sensor (Cisco, Arista) or the interface's ifName (Juniper)"),
        Tag("ifName", "the interface the transceiver sits in, where the name says so"),
    ),
    """
    rx_dbm         float  dBm  receive power
    tx_dbm         float  dBm  transmit power
    temperature_c  float  °C   transceiver temperature (Juniper)
    """,
    "sensor",
)

STORAGE = _table(
    "storage",
    "SNMP, one point per hrStorageTable row per poll (HOST-RESOURCES-MIB: memory, swap, file systems)",
    (
        Tag("storage", "hrStorageDescr (e.g. Physical memory, /var)"),
        Tag(
            "storage_type",
            "ram, virtualMemory, fixedDisk, removableDisk, flashMemory, networkDisk, other, ...",
        ),
    ),
    """
    size_bytes  integer  bytes  hrStorageSize x hrStorageAllocationUnits
    used_bytes  integer  bytes  hrStorageUsed x hrStorageAllocationUnits
    used_pct    float    %      hrStorageUsed x 100 / hrStorageSize; absent when the size is 0
    """,
    "storage",
)

PROCESSOR = _table(
    "processor",
    "SNMP, one point per processor per poll (HOST-RESOURCES-MIB hrProcessorTable)",
    (Tag("descr", "hrDeviceDescr of the processor"),),
    """
    load_pct  float  %  hrProcessorLoad: average load over the last minute, 0-100
    """,
    "index",
)

POE_PORT = _table(
    "poe_port",
    "SNMP, one point per PoE port per poll (POWER-ETHERNET-MIB pethPsePortTable)",
    (Tag("port", "group/port, the PSE group (stack member) and the port number"),),
    """
    admin_enable      integer  -      1 PoE enabled on the port, 2 disabled
    detection_status  integer  -      1 disabled, 2 searching, 3 deliveringPower, 4 fault, 5 test,
                                      6 otherFault
    detection_text    string   -      the detection status's name
    priority          integer  -      1 critical, 2 high, 3 low
    power_class       integer  -      detected class + 1 (1 class0 ... 5 class4)
    overload_count    integer  count  overloads since the agent started (pethPsePortOverLoadCounter)
    """,
    "port",
)

#: The measurements the shipped profiles' tables write, by name.
TABLE_MEASUREMENTS: Mapping[str, Measurement] = {
    m.name: m for m in (BGP_PEER, SENSOR, OPTICAL, STORAGE, PROCESSOR, POE_PORT)
}

MEASUREMENTS: Mapping[str, Measurement] = {
    m.name: m for m in (INTERFACE, SNMP, PING, NETPOLL, TRAP, TRAP_AUTH, *TABLE_MEASUREMENTS.values(), ALERT)
}


class Model:
    """A set of measurements: the declared ones, plus what loaded device profiles add.

    Args:
        measurements: by name; the declared ``MEASUREMENTS`` by default.
    """

    def __init__(self, measurements: Mapping[str, Measurement] | None = None) -> None:
        self.measurements: Mapping[str, Measurement] = dict(measurements or MEASUREMENTS)

    def __getitem__(self, name: str) -> Measurement:
        return self.measurements[name]

    def __contains__(self, name: object) -> bool:
        return name in self.measurements

    def __iter__(self) -> Iterator[str]:
        return iter(self.measurements)

    def with_fields(self, extra: Mapping[str, Iterable[Field]]) -> Model:
        """This model with more fields (e.g. a user profile's ``snmp`` fields), by measurement."""
        out = dict(self.measurements)
        for name, fields in extra.items():
            if name in out:
                out[name] = out[name].with_fields(fields)
        return Model(out)

    def with_measurements(self, extra: Iterable[Measurement]) -> Model:
        """This model with more measurements (e.g. per-row tables a profile declares).

        Raises:
            ValueError: one of them has the name of a measurement the model already has.
        """
        out = dict(self.measurements)
        for measurement in extra:
            if measurement.name in out:
                raise ValueError(f"measurement {measurement.name!r} is already declared")
            out[measurement.name] = measurement
        return Model(out)

    def problems(self, sample: Sample) -> list[str]:
        """What in ``sample`` does not fit the model (empty when it fits)."""
        measurement = self.measurements.get(sample.measurement)
        if measurement is None:
            return [f"undeclared measurement {sample.measurement!r}"]
        return measurement.problems(sample)

    def subject_tag(self, name: str) -> str:
        """The tag naming what a record of ``name`` is about (``device`` for anything undeclared)."""
        measurement = self.measurements.get(name)
        return measurement.subject_tag if measurement is not None else "device"


MODEL = Model()


# --- Markdown ------------------------------------------------------------------------------------------

_BLOCK = re.compile(
    r"(<!-- generated: measurement (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.S
)


def markdown_table(measurement: Measurement) -> str:
    """The Markdown table of one measurement: its producer, tags, and fields with type, unit and meaning."""
    rows = [
        f"Written by `{measurement.producer}`.",
        "",
        _row("", "name", "type", "unit", "meaning"),
        "|---|---|---|---|---|",
    ]
    for tag in measurement.tags:
        rows.append(_row("tag", f"`{tag.name}`", "", "", tag.meaning))
    if measurement.inventory_tags:
        rows.append(
            "| tags | free inventory tags | | | the device's own tags, as on every record of the device |"
        )
    for field in measurement.fields:
        meaning = field.meaning + (" (from the device profile)" if field.profile else "")
        rows.append(_row("field", f"`{field.name}`", field.type, field.unit, meaning))
    return "\n".join(rows) + "\n"


def _row(*cells: str) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def update_markdown(text: str, model: Model = MODEL) -> str:
    """``text`` with every ``<!-- generated: measurement NAME -->`` block regenerated from the model.

    Raises:
        KeyError: a block names a measurement the model does not declare.
    """
    return _BLOCK.sub(lambda m: m.group(1) + markdown_table(model[m.group("name")]) + m.group(4), text)


def generated_blocks(text: str) -> list[str]:
    """The measurement names of the generated blocks in ``text``, in order."""
    return [match.group("name") for match in _BLOCK.finditer(text)]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m netpoll.measurements``: print tables, or update/check the blocks in Markdown files."""
    parser = argparse.ArgumentParser(
        prog="python -m netpoll.measurements", description=__doc__.split("\n")[0]
    )
    parser.add_argument("names", nargs="*", help="measurements to print (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print the Markdown tables (the default)")
    parser.add_argument(
        "--update", nargs="+", metavar="FILE", type=Path, help="regenerate the blocks in FILE"
    )
    parser.add_argument("--check", nargs="+", metavar="FILE", type=Path, help="exit 1 when a block is stale")
    args = parser.parse_args(argv)
    files: list[Path] = args.update or args.check or []
    stale = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            new = update_markdown(text)
        except KeyError as exc:
            print(f"{path}: no measurement {exc} is declared in netpoll.measurements", file=sys.stderr)
            return 2
        if new != text:
            stale.append(path)
            if args.update:
                path.write_text(new, encoding="utf-8")
    if args.check:
        for path in stale:
            print(
                f"{path}: measurement tables differ from netpoll.measurements; run --update", file=sys.stderr
            )
        return 1 if stale else 0
    if args.update:
        for path in stale:
            print(f"{path}: updated")
        return 0
    unknown = [name for name in args.names if name not in MODEL]
    if unknown:
        print(f"unknown measurement(s) {', '.join(unknown)}; declared: {', '.join(MODEL)}", file=sys.stderr)
        return 2
    for name in args.names or list(MODEL):
        m = MODEL[name]
        print(f"### `{m.name}` ({m.summary})\n\n{markdown_table(m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
