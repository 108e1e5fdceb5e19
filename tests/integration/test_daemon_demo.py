"""The README's main command on its embedded defaults: `netpoll run --cycles 2` with no configuration polls
the generated demo lab through snmpsim, exits 0 and leaves line protocol with non-zero rates in ./data;
SIGINT (Ctrl-C) stops it cleanly and stops snmpsim."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")}


def _rates(data: Path) -> list[float]:
    found = []
    for path in data.glob("netpoll-*.lp"):
        for line in path.read_text().splitlines():
            if line.startswith("interface,"):
                fields = line.rsplit(" ", 2)[1] if line.count(" ") >= 2 else ""
                for pair in fields.split(","):
                    if pair.startswith("in_bps="):
                        found.append(float(pair.split("=", 1)[1].rstrip("i")))
    return found


def test_demo_two_cycles(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netpoll", "run", "--cycles", "2", "--interval", "2"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cycle 2:" in proc.stdout
    rates = _rates(tmp_path / "data")
    assert rates, proc.stdout + proc.stderr
    assert max(rates) > 1e6
    assert "Traceback" not in proc.stderr
    assert "snmpsim stopped" in proc.stderr


def test_demo_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "netpoll", "run", "--interval", "2"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "data").glob("netpoll-*.lp")):
            time.sleep(0.5)
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err
    assert "SIGINT: stopping" in err
    assert "snmpsim stopped" in err
