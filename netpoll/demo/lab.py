"""The demo lab: generated snmprec recordings of a few routers, switches and firewalls, and their inventory.

Each device gets its own loopback address (127.0.0.11, .12, ...) on which snmpsim answers SNMP and the
kernel answers ping. Counters move: they use snmpsim's ``numeric`` variation module (value = initial + rate x
seconds since the simulator started), so rates are non-zero from the second poll on. sysObjectIDs are
chosen to match the vendor profiles in ``mibs/`` (Cisco, Juniper, Fortinet, Aruba). Communities are the file
stems (snmpsim's rule) and reach the inventory through ``community_file`` (never written inline).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Record tags of the snmprec format (ASN.1 / SNMP application types).
INTEGER, OCTETS, OID, COUNTER32, GAUGE32, TIMETICKS, COUNTER64 = "2", "4", "6", "65", "66", "67", "70"

SYS = "1.3.6.1.2.1.1"
IF_ENTRY = "1.3.6.1.2.1.2.2.1"
IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1"


@dataclass(frozen=True, slots=True)
class DemoDevice:
    """One simulated device: name, role, vendor identity and interface traffic plan."""

    name: str
    role: str
    site: str
    address: str
    sys_object_id: str
    sys_descr: str
    interfaces: tuple[tuple[str, int, float], ...]  # (ifName, speed in Mbit/s, utilisation 0..1; <0 = down)
    vendor: str
    extra: tuple[tuple[str, str, str], ...] = field(default=())  # (oid, tag, value) vendor scalars/rows

    @property
    def community(self) -> str:
        """The community of this recording (snmpsim uses the file stem)."""
        return f"demo-{self.name}"


def _ports(
    prefix: str, count: int, speed: int, base_util: float, down: frozenset[int] = frozenset()
) -> list[tuple[str, int, float]]:
    return [
        (f"{prefix}{i}", speed, -1.0 if i in down else round(base_util * (0.3 + (i * 37 % 70) / 100), 3))
        for i in range(1, count + 1)
    ]


def demo_devices() -> tuple[DemoDevice, ...]:
    """The demo lab's devices."""
    cpu_cisco = [
        (
            "1.3.6.1.4.1.9.9.109.1.1.1.1.7.1",
            GAUGE32,
            "numeric|function=sin%<time>,rate=0.05,scale=15,offset=35",
        ),
        (
            "1.3.6.1.4.1.9.9.109.1.1.1.1.8.1",
            GAUGE32,
            "numeric|function=sin%<time>,rate=0.01,scale=10,offset=30",
        ),
        ("1.3.6.1.4.1.9.9.221.1.1.1.1.3.1", OCTETS, "Processor"),
        ("1.3.6.1.4.1.9.9.221.1.1.1.1.7.1", GAUGE32, "412000000"),
        ("1.3.6.1.4.1.9.9.221.1.1.1.1.8.1", GAUGE32, "1236000000"),
        ("1.3.6.1.4.1.9.9.221.1.1.1.1.18.1", COUNTER64, "412000000"),
        ("1.3.6.1.4.1.9.9.221.1.1.1.1.20.1", COUNTER64, "1236000000"),
        ("1.3.6.1.4.1.9.9.13.1.3.1.3.1", GAUGE32, "41"),
    ]
    juniper = [
        ("1.3.6.1.4.1.2636.3.1.13.1.5.9.1.0.0", OCTETS, "Routing Engine 0"),
        ("1.3.6.1.4.1.2636.3.1.13.1.7.9.1.0.0", GAUGE32, "44"),
        (
            "1.3.6.1.4.1.2636.3.1.13.1.8.9.1.0.0",
            GAUGE32,
            "numeric|function=sin%<time>,rate=0.02,scale=12,offset=25",
        ),
        ("1.3.6.1.4.1.2636.3.1.13.1.11.9.1.0.0", GAUGE32, "57"),
    ]
    fortinet = [
        (
            "1.3.6.1.4.1.12356.101.4.1.3.0",
            GAUGE32,
            "numeric|function=sin%<time>,rate=0.03,scale=20,offset=45",
        ),
        ("1.3.6.1.4.1.12356.101.4.1.4.0", GAUGE32, "62"),
        (
            "1.3.6.1.4.1.12356.101.4.1.8.0",
            GAUGE32,
            "numeric|function=sin%<time>,rate=0.01,scale=2000,offset=48000",
        ),
    ]
    hr = [
        ("1.3.6.1.2.1.25.3.3.1.2.1", INTEGER, "numeric|function=sin%<time>,rate=0.04,scale=10,offset=20"),
        ("1.3.6.1.2.1.25.3.3.1.2.2", INTEGER, "numeric|function=sin%<time>,rate=0.03,scale=10,offset=22"),
    ]
    return (
        DemoDevice(
            "rtr-core-1", "router", "par1", "127.0.0.11", "1.3.6.1.4.1.9.1.2494",
            "Cisco IOS Software [IOSXE], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Version 17.9.4",
            tuple(_ports("Te0/0/", 4, 10000, 0.35) + _ports("Gi0/1/", 4, 1000, 0.5, frozenset({4}))),
            "cisco", tuple(cpu_cisco),
        ),
        DemoDevice(
            "rtr-edge-1", "router", "par1", "127.0.0.12", "1.3.6.1.4.1.2636.1.1.1.2.21",
            "Juniper Networks, Inc. mx480 internet router, kernel JUNOS 21.4R3",
            # ge-0/0/1 runs hot (95 % of 1 Gbit/s): the default utilisation rule (> 90 % for 3 polls) fires.
            (("xe-0/0/0", 10000, 0.42), ("ge-0/0/1", 1000, 0.95), ("ge-0/0/2", 1000, 0.12),
             ("ge-0/0/3", 1000, -1.0), ("ae0", 20000, 0.3), ("lo0", 0, 0.0)),
            "juniper", tuple(juniper),
        ),
        DemoDevice(
            "sw-access-1", "switch", "par1", "127.0.0.13", "1.3.6.1.4.1.9.1.1208",
            "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E8",
            tuple(_ports("Gi1/0/", 24, 1000, 0.08, frozenset({5, 17, 18})) + _ports("Te1/0/", 2, 10000, 0.2)),
            "cisco", tuple(cpu_cisco),
        ),
        DemoDevice(
            "sw-dist-1", "switch", "ams1", "127.0.0.14", "1.3.6.1.4.1.47196.4.1.1.1.50",
            "Aruba JL635A 8325 GL.10.10.1010",
            tuple(_ports("1/1/", 12, 25000, 0.15, frozenset({11, 12}))),
            "aruba", tuple(hr),
        ),
        DemoDevice(
            "fw-edge-1", "firewall", "par1", "127.0.0.15", "1.3.6.1.4.1.12356.101.1.15000",
            "FortiGate-1500D v7.2.8",
            (("port1", 10000, 0.25), ("port2", 10000, 0.22), ("mgmt", 1000, 0.01), ("ha", 1000, 0.05)),
            "fortinet", tuple(fortinet),
        ),
        DemoDevice(
            "fw-dc-1", "firewall", "ams1", "127.0.0.16", "1.3.6.1.4.1.12356.101.1.15000",
            "FortiGate-1500D v7.2.8",
            (("port1", 10000, 0.18), ("port2", 10000, 0.16), ("mgmt", 1000, 0.01)),
            "fortinet", tuple(fortinet),
        ),
    )  # fmt: skip


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in oid.split("."))


