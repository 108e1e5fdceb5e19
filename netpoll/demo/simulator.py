"""Run snmpsim as a child process serving the demo recordings on loopback addresses.

As root, snmpsim insists on dropping privileges: it runs as ``nobody`` when that user can read the
interpreter and the recordings (a venv on the system Python), else it is told to stay root (a venv under
a mode-700 home). Its cache directory is made writable for that user. It is stopped by PID on exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from netpoll.errors import NetpollError

log = logging.getLogger("netpoll.demo")


def _responder() -> str:
    candidate = Path(sys.executable).parent / "snmpsim-command-responder"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("snmpsim-command-responder")
    if found is None:
        raise NetpollError(
            "the demo needs snmpsim: install netpoll's lab extra (pip install -e '.[lab]', or make venv)"
        )
    return found


def _world_readable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o005 == 0o005 for p in [path, *path.parents] if p.is_dir())


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _get_request(community: str) -> bytes:
    """A minimal SNMPv2c GET of sysUpTime.0, BER-encoded by hand (readiness probe only)."""

    def tlv(tag: int, body: bytes) -> bytes:
        return bytes([tag, len(body)]) + body

    oid = tlv(0x06, bytes([0x2B, 6, 1, 2, 1, 1, 3, 0]))
    varbind = tlv(0x30, oid + b"\x05\x00")
    pdu = tlv(0xA0, tlv(0x02, b"\x01") + tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + tlv(0x30, varbind))
    return tlv(0x30, tlv(0x02, b"\x01") + tlv(0x04, community.encode()) + pdu)


class Simulator:
    """Async context manager running ``snmpsim-command-responder`` on ``addresses`` x ``port``.

    Args:
        recordings: directory of ``.snmprec`` files.
        addresses: loopback addresses to listen on.
        port: UDP port on each address.
        work_dir: where the cache and the log go.
        probe_community: a community to check readiness with.
    """

    def __init__(
        self, recordings: Path, addresses: list[str], port: int, work_dir: Path, probe_community: str
    ) -> None:
        self.recordings = recordings
        self.addresses = addresses
        self.port = port
        self.work_dir = work_dir
        self.probe_community = probe_community
        self.process: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> Self:
        # Synchronous on purpose (nothing else runs yet): a Ctrl-C during start-up then lands in start(),
        # which stops the child instead of leaving it behind.
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the responder and wait until it answers."""
        cache = self.work_dir / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        argv = [_responder(), f"--data-dir={self.recordings}", f"--cache-dir={cache}", "--log-level=error"]
        argv += [f"--agent-udpv4-endpoint={address}:{self.port}" for address in self.addresses]
        if os.geteuid() == 0:
            readable = _world_readable(Path(sys.prefix).resolve()) and _world_readable(
                self.recordings.resolve()
            )
            user, group = ("nobody", "nogroup") if readable else ("root", "root")
            shutil.chown(cache, user, group)
            argv += [f"--process-user={user}", f"--process-group={group}"]
        log_path = self.work_dir / "snmpsim.log"
        with open(log_path, "wb") as log_file:
            # Own session: a Ctrl-C in the terminal reaches netpoll only, which then stops this child itself.
            self.process = subprocess.Popen(
                argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        log.info(
            "demo: snmpsim (pid %d) serving %s on %s port %d",
            self.process.pid,
            self.recordings,
            ", ".join(self.addresses),
            self.port,
        )
        try:
            self._wait_ready(log_path)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, log_path: Path, timeout_s: float = 60.0) -> None:
        assert self.process is not None
        request = _get_request(self.probe_community)
        deadline = time.monotonic() + timeout_s
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.5)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-800:]
                    raise NetpollError(f"demo: snmpsim exited with code {self.process.returncode}: {tail}")
                with contextlib.suppress(OSError):
                    sock.sendto(request, (self.addresses[0], self.port))
                    sock.recvfrom(4096)
                    return
        raise NetpollError(f"demo: snmpsim did not answer within {timeout_s:.0f} s (log: {log_path})")

    def stop(self) -> None:
        """Stop the responder (by its PID)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        log.info("demo: snmpsim stopped")
