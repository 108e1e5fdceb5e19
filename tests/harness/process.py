"""Start, wait for, and stop one real server process for tests; logs go to a file shown on failure."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import pytest

# Processes started and not yet stopped, so an interrupted session (Ctrl-C, crash in a fixture) still
# ends them instead of leaving servers behind on a shared machine.
_LIVE: set[ServerProcess] = set()

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Loaded before any fork: the child between fork and exec only calls into it.
_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if sys.platform == "linux"
    else None
)


def die_with_parent() -> None:
    """``preexec_fn`` for test children: the kernel SIGKILLs the child when the test process dies.

    Covers what atexit cannot: a pytest run killed with SIGKILL (a CI timeout, ``kill -9``) left snmpd,
    mosquitto, victoria-metrics and snmpsim running with PPID 1 on the shared machine. The signal comes when
    the *thread* that started the child ends, so start servers from the main thread (fixtures do). A child
    that changes its user (snmpsim dropping to ``nobody``) loses the setting: atexit still covers normal
    exits.
    """
    if _LIBC is None:
        return
    parent = os.getppid()
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the prctl: nobody will stop this child
        os._exit(1)


class ServerStartError(RuntimeError):
    """A test server did not become ready; the message carries the tail of its log."""


def in_ci() -> bool:
    """Whether we run under CI (``CI=true``), where a server that cannot start fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Fail (under CI) or skip (elsewhere) the requesting test because a server cannot be provided."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, package: str) -> str:
    """Return the path of executable ``name`` (a name on PATH or a path), or skip/fail naming ``package``."""
    found = shutil.which(name)
    if found is None:
        for directory in ("/usr/sbin", "/sbin", "/usr/bin"):  # sbin is not on every user's PATH
            candidate = Path(directory) / name
            if os.access(candidate, os.X_OK):
                found = str(candidate)
                break
    if found is None:
        unavailable(f"{name} not found: needs {package}")
    return found


def require_root(what: str) -> None:
    """Skip/fail unless running as root (network namespaces, dropping privileges)."""
    if os.geteuid() != 0:
        unavailable(f"{what} needs root")


def tcp_ready(host: str, port: int) -> Callable[[ServerProcess], bool]:
    """Readiness check: a TCP connection to ``host:port`` succeeds."""

    def check(_proc: ServerProcess) -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


def http_ready(
    url: str, statuses: Sequence[int] = (200, 204), context: ssl.SSLContext | None = None
) -> Callable[[ServerProcess], bool]:
    """Readiness check: GET ``url`` answers one of ``statuses`` (``context``: TLS settings for https)."""

    def check(_proc: ServerProcess) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as resp:
                return int(resp.status) in statuses
        except (OSError, urllib.error.URLError, http.client.HTTPException):
            return False

    return check


def _snmp_get_packet(community: str) -> bytes:
    """A minimal SNMPv2c GET of sysObjectID.0, BER-encoded by hand (short lengths only)."""

    def tlv(tag: int, value: bytes) -> bytes:
        assert len(value) < 128
        return bytes([tag, len(value)]) + value

    oid = tlv(0x06, bytes([0x2B, 6, 1, 2, 1, 1, 2, 0]))
    varbinds = tlv(0x30, tlv(0x30, oid + b"\x05\x00"))
    pdu = tlv(0xA0, tlv(0x02, b"\x01") + tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + varbinds)
    return tlv(0x30, tlv(0x02, b"\x01") + tlv(0x04, community.encode()) + pdu)


def snmp_ready(host: str, port: int, community: str) -> Callable[[ServerProcess], bool]:
    """Readiness check: an SNMPv2c GET to ``host:port`` gets any answer."""
    packet = _snmp_get_packet(community)

    def check(_proc: ServerProcess) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            try:
                sock.sendto(packet, (host, port))
                return bool(sock.recv(4096))
            except OSError:
                return False

    return check


def log_ready(text: str) -> Callable[[ServerProcess], bool]:
    """Readiness check: ``text`` appears in the log written since the latest start."""

    def check(proc: ServerProcess) -> bool:
        return text in proc.log_since_start()

    return check


class ServerProcess:
    """One server process: started from an argv, ready when a check passes, stopped by PID.

    The log (stdout and stderr) is appended to ``log_dir/<name>.log`` across restarts.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        ready: Callable[[ServerProcess], bool],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 30.0,
        nofile: int | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = Path(log_dir) / f"{name}.log"
        self.ready = ready
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.timeout = timeout
        self.nofile = nofile
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int:
        """PID of the running server (0 when stopped)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else 0

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _preexec(self) -> None:  # runs in the child between fork and exec
        import resource

        die_with_parent()
        if self.nofile is not None:
            _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            limit = max(self.nofile, hard) if os.geteuid() == 0 else hard
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(self.nofile, limit), limit))

    def start(self) -> None:
        """Start the server and wait (bounded by ``timeout``) until it is ready; raise ServerStartError."""
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            env = {**os.environ, **self.env} if self.env is not None else None
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,  # a Ctrl-C meant for pytest must not hit the server mid-teardown
                preexec_fn=self._preexec,
            )
        _LIVE.add(self)
        deadline = time.monotonic() + self.timeout
        delay = 0.02
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._forget()
                raise ServerStartError(
                    f"{self.name} exited with status {code} while starting\n"
                    f"argv: {self._argv_summary()}\n{self.log_tail()}"
                )
            if self.ready(self):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    f"{self.name} not ready after {self.timeout:.0f} s\n"
                    f"argv: {self._argv_summary()}\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop by PID: SIGTERM, then SIGKILL after ``timeout`` seconds; return the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(5)
        self._forget()
        return proc.returncode

    def _forget(self) -> None:
        _LIVE.discard(self)

    def log_since_start(self) -> str:
        """Log text written since the latest ``start()``."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the log, framed for an error message."""
        text = self.log_since_start().splitlines()[-lines:]
        body = "\n".join(text) if text else "(empty)"
        return f"--- last {len(text)} lines of {self.log_path} ---\n{body}\n--- end of log ---"

    def _argv_summary(self) -> str:
        shown = " ".join(self.argv[:12])
        return shown + (f" ... (+{len(self.argv) - 12} args)" if len(self.argv) > 12 else "")


class ServerHandle:
    """What every server handle (``SnmpdAgent``, ``MqttBroker``, ...) does through its ``ServerProcess``.

    A mixin for the dataclass handles, which declare the ``process`` field themselves. ``stop()`` then
    ``start()`` restarts the server with the same command line: same ports, same data directories.
    """

    process: ServerProcess

    @property
    def pid(self) -> int:
        """PID of the server (0 when stopped)."""
        return self.process.pid

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); its data stays."""
        self.process.stop()

    def start(self) -> None:
        """Start it again on the same ports and data."""
        self.process.start()


def live_servers() -> list[ServerProcess]:
    """Servers currently running (for failure reports)."""
    return [proc for proc in _LIVE if proc.running]


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):
            proc.stop(timeout=3)


def open_sockets(pid: int | str = "self") -> int:
    """Sockets a process holds open now (from ``/proc/PID/fd``; Linux only)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # closed since the listing
    return count