def _records(device: DemoDevice) -> Iterator[tuple[str, str, str]]:
    seed = sum(device.name.encode())
    yield f"{SYS}.1.0", OCTETS, device.sys_descr
    yield f"{SYS}.2.0", OID, device.sys_object_id
    # Uptime: 100 ticks per second from a device-specific start, like a box up for a few days.
    yield f"{SYS}.3.0", TIMETICKS, f"numeric|rate=100,initial={(seed % 9 + 2) * 8_640_000}"
    yield f"{SYS}.4.0", OCTETS, "noc@example.net"
    yield f"{SYS}.5.0", OCTETS, device.name
    yield f"{SYS}.6.0", OCTETS, device.site
    yield "1.3.6.1.2.1.2.1.0", INTEGER, str(len(device.interfaces))
    for index, (name, speed, util) in enumerate(device.interfaces, start=1):
        up = util >= 0
        byte_rate = int(speed * 1_000_000 * max(util, 0.0) / 8)
        out_rate = int(byte_rate * 0.63)
        pkt_in, pkt_out = byte_rate // 800 + (1 if up else 0), out_rate // 800 + (1 if up else 0)
        err = 1 if up and index % 5 == 3 else 0
        initial = (seed * 7919 + index * 104729) % 10**9

        def counter(rate: int, start: int, tag: str = COUNTER64) -> str:
            if rate <= 0:
                return str(start)
            wrap = ",wrap=1" if tag == COUNTER32 else ""
            return f"numeric|rate={rate},initial={start}{wrap}"

        entry = {
            2: (OCTETS, name),
            3: (INTEGER, "6" if speed else "24"),
            5: (GAUGE32, str(min(speed * 1_000_000, 4_294_967_295))),
            7: (INTEGER, "1" if up or index % 2 else "2"),
            8: (INTEGER, "1" if up else "2"),
            10: (COUNTER32, counter(byte_rate, initial % 2**31, COUNTER32)),
            11: (COUNTER32, counter(pkt_in, initial % 2**20, COUNTER32)),
            13: (COUNTER32, "0"),
            14: (COUNTER32, counter(err, 3, COUNTER32)),
            16: (COUNTER32, counter(out_rate, initial % 2**30, COUNTER32)),
            17: (COUNTER32, counter(pkt_out, initial % 2**21, COUNTER32)),
            19: (COUNTER32, "0"),
            20: (COUNTER32, "0"),
        }
        for column, (tag, value) in entry.items():
            yield f"{IF_ENTRY}.{column}.{index}", tag, value
        xentry = {
            1: (OCTETS, name),
            6: (COUNTER64, counter(byte_rate, initial)),
            7: (COUNTER64, counter(pkt_in, initial // 1000)),
            10: (COUNTER64, counter(out_rate, initial // 2)),
            11: (COUNTER64, counter(pkt_out, initial // 2000)),
            15: (GAUGE32, str(speed)),
            18: (OCTETS, f"demo {device.role} link {index}" if up else ""),
        }
        for column, (tag, value) in xentry.items():
            yield f"{IFX_ENTRY}.{column}.{index}", tag, value
    yield from device.extra


def snmprec(device: DemoDevice) -> str:
    """The recording of one device, records in OID order (snmpsim requires it)."""
    lines = []
    for oid, tag, value in sorted(_records(device), key=lambda rec: _oid_key(rec[0])):
        if value.startswith("numeric|"):
            lines.append(f"{oid}|{tag}:numeric|{value.removeprefix('numeric|')}")
        else:
            lines.append(f"{oid}|{tag}|{value}")
    return "\n".join(lines) + "\n"


def inventory_yaml(devices: tuple[DemoDevice, ...], port: int, interval_s: float) -> str:
    """The demo inventory: every device over SNMP v2c on ``port`` and pinged, plus ping-only targets."""
    lines = [
        "# Generated by `netpoll run` (demo mode): the simulated lab served by snmpsim on loopback.",
        "defaults:",
        "  snmp:",
        f"    port: {port}",
        f"    interval_s: {interval_s:g}",
        "    timeout_s: 2",
        "    retries: 1",
        "  ping:",
        f"    interval_s: {interval_s:g}",
        "    count: 3",
        "    packet_interval_s: 0.2",
        "    timeout_s: 1",
        "  tags:",
        "    lab: demo",
        "credentials:",
    ]
    for device in devices:
        lines += [
            f"  {device.community}:",
            "    version: 2c",
            f"    community_file: communities/{device.community}",
        ]
    lines.append("devices:")
    for device in devices:
        lines += [
            f"  - name: {device.name}",
            f"    address: {device.address}",
            f"    role: {device.role}",
            f"    site: {device.site}",
            "    snmp:",
            f"      credentials: {device.community}",
            "    tags:",
            f"      vendor: {device.vendor}",
        ]
    for n, address in enumerate(("127.0.0.21", "127.0.0.22"), start=1):
        lines += [
            f"  - name: wan-peer-{n}",
            f"    address: {address}",
            "    role: peer",
            "    site: par1",
            "    snmp:",
            "      enabled: false",
        ]
    return "\n".join(lines) + "\n"


def write_lab(directory: Path, port: int, interval_s: float) -> tuple[Path, Path]:
    """Write recordings, community files and the inventory; returns (recordings dir, inventory file)."""
    devices = demo_devices()
    recordings = directory / "snmprec"
    communities = directory / "communities"
    recordings.mkdir(parents=True, exist_ok=True)
    communities.mkdir(parents=True, exist_ok=True)
    for old in recordings.glob("*.snmprec"):
        old.unlink()
    for device in devices:
        path = recordings / f"{device.community}.snmprec"
        path.write_text(snmprec(device))
        path.chmod(0o644)
        secret = communities / device.community
        secret.write_text(device.community + "\n")
        secret.chmod(0o600)
    inventory = directory / "inventory.yaml"
    inventory.write_text(inventory_yaml(devices, port, interval_s))
    return recordings, inventory
