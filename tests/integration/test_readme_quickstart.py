"""The README's quick start, run as written against real servers on loopback.

Each step is the shell block after a ``<!-- quickstart: NAME -->`` marker, run by bash in a fresh directory
(the clone's ``.venv`` linked into it) after the settings block. The settings block is the one place a reader
types their own values; here its exported values become the test's servers: the router is net-snmp ``snmpd``,
InfluxDB is VictoriaMetrics, the broker is Mosquitto. The daemon and ``mosquitto_sub`` run in the background
(``exec``, so their PIDs are ours to stop) until what the README promises is seen. Only the dashboards step is
not run (it needs Docker); the files and services it names are checked instead.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.doctext import ROOT, marked_blocks, read
from tests.harness.mosquitto import MqttBroker
from tests.harness.snmpd import SnmpdAgent
from tests.harness.victoriametrics import VictoriaMetrics

pytestmark = [pytest.mark.network, pytest.mark.slow]

BLOCKS = marked_blocks(read("README.md"), "quickstart")
# Steps in README order; what each must show is checked by the test below.
STEPS = ("settings", "poll", "inventory", "config", "run", "read", "alerts", "dashboards")
WAIT_S = 60.0


def test_the_quick_start_has_every_step() -> None:
    assert tuple(BLOCKS) == STEPS


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    # A clean directory standing in for the clone, with the clone's venv (what `make demo`/`make venv` left).
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def settings(snmpd: SnmpdAgent, victoriametrics: VictoriaMetrics, mosquitto: MqttBroker) -> str:
    """The settings block with the reader's values replaced by the test servers'."""
    ours = {
        "ROUTER": f"{snmpd.host}:{snmpd.port}",
        "NETPOLL_SNMP_COMMUNITY": snmpd.community,
        "NETPOLL_INFLUXDB__URL": victoriametrics.url,
        "NETPOLL_MQTT__HOST": mosquitto.host,
        "NETPOLL_MQTT__PORT": str(mosquitto.port),
    }
    block = BLOCKS["settings"]
    exported = re.findall(r"\b([A-Z][A-Z0-9_]*)=\S+", block)
    assert sorted(exported) == sorted(ours), "the settings block exports what this test does not substitute"
    for name, value in ours.items():
        block = re.sub(rf"\b{name}=\S+", f"{name}={value}", block)
    return block


def bash_argv(script: str) -> list[str]:
    """bash running ``script`` strictly (stop at the first failing command)."""
    return ["bash", "-euo", "pipefail", "-c", script]


def clean_env() -> dict[str, str]:
    """Our environment without NETPOLL_* variables: the README's settings alone configure netpoll."""
    return {k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")}


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run
    return run(bash_argv(script), cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=120)


def background(script: str, cwd: Path) -> subprocess.Popen[str]:
    out = subprocess.PIPE
    return subprocess.Popen(
        bash_argv(script), cwd=cwd, env=clean_env(), stdout=out, stderr=subprocess.STDOUT, text=True
    )


def one_command(block: str) -> str:
    """The block's single command, run with ``exec`` so the process we stop is the command itself."""
    commands = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(commands) == 1, f"a background step must be one command, got {commands}"
    return f"exec {commands[0]}"


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM the process we started, wait (bounded), and return what it printed."""
    if proc.poll() is None:
        proc.terminate()
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return out


@pytest.fixture
def daemon_slot() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        stop(proc)


def test_quick_start_as_written(
    workdir: Path,
    snmpd: SnmpdAgent,
    victoriametrics: VictoriaMetrics,
    mosquitto: MqttBroker,
    daemon_slot: list[subprocess.Popen[str]],
) -> None:
    head = settings(snmpd, victoriametrics, mosquitto) + "\n"

    # 1. Poll it once: a table, then two samples with rates, then line protocol.
    polled = bash(head + BLOCKS["poll"], workdir)
    assert polled.returncode == 0, polled.stderr
    assert re.search(r"^snmp,.*poll_ok=1i", polled.stdout, re.M)  # the line protocol of the third command
    assert re.search(r"^interface,", polled.stdout, re.M)
    assert "in bps" in polled.stdout  # the second command's interface table has rates

    # 2. The ten-line inventory, validated by netpoll check.
    checked = bash(head + BLOCKS["inventory"], workdir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK: 1 devices (1 enabled) from 1 file(s)" in checked.stdout
    inventory = (workdir / "my" / "inventory.yaml").read_text()
    assert len(inventory.splitlines()) <= 10
    assert "${NETPOLL_SNMP_COMMUNITY}" in inventory  # the secret stayed a reference
    assert yaml.safe_load(inventory)["devices"][0]["address"] == f"{snmpd.host}:{snmpd.port}"

    # 3. The configuration, checked; then the daemon, into VictoriaMetrics, with MQTT.
    configured = bash(head + BLOCKS["config"], workdir)
    assert configured.returncode == 0, configured.stdout + configured.stderr

    daemon = background(head + one_command(BLOCKS["run"]), workdir)
    daemon_slot.append(daemon)
    deadline = time.monotonic() + WAIT_S
    read_back = ""
    while time.monotonic() < deadline and daemon.poll() is None:
        victoriametrics.flush()
        read_back = bash(head + BLOCKS["read"], workdir).stdout
        if '"device":"my-router"' in read_back:
            break
        time.sleep(1)  # integration test: waiting for the daemon's first poll (real time, bounded)
    assert '"device":"my-router"' in read_back, stop(daemon)
    assert '"__name__":"snmp_poll_ok"' in read_back
    assert "[1" in read_back

    # 4. The alerts subscription shows the daemon online (retained status).
    sub = background(head + one_command(BLOCKS["alerts"]), workdir)
    daemon_slot.append(sub)
    assert sub.stdout is not None
    seen = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not re.search(rb"netpoll/status/\S+ \S+\n", seen):
        # Read only what is there (the raw pipe, no buffering): a silent subscriber cannot hang the test.
        ready, _, _ = select.select([sub.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(sub.stdout.fileno(), 65536) if ready else b""
        if not chunk:
            break
        seen += chunk
    lines = seen.decode(errors="replace").splitlines()
    line = next((x.strip() for x in lines if x.startswith("netpoll/status/")), "")
    assert line == f"netpoll/status/{socket.gethostname()} online"

    # Ctrl-C/SIGTERM stops the daemon cleanly.
    daemon.terminate()
    assert daemon.wait(timeout=30) == 0, stop(daemon)


def test_dashboards_step_names_what_exists() -> None:
    """Not run (Docker): the files it copies exist and the services it starts are in the compose file."""
    block = BLOCKS["dashboards"]
    assert (ROOT / "deploy" / ".env.example").is_file()
    services = yaml.safe_load(read("deploy/compose.yaml"))["services"]
    started = re.search(r"docker compose up -d ([\w ]+?) &&", block)
    assert started is not None
    assert set(started.group(1).split()) <= set(services)
    # The broker refuses anonymous clients: the block reads netpoll's password where mqtt-auth generates it.
    password = re.search(r"run --rm -T --entrypoint cat (\S+) (\S+)\)", block)
    assert password is not None
    assert password.group(1) in services
    assert password.group(2).startswith(next(v.split(":")[1] for v in services["mqtt-auth"]["volumes"]) + "/")
    env = read("deploy/.env.example")
    assert "INFLUXDB_TOKEN=" in env
    assert "GRAFANA_ADMIN_PASSWORD=" in env
    assert "grafana" in services
    assert "127.0.0.1:3000:3000" in services["grafana"]["ports"]
