"""docs/daemon.md names every metric the daemon serves on /metrics (the self-monitor's registry)."""

from __future__ import annotations

import re

from netpoll.daemon.selfmon import SelfMonitor
from tests.doctext import read

# Suffixes the Prometheus text format adds to a family's name.
SUFFIX = {"counter": "_total", "info": "_info"}


def documented() -> set[str]:
    text = read("docs/daemon.md")
    start = text.index("`GET /metrics`")
    return set(re.findall(r"`(netpoll_[a-z0-9_]+)", text[start : text.index("`GET /healthz`", start)]))


def served() -> set[str]:
    """The netpoll metrics registered when the self-monitor is made (as the text format names them)."""
    families = SelfMonitor("poller1", "0/1").registry.collect()
    return {f.name + SUFFIX.get(f.type, "") for f in families if f.name.startswith("netpoll_")}


def test_every_served_metric_is_documented() -> None:
    missing = served() - documented()
    assert not missing, f"/metrics serves {sorted(missing)}, which docs/daemon.md does not name"
