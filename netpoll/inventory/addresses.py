"""Device addresses (IPv4, IPv6, DNS name, optional port) and address ranges expanded with netaddr."""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import netaddr

from netpoll.configkit.limits import MAX_FORMAT_WIDTH
from netpoll.configkit.problems import did_you_mean

DEFAULT_RANGE_CAP = 4096
# ``max_devices`` may raise the cap of one range up to this, no further.
MAX_RANGE_CAP = 65536

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_BRACKETED = re.compile(r"^\[([^\]]+)\](?::(.*))?$")
_V4_LIKE = re.compile(r"^[0-9.]+$")
NAME_FIELDS = ("ip", "ip_dashed", "index")


class AddressError(ValueError):
    """An address or range is malformed; the message says how to fix it."""


@dataclass(frozen=True)
class Address:
    """A parsed device address: ``host`` is a normalised IP or a lower-case DNS name."""

    host: str
    port: int | None
    kind: str  # "ipv4", "ipv6" or "dns"

    @property
    def key(self) -> str:
        """Identity for duplicate detection."""
        return self.host


def parse_address(text: str) -> Address:
    """Parse one device address, with an optional port.

    Forms: ``198.51.100.1``, ``198.51.100.1:1161``, ``2001:db8::1``, ``[2001:db8::1]:1161``,
    ``r1.example.net``, ``r1.example.net:1161``.

    Raises:
        AddressError: the address is malformed.
    """
    text = text.strip()
    if not text:
        raise AddressError("address is empty: give an IPv4 or IPv6 address or a DNS name")
    if "/" in text:
        raise AddressError(f"address '{text}' is a prefix, not one address: list prefixes under ranges:")
    bracketed = _BRACKETED.match(text)
    if bracketed:
        host, port_text = bracketed.group(1), bracketed.group(2)
        return Address(_ipv6(host, text), _port(port_text, text), "ipv6")
    if text.count(":") >= 2:
        return Address(_ipv6(text, text), None, "ipv6")
    host, _, port_text = text.partition(":")
    port = _port(port_text, text) if ":" in text else None
    if _V4_LIKE.match(host):
        try:
            return Address(str(ipaddress.IPv4Address(host)), port, "ipv4")
        except ValueError:
            raise AddressError(
                f"address '{host}' is not a valid IPv4 address: four numbers 0-255 without leading zeros,"
                " e.g. 198.51.100.7"
            ) from None
    return Address(_hostname(host), port, "dns")


def _ipv6(host: str, text: str) -> str:
    try:
        return str(ipaddress.IPv6Address(host))
    except ValueError:
        raise AddressError(
            f"address '{text}' is not a valid IPv6 address (with a port, write [2001:db8::1]:1161)"
        ) from None


def _port(port_text: str | None, text: str) -> int | None:
    if port_text is None:
        return None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise AddressError(f"address '{text}': the port must be a number from 1 to 65535")
    return int(port_text)


def _hostname(host: str) -> str:
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in labels):
        raise AddressError(
            f"address '{host}' is neither an IP address nor a valid DNS name (letters, digits, '-' and dots)"
        )
    if labels[-1].isdigit():
        raise AddressError(f"address '{host}' is neither a valid IPv4 address nor a DNS name")
    return name


def _ip(text: str, what: str) -> netaddr.IPAddress:
    try:
        return netaddr.IPAddress(str(ipaddress.ip_address(text.strip())))
    except ValueError:
        raise AddressError(f"{what} '{text.strip()}' is not a valid IPv4 or IPv6 address") from None


