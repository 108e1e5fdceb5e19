"""A ``netpoll run`` subprocess in a test: started with a clean environment, stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.harness.process import die_with_parent


def start_daemon(config: Path, cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``netpoll run --config CONFIG`` in ``cwd``, stdout and stderr into ``log_path``, no NETPOLL_* set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPOLL_")}
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "netpoll", "run", "--config", str(config)],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )


def stop_daemon(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    """SIGTERM it (if still running); its log, once it exited 0 without a traceback."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    log = log_path.read_text()
    assert code == 0, log
    assert "Traceback" not in log
    return log
