"""Hostile files (issue 16): `netpoll check` on each one prints one line and exits 1, within a bounded time
and under a memory limit (the CLI runs in a subprocess with RLIMIT_AS), and never sends anything."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

# Python, PyYAML and pydantic need ~120 MB of address space before reading anything; a bomb needs GBs.
MEMORY_LIMIT = 512 * 1024**2
TIME_LIMIT_S = 20.0

GOOD_DEVICE = "devices:\n  - {name: r1, address: 127.0.0.1, snmp: {enabled: false}}\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_check(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str], float]:
    """``netpoll check ARGS`` under the memory limit: (exit code, stderr lines, seconds)."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "netpoll", "check", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S * 3,
        preexec_fn=_limit_memory,
    )
    return proc.returncode, proc.stderr.splitlines(), time.monotonic() - started


def assert_one_line(result: tuple[int, list[str], float], *expected: str) -> None:
    code, lines, seconds = result
    assert code == 1, lines
    assert len(lines) == 1, lines
    for text in expected:
        assert text in lines[0]
    assert "Traceback" not in lines[0]
    assert seconds < TIME_LIMIT_S


def test_inventory_cannot_read_the_daemons_secrets(tmp_path: Path) -> None:
    token = "influx-t0ken-never-shown"
    (tmp_path / "token-var.yaml").write_text(
        "credentials:\n  c: {version: 2c, community: '${NETPOLL_INFLUXDB__TOKEN}'}\n"
        "devices:\n  - {name: r1, address: 127.0.0.1, snmp: {credentials: c}}\n"
    )
    (tmp_path / "environ.yaml").write_text(
        "credentials:\n  c: {version: 2c, community_file: /proc/self/environ}\n"
        "devices:\n  - {name: r1, address: 127.0.0.1, snmp: {credentials: c}}\n"
    )
    env = {"NETPOLL_INFLUXDB__TOKEN": token}
    result = run_check(tmp_path, "token-var.yaml", env=env)
    assert_one_line(
        result, "token-var.yaml:2:", "NETPOLL_INFLUXDB__TOKEN", "daemon's own configuration secrets"
    )
    result = run_check(tmp_path, "environ.yaml", env=env)
    assert_one_line(result, "environ.yaml:2:", "/proc/self/environ", "never read from /proc")
    # the same with the daemon configuration whose token it is (token from a file the inventory names)
    (tmp_path / "token").write_text(token)
    (tmp_path / "token").chmod(0o600)
    (tmp_path / "netpoll.yaml").write_text(
        "inventories: [file.yaml]\ninfluxdb: {url: 'http://127.0.0.1:9', token_file: token}\n"
    )
    (tmp_path / "file.yaml").write_text(
        "credentials:\n  c: {version: 2c, community_file: token}\n"
        "devices:\n  - {name: r1, address: 127.0.0.1, snmp: {credentials: c}}\n"
    )
    result = run_check(tmp_path, "--config", "netpoll.yaml")
    assert_one_line(result, "file.yaml:2:", "one of the daemon's own configuration secrets")
    assert token not in result[1][0]


def _bombs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Each hostile file: (check arguments, what its one line says)."""
    laughs = ["a0: &a0 [lol]"] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)
    ]
    (tmp_path / "alias-bomb.yaml").write_text("\n".join(laughs) + "\n" + GOOD_DEVICE)
    (tmp_path / "alias-config.yaml").write_text("inventories: [good.yaml]\n" + "\n".join(laughs) + "\n")
    (tmp_path / "good.yaml").write_text(GOOD_DEVICE)
    (tmp_path / "width.yaml").write_text(
        "ranges:\n  - {range: 127.0.0.0/30, name: 'd{index:>1000000000}', snmp: {enabled: false}}\n"
    )
    (tmp_path / "deep.yaml").write_text("devices: " + "[" * 10_000 + "]" * 10_000 + "\n")
    with (tmp_path / "big.yaml").open("wb") as handle:
        handle.write(GOOD_DEVICE.encode())
        handle.truncate(50 * 1024**2)
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "fifo-secret.yaml").write_text(
        "credentials:\n  c: {version: 2c, community_file: fifo.yaml}\n"
        "devices:\n  - {name: r1, address: 127.0.0.1, snmp: {credentials: c}}\n"
    )
    return {
        "alias bomb (inventory)": (["alias-bomb.yaml"], "alias-bomb.yaml:"),
        "alias bomb (config)": (["--config", "alias-config.yaml"], "alias-config.yaml:"),
        "width pattern": (["width.yaml"], "too wide"),
        "deep nesting": (["deep.yaml"], "nested deeper than"),
        "50 MB file": (["big.yaml"], "larger than"),
        "FIFO inventory": (["fifo.yaml"], "is a FIFO"),
        "FIFO config": (["--config", "fifo.yaml"], "is a FIFO"),
        "FIFO community_file": (["fifo-secret.yaml"], "is a FIFO"),
        "/dev/zero inventory": (["/dev/zero"], "is a device"),
        "/dev/zero config": (["--config", "/dev/zero"], "is a device"),
    }


def test_bombs_are_one_line_in_bounded_time_and_memory(tmp_path: Path) -> None:
    for what, (args, message) in _bombs(tmp_path).items():
        code, lines, seconds = run_check(tmp_path, *args)
        assert (code, len(lines)) == (1, 1), (what, lines)
        assert message in lines[0], (what, lines)
        assert seconds < TIME_LIMIT_S, (what, seconds)
