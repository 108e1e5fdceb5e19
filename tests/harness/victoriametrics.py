"""VictoriaMetrics single-node: takes InfluxDB line protocol writes, read back through its export API."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.ports import free_port
from tests.harness.process import ServerHandle, ServerProcess, http_ready, require_binary


@dataclass
class VictoriaMetrics(ServerHandle):
    """A running VictoriaMetrics; give ``url`` to influxdb-client as the InfluxDB URL (any token/org/bucket).

    Measurement and field become one metric name: ``interface,device=r1 in_bps=1`` exports as
    ``{"metric": {"__name__": "interface_in_bps", "device": "r1"}, "values": [1], "timestamps": [ms]}``.
    """

    host: str
    port: int
    data_dir: Path
    process: ServerProcess

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8428``."""
        return f"http://{self.host}:{self.port}"

    def _get(self, path: str, params: dict[str, str] | None = None) -> bytes:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as resp:
            body: bytes = resp.read()
            return body

    def flush(self) -> None:
        """Make just-ingested samples searchable (``/internal/force_flush``)."""
        self._get("/internal/force_flush")

    def export(self, match: str = '{__name__=~"interface_.*"}', flush: bool = True) -> list[dict[str, Any]]:
        """Series matching ``match`` (a series selector, ``{__name__=~".+"}`` for all) from the export API."""
        if flush:
            self.flush()
        body = self._get("/api/v1/export", {"match[]": match}).decode()
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def query(self, promql: str) -> dict[str, Any]:
        """An instant PromQL query (``/api/v1/query``); returns the decoded JSON answer."""
        self.flush()
        result: dict[str, Any] = json.loads(self._get("/api/v1/query", {"query": promql}))
        return result


def start_victoriametrics(workdir: Path, port: int | None = None) -> VictoriaMetrics:
    """Start ``victoria-metrics`` (Debian's binary name) with its data in ``workdir/data``."""
    binary = require_binary("victoria-metrics", "Debian package victoria-metrics")
    port = port or free_port("tcp")
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        f"-storageDataPath={data}",
        f"-httpListenAddr=127.0.0.1:{port}",
        # Tests write fixed old timestamps too: the default 1-month retention would drop them silently.
        "-retentionPeriod=100y",
        # What docs/delivery.md asks of a VictoriaMetrics that netpoll writes to: a point written twice
        # (a write the client timed out after the server stored it) is stored once.
        "-dedup.minScrapeInterval=1ms",
        "-search.disableCache",
        "-search.latencyOffset=0s",
        "-loggerLevel=WARN",
    ]
    process = ServerProcess(
        "victoria-metrics", argv, log_dir=workdir, ready=http_ready(f"http://127.0.0.1:{port}/health")
    )
    process.start()
    return VictoriaMetrics(host="127.0.0.1", port=port, data_dir=data, process=process)
