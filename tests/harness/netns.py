"""Network namespaces with a veth pair in 198.18.0.0/15 (RFC 2544 benchmark space), removed after use."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import random
import re
import signal
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.process import die_with_parent, require_binary, require_root

BENCH_NET = ipaddress.ip_network("198.18.0.0/15")
_LOCK = Path("/run/netpoll-netns.lock") if os.access("/run", os.W_OK) else Path("/tmp/netpoll-netns.lock")


def _ip(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, input=input, timeout=30)


class NetnsCommandError(subprocess.CalledProcessError):
    """A command inside a namespace failed; unlike CalledProcessError, its message shows stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {self.stderr}"


@dataclass
class Netns:
    """A namespace ``name`` joined to the host by veth ``host_if`` (``host_ip``) <-> ``ns_if`` (``ns_ip``).

    Only ``lo`` and the veth are in it and it has no default route, so nothing in it reaches beyond the host.
    """

    name: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str
    prefixlen: int
    # Started through popen(): killed by PID at removal even if they had not yet joined the namespace
    # (``ip netns exec`` may still be switching when remove() lists the namespace's PIDs).
    started: list[subprocess.Popen[Any]] = field(default_factory=list, repr=False)

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The veth subnet (198.18.x.0/24)."""
        return ipaddress.ip_network(f"{self.host_ip}/{self.prefixlen}", strict=False)  # type: ignore[return-value]

    def exec(
        self, argv: Sequence[str], check: bool = True, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace (text mode, output captured, 60 s timeout by default)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        done = subprocess.run(["ip", "netns", "exec", self.name, *argv], check=False, **kwargs)
        if check and done.returncode != 0:
            raise NetnsCommandError(done.returncode, done.args, done.stdout, done.stderr)
        return done

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside the namespace; the caller stops it (it is killed at removal otherwise)."""
        kwargs.setdefault("preexec_fn", die_with_parent)  # also when pytest itself is killed
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kwargs)
        self.started.append(proc)
        return proc

    def sysctl(self, name: str, value: str | int) -> None:
        """Set a per-namespace sysctl, e.g. ``sysctl("net.ipv4.ping_group_range", "0 2147483647")``."""
        path = "/proc/sys/" + name.replace(".", "/")
        self.exec(["sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sysctl", str(value), path])

    def nft(self, ruleset: str) -> subprocess.CompletedProcess[str]:
        """Load an nftables ruleset (``nft -f -`` syntax) inside the namespace."""
        return self.exec(["nft", "-f", "-"], input=ruleset)

    def add_addresses(self, addresses: Iterable[str], prefixlen: int = 32) -> None:
        """Add more addresses (within 198.18.0.0/15) to the namespace's ``lo`` and route them from the host.

        Addresses outside the veth subnet get a host route via ``ns_ip`` (removed with the veth).
        """
        batch_ns, batch_host = [], []
        for text in addresses:
            addr = ipaddress.ip_address(text)
            if addr not in BENCH_NET:
                raise ValueError(
                    f"{addr} is outside {BENCH_NET}: tests may only use that range in a namespace"
                )
            batch_ns.append(f"addr add {addr}/{prefixlen} dev lo")
            if addr not in self.network:
                batch_host.append(f"route add {addr}/32 via {self.ns_ip} dev {self.host_if}")
        if batch_ns:
            _ip("-n", self.name, "-batch", "-", input="\n".join(batch_ns) + "\n")
        if batch_host:
            _ip("-batch", "-", input="\n".join(batch_host) + "\n")

    def pids(self) -> list[int]:
        """PIDs of processes running inside the namespace."""
        out = _ip("netns", "pids", self.name, check=False).stdout
        return [int(p) for p in out.split()]

    def remove(self) -> None:
        """Kill what still runs inside (all started by the tests), delete the veth and the namespace."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        _ip("link", "del", self.host_if, check=False)
        _ip("netns", "del", self.name, check=False)


def _used_slots() -> set[int]:
    used: set[int] = set()
    out = _ip("-o", "-4", "addr", "show", check=False).stdout
    for match in re.finditer(r"inet (198\.1[89]\.\d+)\.\d+", out):
        net = ipaddress.ip_address(match.group(1) + ".0")
        used.add((int(net) - int(BENCH_NET.network_address)) >> 8)
    return used


def create_netns(prefix: str = "np") -> Netns:
    """Create a namespace with a veth pair on a 198.18.0.0/15 /24 no other interface of the host uses.

    Skips the test (fails under CI=true) without root or iproute2.
    """
    require_root("a network namespace")
    require_binary("ip", "Debian package iproute2")
    prefix = re.sub(r"[^a-z0-9]", "", prefix.lower())[:7] or "np"
    _LOCK.touch(exist_ok=True)
    with _LOCK.open() as lock:
        # Several pytest processes may create namespaces at once: pick the subnet and names under a lock.
        fcntl.flock(lock, fcntl.LOCK_EX)
        used = _used_slots()
        existing = set(_ip("netns", "list", check=False).stdout.split())
        links = _ip("-o", "link", "show", check=False).stdout
        start = random.randrange(512)
        for step in range(512):
            slot = (start + step) % 512
            host_if, ns_if = f"{prefix}{slot}h", f"{prefix}{slot}n"
            name = f"{prefix}-{slot}-{os.getpid()}"
            if slot in used or name in existing or f" {host_if}@" in links or f" {host_if}:" in links:
                continue
            break
        else:
            raise RuntimeError("no free /24 left in 198.18.0.0/15 for a test namespace")
        base = int(BENCH_NET.network_address) + (slot << 8)
        ns = Netns(
            name=name,
            host_if=host_if,
            ns_if=ns_if,
            host_ip=str(ipaddress.ip_address(base + 1)),
            ns_ip=str(ipaddress.ip_address(base + 2)),
            prefixlen=24,
        )
        try:
            _ip("netns", "add", name)
            _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", name)
            _ip("addr", "add", f"{ns.host_ip}/24", "dev", host_if)
            _ip("link", "set", host_if, "up")
            _ip("-n", name, "addr", "add", f"{ns.ns_ip}/24", "dev", ns_if)
            _ip("-n", name, "link", "set", ns_if, "up")
            _ip("-n", name, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as exc:
            ns.remove()
            raise RuntimeError(
                f"creating namespace {name} failed: {' '.join(exc.cmd)}: {exc.stderr}"
            ) from exc
    return ns
