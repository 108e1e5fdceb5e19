"""pytest fixtures that start real servers on free loopback ports (registered by ``tests/conftest.py``).

Session fixtures are shared by every test; ``*_factory`` fixtures (module scope) start private instances that
stop when the test module ends. A server that cannot be started fails the test under ``CI=true`` and skips it
elsewhere, naming the missing package; a server that is installed but fails to start always fails, with the
tail of its log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest

from tests.harness import process
from tests.harness.influxdb1 import InfluxDB1, start_influxdb1
from tests.harness.mosquitto import MqttBroker, start_mosquitto
from tests.harness.netns import Netns, create_netns
from tests.harness.ports import free_port as _free_port
from tests.harness.process import ServerHandle, ServerStartError
from tests.harness.snmpd import SnmpdAgent, start_snmpd
from tests.harness.snmpsim import SnmpsimAgent, cleanup_snmpsim, lab_snmprec_dir, start_snmpsim
from tests.harness.victoriametrics import VictoriaMetrics, start_victoriametrics

T = TypeVar("T")

# Servers handed out by the shared (session/module) fixtures. A test may stop one (to test reconnects); it is
# started again after that test, so a failure before its own restart does not break the tests after it.
_SHARED: list[Any] = []


def _shared(server: T) -> T:
    _SHARED.append(server)
    return server


@pytest.fixture(autouse=True)
def _restart_stopped_shared_servers() -> Iterator[None]:
    yield
    for server in _SHARED:
        if not server.process.running:
            _started(server.start)


def _started(start: Callable[[], T]) -> T:
    try:
        return start()
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)


S = TypeVar("S", bound=ServerHandle)


def _serve_shared(start: Callable[[], S]) -> Iterator[S]:
    """The body of a shared server fixture: start, hand out (restarted after a test that stops it), stop."""
    server = _shared(_started(start))
    yield server
    _SHARED.remove(server)
    server.stop()


def _private_servers(start: Callable[..., S]) -> Iterator[Callable[..., S]]:
    """The body of a ``*_factory`` fixture: ``make(...)`` starts a server; at the end all stop, last first."""
    servers: list[S] = []

    def make(*args: Any, **kwargs: Any) -> S:
        server = _started(lambda: start(*args, **kwargs))
        servers.append(server)
        return server

    yield make
    for server in reversed(servers):
        server.stop()


@pytest.fixture(scope="session")
def free_port() -> Callable[..., int]:
    """``free_port(kind="tcp"|"udp", host="127.0.0.1") -> int`` (also importable from tests.harness.ports)."""

    def pick(kind: Literal["udp", "tcp"] = "tcp", host: str = "127.0.0.1") -> int:
        return _free_port(kind, host)

    return pick


# --- snmpd -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpdAgent]:
    """net-snmp snmpd on 127.0.0.1:<free port> with v2c ro/rw communities and SNMPv3 users."""
    yield from _serve_shared(lambda: start_snmpd(tmp_path_factory.mktemp("snmpd")))


@pytest.fixture(scope="module")
def snmpd_factory(
    tmp_path_factory: pytest.TempPathFactory, netns_factory: Callable[..., Netns]
) -> Iterator[Callable[..., SnmpdAgent]]:
    """``snmpd_factory(addresses=None, netns=None, extra_config="", port=None) -> SnmpdAgent``.

    Depends on ``netns_factory`` only so that agents inside a namespace stop before it is removed.
    """

    def start(
        addresses: Sequence[str] | None = None,
        netns: Netns | None = None,
        extra_config: str = "",
        port: int | None = None,
    ) -> SnmpdAgent:
        return start_snmpd(tmp_path_factory.mktemp("snmpd"), addresses, netns, extra_config, port)

    yield from _private_servers(start)


# --- snmpsim -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def snmpsim_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpsimAgent]:
    """snmpsim serving the shared lab recordings (``$NETPOLL_LAB_DIR/snmprec``); community = file stem."""
    workdir = tmp_path_factory.mktemp("snmpsim")
    if not lab_snmprec_dir().is_dir():
        process.unavailable(f"lab recordings not found at {lab_snmprec_dir()} (set NETPOLL_LAB_DIR)")
    try:
        yield from _serve_shared(lambda: start_snmpsim(workdir, lab_snmprec_dir()))
    finally:
        cleanup_snmpsim(workdir)


@pytest.fixture(scope="module")
def snmpsim_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SnmpsimAgent]]:
    """``snmpsim_factory(data_dir, port=None) -> SnmpsimAgent`` serving another directory of recordings."""
    started: list[tuple[Path, SnmpsimAgent | None]] = []

    def make(data_dir: Path | str, port: int | None = None) -> SnmpsimAgent:
        workdir = tmp_path_factory.mktemp("snmpsim")
        started.append((workdir, None))
        agent = _started(lambda: start_snmpsim(workdir, Path(data_dir), port))
        started[-1] = (workdir, agent)
        return agent

    yield make
    for workdir, agent in reversed(started):
        if agent is not None:
            agent.stop()
        cleanup_snmpsim(workdir)


# --- mosquitto ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MqttBroker]:
    """Mosquitto on 127.0.0.1:<free port>, anonymous, persistence on (shared: restart it if you stop it)."""
    yield from _serve_shared(lambda: start_mosquitto(tmp_path_factory.mktemp("mosquitto")))


@pytest.fixture(scope="module")
def mosquitto_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., MqttBroker]]:
    """``mosquitto_factory(port=None, extra_config="") -> MqttBroker``: a private broker."""

    def start(port: int | None = None, extra_config: str = "") -> MqttBroker:
        return start_mosquitto(tmp_path_factory.mktemp("mosquitto"), port, extra_config)

    yield from _private_servers(start)


# --- VictoriaMetrics -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def victoriametrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics on 127.0.0.1:<free port>, fresh for each test module."""
    yield from _serve_shared(lambda: start_victoriametrics(tmp_path_factory.mktemp("victoriametrics")))


# --- InfluxDB 1.x -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def influxdb1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    """InfluxDB 1.x on 127.0.0.1:<free port>, fresh for each test module."""
    yield from _serve_shared(lambda: start_influxdb1(tmp_path_factory.mktemp("influxdb1")))


@pytest.fixture(scope="module")
def influxdb1_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., InfluxDB1]]:
    """``influxdb1_factory(tls=(ca, cert, key) | None) -> InfluxDB1``: private instances (e.g. https)."""
    yield from _private_servers(
        lambda tls=None: start_influxdb1(tmp_path_factory.mktemp("influxdb1-private"), tls=tls)
    )


# --- network namespaces ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def netns_factory() -> Iterator[Callable[..., Netns]]:
    """``netns_factory(prefix="np") -> Netns``: a namespace with a veth pair in 198.18.0.0/15; needs root."""
    made: list[Netns] = []

    def make(prefix: str = "np") -> Netns:
        ns = create_netns(prefix)
        made.append(ns)
        return ns

    yield make
    for ns in reversed(made):
        ns.remove()


# --- failure reports ---------------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Attach the log tails of the running test servers to a failed network test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("network") is not None:
        for server in process.live_servers():
            with contextlib.suppress(Exception):
                report.sections.append((f"server log: {server.name} pid {server.pid}", server.log_tail(25)))
