"""`netpoll run` writing through small local HTTP stand-ins in front of VictoriaMetrics, where the real server
cannot misbehave on demand: one that trickles its answer forever (SIGTERM still exits within the documented
grace, memory stays bounded, the batches are spooled) and one that answers every write in 3 s and commits it
only then (a SIGKILL loses at most one flush interval). Data: ping probes of loopback addresses, one a second.
"""

from __future__ import annotations

import itertools
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.http_standin import Behaviour, WriteStandIn
from tests.harness.process import die_with_parent
from tests.harness.victoriametrics import VictoriaMetrics
from tests.integration.test_daemon_reload import wait_for

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(120)]

INTERVAL = 1.0
FLUSH = 1.0
PEERS = {"peer-1": "127.0.0.81", "peer-2": "127.0.0.82", "peer-3": "127.0.0.83"}
# docs/daemon.md: polls get 5 s to finish, the InfluxDB output 10 s to deliver, then it spools.
GRACE_S = 5.0 + 10.0


def setup(tmp: Path, url: str, timeout_s: float = 2.0) -> Path:
    lines = ["defaults:", f"  ping: {{interval_s: {INTERVAL}, count: 1, timeout_s: 0.5}}", "devices:"]
    lines += [f"  - {{name: {n}, address: {a}, snmp: {{enabled: false}}}}" for n, a in PEERS.items()]
    (tmp / "inventory.yaml").write_text("\n".join(lines) + "\n")
    config = tmp / "netpoll.yaml"
    config.write_text(
        "inventories: [inventory.yaml]\ndata_dir: data\nstate_dir: state\n"
        f"influxdb: {{url: {url}, api: v2, flush_interval_s: {FLUSH}, timeout_s: {timeout_s}}}\n"
    )
    return config


class Run:
    def __init__(self, config: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")}
        self.log_path = config.parent / f"netpoll-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "netpoll", "run", "--config", str(config), *extra],
                cwd=config.parent,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(timeout=10)


@pytest.fixture
def standin(victoriametrics: VictoriaMetrics) -> Iterator[WriteStandIn]:
    server = WriteStandIn(forward_to=victoriametrics.url)
    yield server
    server.stop()


def stamps(vm: VictoriaMetrics, device: str) -> list[float]:
    rows = vm.export(f'{{__name__="ping_packets_transmitted",device="{device}"}}')
    return sorted(t / 1000 for row in rows for t in row["timestamps"])


def test_trickling_server_sigterm_exits_in_time_memory_bounded_batches_spooled(
    tmp_path: Path, standin: WriteStandIn, runs: list[Run]
) -> None:
    standin.behaviour = Behaviour(trickle=True, store=False)
    run = Run(setup(tmp_path, standin.url))
    runs.append(run)
    assert wait_for(lambda: len(standin.writes) >= 1, 20), run.log()
    time.sleep(3)
    rss_early = run.rss_kib()
    time.sleep(6)
    rss_late = run.rss_kib()
    spool = tmp_path / "state" / "spool"
    spooled = list(spool.glob("*.lp"))
    term = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    code = run.proc.wait(timeout=GRACE_S + 5)
    took = time.monotonic() - term
    print(f"figures: exit {code} {took:.1f} s after SIGTERM; RSS {rss_early} -> {rss_late} KiB over 6 s; "
          f"{len(spooled)} batches spooled while running, {len(list(spool.glob('*.lp')))} at exit; "
          f"{len(standin.writes)} write attempts")  # fmt: skip
    assert code == 0, run.log()
    assert took <= GRACE_S, f"exit took {took:.1f} s"
    assert spooled, "batches went to the spool while the server trickled"
    assert rss_late - rss_early < 8 * 1024, "memory grows while the server trickles"
    assert "Traceback" not in run.log()


def test_three_second_server_sigkill_loses_at_most_one_flush_interval(
    tmp_path: Path, standin: WriteStandIn, victoriametrics: VictoriaMetrics, runs: list[Run]
) -> None:
    config = setup(tmp_path, standin.url, timeout_s=10.0)  # the default deadline: each write succeeds in 3 s
    first = Run(config)
    runs.append(first)
    # Prompt at first, so the sender is idle and takes each batch straight from memory (its riskiest state);
    # then the server answers in 3 s and commits a write only then, and only if the client still waits: a
    # batch in flight at the SIGKILL is lost unless the daemon wrote it to its spool before sending it.
    assert wait_for(lambda: len(standin.writes) >= 6, 20), first.log()
    standin.behaviour = Behaviour(delay_s=3.0, commit_on_answer=True)
    # The kill lands 0.3 s after a write went out: that write is in flight, unanswered, uncommitted.
    sent = len(standin.writes)
    assert wait_for(lambda: len(standin.writes) > sent, 10), first.log()
    time.sleep(0.3)
    killed_at = time.time()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    # The same stand-in, now prompt: the restarted daemon replays the spool.
    standin.behaviour = Behaviour()
    second = Run(config, "--cycles", "2")
    runs.append(second)
    assert second.proc.wait(timeout=40) == 0, second.log()
    # The stand-in decides on the write the kill cut only when its 3 s are up: the restart can be quicker.
    wait_for(lambda: standin.abandoned >= 1, 10)
    victoriametrics.flush()
    worst_newest = worst_lost = 0.0
    for device in PEERS:
        series = stamps(victoriametrics, device)
        assert len(series) == len(set(series)), (device, "a replayed point was stored twice")
        before_kill = [t for t in series if t <= killed_at]
        assert len(before_kill) >= 6, (device, before_kill)
        # A missed poll leaves 2 intervals between points; a late one (a busy machine) less.
        gaps = [(a, b) for a, b in itertools.pairwise(before_kill) if b - a > 1.9 * INTERVAL]
        assert not gaps, (device, gaps)
        # Polls come every INTERVAL: the oldest point lost is the poll after the newest one stored.
        cadence = statistics.median(b - a for a, b in itertools.pairwise(before_kill))
        worst_newest = max(worst_newest, killed_at - before_kill[-1])
        worst_lost = max(worst_lost, killed_at - (before_kill[-1] + cadence))
    lost = max(worst_lost, 0.0)
    print(f"figures: {standin.abandoned} write in flight at the kill, not committed by the server; newest "
          f"stored point {worst_newest:.2f} s before the SIGKILL, so the polls of the last {lost:.2f} s "
          f"were lost (flush interval {FLUSH} s, poll interval {INTERVAL} s)")  # fmt: skip
    assert standin.abandoned == 1, "the kill cut the one write in flight"
    assert worst_lost <= FLUSH, f"lost the polls of the last {worst_lost:.2f} s"
