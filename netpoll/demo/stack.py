"""``python -m netpoll.demo.stack`` (``make demo-grafana``): the demo with dashboards to look at.

Starts VictoriaMetrics (Debian ``victoria-metrics``) on loopback and, where it is installed, Grafana
(``grafana-server``) with a VictoriaMetrics datasource and netpoll's VictoriaMetrics dashboards provisioned,
then runs the demo (``netpoll run`` on the simulated lab) writing to VictoriaMetrics. Ctrl-C stops the demo,
then Grafana and VictoriaMetrics (only the processes started here). Whatever is missing is said in one line
with the way around it (``apt-get install``, or ``deploy/compose.yaml`` for InfluxDB and Grafana).

Everything lives under ``./data/stack/`` (VictoriaMetrics' storage, Grafana's database and provisioning).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from netpoll.errors import NetpollError

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards" / "victoriametrics"
DATASOURCE_UID = "netpoll-victoriametrics"
GRAFANA_HOME = Path("/usr/share/grafana")


def _wait_http(url: str, what: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NetpollError(f"{what} exited at start (status {process.returncode}); see its log")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
            return
        time.sleep(0.2)
    raise NetpollError(f"{what} did not answer on {url} within {timeout_s:g} s")


@contextlib.contextmanager
def _running(
    argv: Sequence[str], what: str, ready_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[None]:
    """Run ``argv`` until the block ends; its output goes to ``log``."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        _wait_http(ready_url, what, process)
        yield
    finally:
        process.terminate()  # by its PID: only what this started
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def grafana_provisioning(directory: Path, vm_url: str) -> Path:
    """Write Grafana provisioning for the VictoriaMetrics datasource and dashboards; returns its directory."""
    (directory / "datasources").mkdir(parents=True, exist_ok=True)
    (directory / "dashboards").mkdir(parents=True, exist_ok=True)
    (directory / "datasources" / "netpoll.yaml").write_text(
        "apiVersion: 1\ndatasources:\n"
        f"  - name: netpoll VictoriaMetrics\n    uid: {DATASOURCE_UID}\n    type: prometheus\n"
        f"    access: proxy\n    url: {vm_url}\n    isDefault: true\n    editable: false\n"
        "    jsonData:\n      timeInterval: 10s\n",
        encoding="utf-8",
    )
    (directory / "dashboards" / "netpoll.yaml").write_text(
        "apiVersion: 1\nproviders:\n"
        "  - name: netpoll\n    folder: netpoll (VictoriaMetrics)\n    type: file\n"
        "    allowUiUpdates: false\n"
        f"    options:\n      path: {DASHBOARDS}\n",
        encoding="utf-8",
    )
    return directory


def grafana_command(
    binary: str, provisioning: Path, data: Path, port: int
) -> tuple[list[str], dict[str, str]]:
    """Command line and environment of a Grafana on 127.0.0.1:``port``: anonymous viewers, no calls home."""
    env = {
        **os.environ,
        "GF_PATHS_PROVISIONING": str(provisioning),
        "GF_PATHS_DATA": str(data),
        "GF_PATHS_LOGS": str(data / "log"),
        "GF_SERVER_HTTP_ADDR": "127.0.0.1",
        "GF_SERVER_HTTP_PORT": str(port),
        "GF_AUTH_ANONYMOUS_ENABLED": "true",
        "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        "GF_NEWS_NEWS_FEED_ENABLED": "false",
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": str(DASHBOARDS / "network-overview.json"),
    }
    argv = [binary, "server"] if Path(binary).name == "grafana" else [binary]
    return [*argv, f"--homepath={GRAFANA_HOME}"], env


def _demo_config(path: Path, vm_url: str, http_port: int) -> Path:
    path.write_text(
        # VictoriaMetrics takes the InfluxDB write API without a token.
        f"influxdb:\n  url: {vm_url}\n  bucket: netpoll\n  org: demo\n"
        f"http:\n  listen: 127.0.0.1:{http_port}\n",
        encoding="utf-8",
    )
    return path


def run(args: argparse.Namespace) -> int:
    """Start what is installed, run the demo until Ctrl-C (or ``--cycles``), stop everything started."""
    from netpoll.cli.main import main as netpoll_main

    vm = shutil.which("victoria-metrics")
    if vm is None:
        raise NetpollError(
            "VictoriaMetrics is not installed: apt-get install victoria-metrics, or use deploy/compose.yaml"
            " (InfluxDB and Grafana; docs/deployment.md)"
        )
    base = Path("data") / "stack"
    base.mkdir(parents=True, exist_ok=True)
    vm_url = f"http://127.0.0.1:{args.vm_port}"
    vm_argv = [
        vm,
        f"-storageDataPath={base / 'victoriametrics'}",
        f"-httpListenAddr=127.0.0.1:{args.vm_port}",
    ]
    grafana = shutil.which("grafana-server") or shutil.which("grafana")
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            _running(vm_argv, "VictoriaMetrics", f"{vm_url}/health", base / "victoriametrics.log")
        )
        print(f"VictoriaMetrics: {vm_url}/vmui (query e.g. interface_in_bps)")
        if grafana is not None and DASHBOARDS.is_dir():
            provisioning = grafana_provisioning(base / "grafana-provisioning", vm_url)
            argv, env = grafana_command(
                grafana, provisioning, (base / "grafana").resolve(), args.grafana_port
            )
            url = f"http://127.0.0.1:{args.grafana_port}"
            stack.enter_context(_running(argv, "Grafana", f"{url}/api/health", base / "grafana.log", env))
            print(f"Grafana: {url}/d/netpoll-vm-overview (anonymous viewer)")
        else:
            print(
                "Grafana is not installed here: add a Prometheus datasource with uid"
                f" {DATASOURCE_UID} and URL {vm_url} to a Grafana and import"
                " deploy/grafana/dashboards/victoriametrics/*.json (docs/deployment.md),"
                " or run deploy/compose.yaml"
            )
        config = _demo_config(base / "netpoll.yaml", vm_url, args.http_port)
        argv = ["run", "--config", str(config)]
        if args.cycles:
            argv += ["--cycles", str(args.cycles)]
        if args.interval:
            argv += ["--interval", str(args.interval)]
        sys.stdout.flush()
        return netpoll_main(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; one line on stderr for what is missing or fails to start."""
    parser = argparse.ArgumentParser(prog="python -m netpoll.demo.stack", description=__doc__)
    parser.add_argument("--vm-port", type=int, default=8428, help="VictoriaMetrics port (default 8428)")
    parser.add_argument("--grafana-port", type=int, default=3000, help="Grafana port (default 3000)")
    parser.add_argument("--http-port", type=int, default=9108, help="netpoll status page port (default 9108)")
    parser.add_argument("--cycles", type=int, help="stop after N cycles (tests)")
    parser.add_argument("--interval", type=float, help=argparse.SUPPRESS)
    try:
        return run(parser.parse_args(argv))
    except NetpollError as exc:
        print(f"netpoll demo-grafana: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
