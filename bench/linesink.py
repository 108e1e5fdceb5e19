"""A counting InfluxDB write endpoint for bench/scale.py: what netpoll wrote, at next to no CPU.

At 20,000 devices netpoll writes ~12 million series a minute (618 per device: 21 interfaces of ~28 fields
each, plus the device's own). Measured on the bench's machine, VictoriaMetrics needs about 20 µs of CPU per
new series and 4 µs per row once they exist: 4 minutes of CPU for the first cycle and ~80 % of a core after,
on the one core the simulated fleet already takes most of on a two-core machine. The bench then measures the
sink, not netpoll. This endpoint speaks the write API netpoll uses (``GET /ping``, ``POST /api/v2/write`` and
``/write``, gzip or not), answers 204, and keeps only what the bench reads back: per device, each SNMP poll's
time and ``poll_ok``, its ping count and whether one lost packets, its interface series with rates, and the
alert breaches. ``GET /summary`` returns them as JSON.

Run: ``python bench/linesink.py --listen 127.0.0.1:8428`` (bench/scale.py starts it with ``--sink count``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Tag and field values in the bench are plain (device names dev00042, rule names): no escapes to honour.
DEVICE = re.compile(rb",device=([^,\s]+)")
RULE = re.compile(rb",rule=([^,\s]+)")
POLL_OK = re.compile(rb"[ ,]poll_ok=([^,\s]+)")
LOSS = re.compile(rb"[ ,]percent_packet_loss=([^,\s]+)")


class Tally:
    """What the bench reads back, per device; updated under a lock (the server is threaded)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snmp: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.pings: dict[str, int] = defaultdict(int)
        self.lossy: set[str] = set()
        self.interfaces: dict[str, set[int]] = defaultdict(set)
        self.breaches: list[tuple[str, str, int]] = []
        self.lines = 0

    def add(self, body: bytes) -> None:
        with self.lock:
            for line in body.split(b"\n"):
                if line:
                    self._line(line)

    def _line(self, line: bytes) -> None:
        self.lines += 1
        head, _, _ = line.partition(b" ")
        found = DEVICE.search(head)
        device = found.group(1).decode() if found else "?"
        if line.startswith(b"interface,"):
            if b"in_bps=" in line:
                self.interfaces[device].add(hash(head))
        elif line.startswith(b"snmp,"):
            ok = POLL_OK.search(line)
            if ok:
                self.snmp[device].append((_stamp_ms(line), float(ok.group(1).rstrip(b"i"))))
        elif line.startswith(b"ping,"):
            self.pings[device] += 1
            loss = LOSS.search(line)
            if loss and float(loss.group(1).rstrip(b"i")) != 0:
                self.lossy.add(device)
        elif line.startswith(b"alert,") and b",state=breach" in head:
            rule = RULE.search(head)
            self.breaches.append((device, rule.group(1).decode() if rule else "?", _stamp_ms(line)))

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "lines": self.lines,
                "snmp": self.snmp,
                "pings": self.pings,
                "lossy": sorted(self.lossy),
                "interfaces": {device: len(keys) for device, keys in self.interfaces.items()},
                "breaches": self.breaches,
            }


def _stamp_ms(line: bytes) -> int:
    return int(line.rsplit(b" ", 1)[1]) // 1_000_000


def serve(host: str, port: int) -> None:
    tally = Tally()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: netpoll keeps its connections

        def _reply(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.startswith("/summary"):
                self._reply(200, json.dumps(tally.summary()).encode())
            else:
                self._reply(204)  # /ping, /health: no X-Influxdb-Version, so netpoll writes with the v2 API

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            tally.add(body)
            self._reply(204)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer((host, port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8428", help="HOST:PORT (default 127.0.0.1:8428)")
    host, _, port = parser.parse_args().listen.rpartition(":")
    serve(host, int(port))


if __name__ == "__main__":
    main()
