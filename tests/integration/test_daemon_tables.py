"""`netpoll run` with `profiles_dir`: a user profile turns tables on, a rule on a table fires per row, and
SIGHUP picks up an edited profile (a broken edit is rejected in one line while polling goes on)."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness.daemon import start_daemon, stop_daemon
from tests.harness.waits import wait_until as wait_for
from tests.integration.test_daemon_reload import device_points, read_points

pytestmark = [pytest.mark.network, pytest.mark.slow]

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "snmprec"
INTERVAL = 2.0
RULES = """\
rules:
  - name: bgp_peer_down
    measurement: bgp_peer
    field: state
    comparison: "!="
    breach: 6
    when: {admin_status: 2}
    severity: major
"""


def test_profiles_dir_tables_rules_and_reload(tmp_path: Path, snmpsim_factory: Callable[..., Any]) -> None:
    agent = snmpsim_factory(RECORDINGS)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    arista = profiles / "arista.yaml"
    arista.write_text("extends: arista\ntables:\n  arista_bgp_peer: {enabled: true}\n")
    (tmp_path / "community").write_text("arista-eos-leaf\n")
    (tmp_path / "community").chmod(0o600)
    (tmp_path / "inventory.yaml").write_text(
        "credentials: {lab: {version: 2c, community_file: community}}\n"
        f"defaults: {{snmp: {{interval_s: {INTERVAL}, timeout_s: 1, port: {agent.port}}},"
        " ping: {enabled: false}}\n"
        f"devices: [{{name: leaf1, address: {agent.host}, snmp: {{credentials: lab}}}}]\n"
    )
    (tmp_path / "rules.yaml").write_text(RULES)
    config = tmp_path / "netpoll.yaml"
    config.write_text(
        "inventories: [inventory.yaml]\ndata_dir: data\nstate_dir: state\n"
        "profiles_dir: profiles\nthresholds: rules.yaml\n"
    )
    data, log_path = tmp_path / "data", tmp_path / "netpoll.log"
    proc = start_daemon(config, tmp_path, log_path)
    try:
        assert wait_for(lambda: device_points(read_points(data), "leaf1", "bgp_peer", 0), 20), (
            log_path.read_text()
        )
        peers = {p[1]["peer"] for p in device_points(read_points(data), "leaf1", "bgp_peer", 0)}
        assert peers == {"192.0.2.1", "2001:db8::2", "198.51.100.9", "192.0.2.5"}
        # One breach per peer that is down while administratively up; entity = the peer.
        assert wait_for(
            lambda: [p for p in read_points(data) if p[0] == "alert" and p[1].get("rule") == "bgp_peer_down"],
            10,
        )
        alerts = [p for p in read_points(data) if p[0] == "alert"]
        assert {(p[1]["entity"], p[1]["state"]) for p in alerts} == {("2001:db8::2", "breach")}
        assert not device_points(read_points(data), "leaf1", "sensor", 0)

        # The profile edited: SIGHUP reloads it, the sensors come from the next poll on.
        arista.write_text(arista.read_text() + "  sensor: {enabled: true}\n")
        proc.send_signal(signal.SIGHUP)
        hup_at = time.time()
        assert wait_for(lambda: device_points(read_points(data), "leaf1", "sensor", hup_at), INTERVAL + 6), (
            log_path.read_text()
        )
        assert "SIGHUP: reloading" in log_path.read_text()

        # A broken edit: one line naming the file and line, the running profiles kept.
        arista.write_text(arista.read_text().replace("sensor: {enabled", "sensor: {enabeld"))
        proc.send_signal(signal.SIGHUP)
        broken_at = time.time()
        assert wait_for(lambda: "enabeld" in log_path.read_text(), 8)
        assert re.search(
            r"profiles rejected: .*arista\.yaml:4: table sensor: unknown key 'enabeld'; "
            r"did you mean 'enabled'\?",
            log_path.read_text(),
        )
        assert wait_for(
            lambda: device_points(read_points(data), "leaf1", "sensor", broken_at + 1), INTERVAL + 4
        )
    finally:
        log = stop_daemon(proc, log_path)
    assert "arista-eos-leaf" not in log  # the community
