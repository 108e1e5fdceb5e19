"""Which inventory device sent a notification, and whether its community is the device's.

A notification is matched by its source address, else (relayed or NATed traps) by the v1 agent-addr or
``snmpTrapAddress.0`` it carries. Pure: no I/O.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from netpoll.inventory.models import CommunityCredentials, Device


def _key(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None  # a DNS name in the inventory: traps come from addresses, never looked up here
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d
    return str(ip)


@dataclass(frozen=True, slots=True)
class Match:
    """The device a notification came from, and whether its community was right."""

    device: Device
    authentic: bool


class Sources:
    """Inventory devices by address, for matching notifications to devices.

    Args:
        devices: the loaded inventory's devices; those named by a DNS name are not matched.
    """

    def __init__(self, devices: Iterable[Device]) -> None:
        self._by_address: dict[str, Device] = {}
        for device in devices:
            key = _key(device.address)
            if key is not None:
                self._by_address.setdefault(key, device)

    def __len__(self) -> int:
        return len(self._by_address)

    def devices(self) -> list[Device]:
        """The devices that can be matched."""
        return list(self._by_address.values())

    def device(self, source: str, agent_addr: str = "") -> Device | None:
        """The device at ``source``, else at ``agent_addr``; None for an unknown sender."""
        for address in (source, agent_addr):
            # A socket gives addresses in the keys' (canonical) form: most senders are found without parsing.
            device = self._by_address.get(address)
            if device is not None:
                return device
            key = _key(address) if address else None
            if key is not None and key in self._by_address:
                return self._by_address[key]
        return None

    def match(self, source: str, agent_addr: str, community: bytes) -> Match | None:
        """The sending device and whether ``community`` is its community; None for an unknown sender.

        A device polled with SNMPv3 has no community: a v1/v2c notification from it is not authentic.
        """
        device = self.device(source, agent_addr)
        if device is None:
            return None
        credentials = device.snmp.credentials if device.snmp is not None else None
        authentic = isinstance(credentials, CommunityCredentials) and hmac.compare_digest(
            credentials.community.get_secret_value().encode("utf-8", "surrogateescape"), community
        )
        return Match(device, authentic)
