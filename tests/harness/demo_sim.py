"""The demo lab's simulated devices (snmpsim) for daemon tests: made, started and stopped in one place."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from netpoll.demo.lab import write_lab
from netpoll.demo.simulator import Simulator
from netpoll.errors import NetpollError
from tests.harness.ports import free_port


def demo_simulator(
    work: Path, addresses: Sequence[str], interval_s: float, only: Sequence[str] = ()
) -> Simulator:
    """A simulator of the generated demo recordings (only the communities in ``only`` when given)."""
    recordings, _ = write_lab(work / "lab", 161, interval_s)
    if only:
        served = work / "served"
        served.mkdir(exist_ok=True)
        for community in only:
            shutil.copyfile(recordings / f"{community}.snmprec", served / f"{community}.snmprec")
        recordings = served
    probe = only[0] if only else "demo-fw-edge-1"  # a community it serves: its readiness probe asks it
    return Simulator(recordings, list(addresses), free_port("udp"), work, probe)


@contextlib.contextmanager
def running(simulator: Simulator) -> Iterator[Simulator]:
    """Start ``simulator`` (a failure fails the test under CI=true, else skips it), stop it at the end."""
    try:
        simulator.start()
    except NetpollError as exc:
        pytest.fail(str(exc)) if os.environ.get("CI") == "true" else pytest.skip(str(exc))
    try:
        yield simulator
    finally:
        simulator.stop()
