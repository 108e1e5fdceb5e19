"""Acceptance: N ``netpoll check --shard I/N --json`` processes split a 1,000-device inventory.

Checked only from the processes' output, never by calling the hash function: each shard lists a disjoint
set, their union is the inventory, and growing from 3 to 4 shards moves at most 30% of the devices (only
to the new shard). Then three ``netpoll run --shard I/3 --cycles 1`` daemons over the same 1,000 devices
(as loopback addresses) poll exactly what ``check`` listed for their shard, read from their line protocol.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DEVICES = 1000

# 198.18.0.0/22 has 1,022 host addresses; excluding 22 leaves 1,000. Ping-only, nothing is contacted.
INVENTORY = """\
defaults:
  snmp:
    enabled: false
ranges:
  - range: 198.18.0.0/22
    name: "poller-test-{index:04d}.lab"
    exclude: [198.18.3.233-198.18.3.254]
    site: lab
    role: switch
"""


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shard") / "inventory.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    return path


def check(inventory: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "netpoll", "check", str(inventory), "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_shards(inventory: Path, count: int) -> tuple[list[str], list[list[str]]]:
    """Start ``count`` processes at once; return (inventory names, devices listed by each shard)."""
    processes = [check(inventory, "--shard", f"{index}/{count}") for index in range(count)]
    reports: list[dict[str, Any]] = []
    for index, process in enumerate(processes):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"shard {index}/{count}: exit {process.returncode}\n{err}"
        reports.append(json.loads(out))
    names = [device["name"] for device in reports[0]["inventory"]]
    for index, report in enumerate(reports):
        assert report["shard"]["shard"] == f"{index}/{count}"
        assert [device["name"] for device in report["inventory"]] == names
    return names, [report["shard"]["devices"] for report in reports]


@pytest.fixture(scope="module")
def three(inventory: Path) -> tuple[list[str], list[list[str]]]:
    return run_shards(inventory, 3)


@pytest.fixture(scope="module")
def four(inventory: Path) -> tuple[list[str], list[list[str]]]:
    return run_shards(inventory, 4)


def test_three_shards_are_disjoint_and_cover_the_inventory(three: tuple[list[str], list[list[str]]]) -> None:
    names, shards = three
    assert len(names) == DEVICES
    assert len(set(names)) == DEVICES
    seen: set[str] = set()
    for index, devices in enumerate(shards):
        assert len(devices) == len(set(devices)), f"shard {index} lists a device twice"
        overlap = seen & set(devices)
        assert not overlap, f"shard {index} shares {sorted(overlap)[:5]}"
        seen |= set(devices)
    assert seen == set(names)
    # Each shard gets its share (binomial spread of 1,000 over 3 is about ±15).
    for devices in shards:
        assert abs(len(devices) - DEVICES / 3) <= 0.15 * DEVICES / 3, [len(s) for s in shards]


def test_three_to_four_shards_moves_at_most_30_percent(
    three: tuple[list[str], list[list[str]]], four: tuple[list[str], list[list[str]]]
) -> None:
    names, before = three
    _, after = four
    old = {name: index for index, devices in enumerate(before) for name in devices}
    new = {name: index for index, devices in enumerate(after) for name in devices}
    assert set(new) == set(names)
    moved = [name for name in names if old[name] != new[name]]
    share = len(moved) / len(names)
    print(f"3 -> 4 shards: {len(moved)} of {len(names)} devices moved ({share:.1%})")
    assert share <= 0.30
    # Rendezvous hashing: what moves goes to the new shard; nothing is reshuffled among the old ones.
    assert all(new[name] == 3 for name in moved)
    assert len(after[3]) == len(moved)


@pytest.mark.parametrize(
    ("spec", "needle"), [("3/3", "out of range"), ("1-3", "expected INDEX/COUNT"), ("0/0", "at least 1")]
)
def test_bad_shard_is_a_one_line_error(inventory: Path, spec: str, needle: str) -> None:
    process = check(inventory, "--shard", spec)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback" not in out + err
    assert needle in out + err


# ---- the daemon: three `netpoll run --shard I/3` processes poll disjoint sets covering the inventory -----

# The same 1,000 devices as loopback addresses (127.0.0.0/8 answers by itself), ping-only, one echo each.
LOOPBACK_INVENTORY = """\
defaults:
  snmp:
    enabled: false
  ping:
    interval_s: 5
    count: 1
    timeout_s: 1
ranges:
  - range: 127.77.0.0/22
    name: "poller-test-{index:04d}.lab"
    exclude: [127.77.3.233-127.77.3.254]
"""


@pytest.mark.network
def test_three_daemons_poll_disjoint_sets_covering_the_inventory(
    tmp_path: Path, three: tuple[list[str], list[list[str]]]
) -> None:
    probe = subprocess.run(
        [sys.executable, "-m", "netpoll", "ping", "127.0.0.1", "--count", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"no ICMP here (netpoll ping 127.0.0.1 failed): {probe.stderr.strip()[:200]}")
    (tmp_path / "inventory.yaml").write_text(LOOPBACK_INVENTORY, encoding="utf-8")
    daemons = []
    for index in range(3):
        config = tmp_path / f"shard{index}.yaml"
        config.write_text(
            f"inventories: [inventory.yaml]\ndata_dir: out{index}\nstate_dir: state{index}\n",
            encoding="utf-8",
        )
        daemons.append(
            subprocess.Popen(
                [
                    *(sys.executable, "-m", "netpoll", "run", "--config", str(config)),
                    *("--shard", f"{index}/3", "--cycles", "1"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    polled: list[set[str]] = []
    for index, daemon in enumerate(daemons):
        _, err = daemon.communicate(timeout=120)
        assert daemon.returncode == 0, f"shard {index}/3: exit {daemon.returncode}\n{err}"
        devices = set()
        for path in (tmp_path / f"out{index}").rglob("*.lp"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("ping,"):
                    tags = dict(item.split("=", 1) for item in line.split(" ", 1)[0].split(",")[1:])
                    devices.add(tags["device"])
        polled.append(devices)
    names, listed = three
    for index, devices in enumerate(polled):
        assert not devices & set().union(*(polled[:index])), f"shard {index} polled a device another did"
        # What `netpoll check --shard` lists is what `netpoll run --shard` polls.
        assert devices == set(listed[index])
    assert set().union(*polled) == set(names)
