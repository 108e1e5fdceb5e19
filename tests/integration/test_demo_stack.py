"""`make demo-grafana`: VictoriaMetrics on loopback, the demo lab written into it, everything stopped after.

Grafana is not a Debian package: where it is missing, the run says how to get the dashboards instead."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netpoll.demo import stack
from tests.harness.process import require_binary

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_demo_writes_into_victoriametrics(tmp_path: Path, free_port: Any) -> None:
    require_binary("victoria-metrics", "Debian package victoria-metrics")
    vm_port, http_port = free_port("tcp"), free_port("tcp")
    proc = subprocess.run(
        [sys.executable, "-m", "netpoll.demo.stack", "--cycles", "2", "--interval", "2",
         "--vm-port", str(vm_port), "--http-port", str(http_port), "--grafana-port", str(free_port("tcp"))],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert f"VictoriaMetrics: http://127.0.0.1:{vm_port}/vmui" in out
    assert f"status page: http://127.0.0.1:{http_port}/" in out
    if shutil.which("grafana-server") is None and shutil.which("grafana") is None:
        assert "Grafana is not installed here" in out
    written = re.search(r"influxdb: stopped; (\d+) points written, 0 left in the spool", out)
    assert written, out
    assert int(written.group(1)) > 50
    assert list((tmp_path / "data" / "stack" / "victoriametrics").iterdir())
    assert "Traceback" not in out


def test_grafana_provisioning_matches_the_dashboards(tmp_path: Path) -> None:
    directory = stack.grafana_provisioning(tmp_path, "http://127.0.0.1:8428")
    datasource = (directory / "datasources" / "netpoll.yaml").read_text()
    assert f"uid: {stack.DATASOURCE_UID}" in datasource
    assert "url: http://127.0.0.1:8428" in datasource
    assert f"path: {stack.DASHBOARDS}" in (directory / "dashboards" / "netpoll.yaml").read_text()
    boards = sorted(stack.DASHBOARDS.glob("*.json"))
    assert boards
    for path in boards:
        assert json.loads(path.read_text())["panels"][1]["datasource"]["uid"] == stack.DATASOURCE_UID
    argv, env = stack.grafana_command("/usr/sbin/grafana-server", directory, tmp_path, 3001)
    assert env["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert env["GF_ANALYTICS_REPORTING_ENABLED"] == "false"
    assert argv[0] == "/usr/sbin/grafana-server"