def parse_range(spec: str, what: str = "range") -> tuple[netaddr.IPAddress, netaddr.IPAddress, int | None]:
    """Parse a range into ``(first, last, prefixlen)``; ``prefixlen`` is None unless a prefix was given.

    Forms: ``198.51.100.0/28``, ``198.51.100.10-198.51.100.20``, ``198.51.100.10-20``, one address.

    Raises:
        AddressError: malformed, host bits set in a prefix, mixed versions, or end before start.
    """
    spec = spec.strip()
    if "/" in spec:
        try:
            network = ipaddress.ip_network(spec, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(spec, strict=False)
            except ValueError:
                raise AddressError(
                    f"{what} '{spec}' is not a valid prefix: write ADDRESS/LENGTH, e.g. 198.51.100.0/28"
                ) from None
            raise AddressError(f"{what} '{spec}' has host bits set: did you mean {loose}?") from None
        net = netaddr.IPNetwork(str(network))
        first = netaddr.IPAddress(net.first, net.version)
        return first, netaddr.IPAddress(net.last, net.version), network.prefixlen
    if "-" in spec:
        start_text, _, end_text = spec.partition("-")
        start = _ip(start_text, f"{what} start")
        if start.version == 4 and end_text.strip().isdigit():
            # Shorthand 198.51.100.10-20: the end replaces the last octet.
            end_text = start_text.strip().rsplit(".", 1)[0] + "." + end_text.strip()
        end = _ip(end_text, f"{what} end")
        if start.version != end.version:
            raise AddressError(f"{what} '{spec}' mixes IPv4 and IPv6")
        if end < start:
            raise AddressError(f"{what} '{spec}' ends before it starts: swap the two addresses")
        return start, end, None
    address = _ip(spec, what)
    return address, address, None


@dataclass(frozen=True)
class Expansion:
    """The addresses one ``ranges:`` entry stands for, in ascending order."""

    addresses: netaddr.IPSet
    size: int

    def __iter__(self) -> Iterator[netaddr.IPAddress]:
        return iter(self.addresses)


def expand_range(spec: str, exclude: Sequence[str] = (), cap: int = DEFAULT_RANGE_CAP) -> Expansion:
    """Expand a range minus its excludes, refusing more than ``cap`` addresses.

    A prefix stands for its hosts: without the network and broadcast addresses for IPv4 prefixes
    shorter than /31, without the subnet-router anycast address (the first) for IPv6 prefixes shorter
    than /127. An explicit ``a-b`` range includes both ends. Each exclude (address, prefix or range)
    must overlap the range, so a typo is caught.

    Raises:
        AddressError: a malformed range or exclude, nothing left, or more than ``cap`` addresses.
    """
    first, last, prefix = parse_range(spec)
    if prefix is not None:
        if first.version == 4 and prefix < 31:
            first, last = first + 1, last - 1
        elif first.version == 6 and prefix < 127:
            first = first + 1
    addresses = netaddr.IPSet(netaddr.IPRange(first, last))
    for item in exclude:
        ex_first, ex_last, _ = parse_range(str(item), "exclude")
        excluded = netaddr.IPSet(netaddr.IPRange(ex_first, ex_last))
        if ex_first.version != first.version or not (addresses & excluded):
            raise AddressError(f"exclude '{item}' is not inside range '{spec}': remove it or fix it")
        addresses -= excluded
    size = addresses.size
    if size == 0:
        raise AddressError(f"range '{spec}' has no addresses left after its excludes")
    if size > cap:
        raise AddressError(
            f"range '{spec}' expands to {size} addresses, more than the cap of {cap}: narrow it, add"
            f" excludes, or raise max_devices (at most {MAX_RANGE_CAP})"
        )
    return Expansion(addresses, size)


def check_name_pattern(pattern: str) -> None:
    """Check a range's ``name`` pattern: only ``{ip}``, ``{ip_dashed}``, ``{index}``, and at least one.

    Raises:
        AddressError: unknown placeholder, bad format spec, or nothing that varies per address.
    """
    fields: list[str] = []
    try:
        for _, field, spec, _ in string.Formatter().parse(pattern):
            if field is None:
                continue
            if field not in NAME_FIELDS:
                hint = did_you_mean(field, NAME_FIELDS) or f"; use {{{'}, {'.join(NAME_FIELDS)}}}"
                raise AddressError(f"name pattern '{pattern}': unknown placeholder {{{field}}}{hint}")
            _check_spec(pattern, spec or "")
            fields.append(field)
        render_name(pattern, netaddr.IPAddress("198.51.100.1"), 1)
    except (ValueError, IndexError, KeyError) as exc:
        if isinstance(exc, AddressError):
            raise
        raise AddressError(
            f"name pattern '{pattern}' is malformed ({exc}): e.g. edge-{{ip_dashed}} or sw{{index:03d}}"
        ) from None
    if not fields:
        raise AddressError(
            f"name pattern '{pattern}' gives every address the same name: include {{ip_dashed}} or {{index}}"
        )


def _check_spec(pattern: str, spec: str) -> None:
    # Checked before anything is rendered: {index:>1000000000} would render a 1 GB name.
    if "{" in spec or any(int(number) > MAX_FORMAT_WIDTH for number in re.findall(r"\d+", spec)):
        raise AddressError(
            f"name pattern '{pattern}': format '{spec}' is too wide (names have at most"
            f" {MAX_FORMAT_WIDTH} characters): e.g. sw{{index:03d}}"
        )


def render_name(pattern: str, address: netaddr.IPAddress, index: int) -> str:
    """The device name for ``address``, the ``index``-th (from 1) of its range."""
    text = str(address)
    return pattern.format(ip=text, ip_dashed=text.replace(".", "-").replace(":", "-"), index=index)
