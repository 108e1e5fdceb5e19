from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass

import pytest

from netpoll.errors import ConfigError
from netpoll.sharding import (
    ShardError,
    parse_shard,
    shard_devices,
    shard_from_environment,
    shard_of,
    shard_score,
)

NAMES = [f"dev{i:04d}.site{i % 7}" for i in range(1000)]


@dataclass(frozen=True)
class Dev:
    name: str


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("0/1", (0, 1)), ("0/3", (0, 3)), ("2/3", (2, 3)), (" 1 / 4 ", (1, 4)), ("15/16", (15, 16))],
)
def test_parse_shard_ok(spec: str, expected: tuple[int, int]) -> None:
    assert parse_shard(spec) == expected


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("", "expected INDEX/COUNT"),
        ("3", "expected INDEX/COUNT"),
        ("a/b", "expected INDEX/COUNT"),
        ("-1/3", "expected INDEX/COUNT"),
        ("1/3/4", "expected INDEX/COUNT"),
        ("3/3", "use 0 to 2"),
        ("5/3", "out of range"),
        ("0/0", "at least 1"),
        ("0/100000", "at most"),
    ],
)
def test_parse_shard_errors(spec: str, needle: str) -> None:
    with pytest.raises(ShardError) as info:
        parse_shard(spec)
    assert needle in str(info.value)
    assert repr(spec) in str(info.value)
    # One exception, two contracts: the CLI's ConfigError handling and argparse's ValueError handling.
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)
    assert len(info.value.problems) == 1


def test_parse_shard_as_argparse_type() -> None:
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--shard", type=parse_shard)
    assert parser.parse_args(["--shard", "1/3"]).shard == (1, 3)
    with pytest.raises(argparse.ArgumentError):
        parser.parse_args(["--shard", "3/3"])


@pytest.mark.parametrize(
    ("env", "hostname", "expected"),
    [
        ({}, "netpoll-1", None),
        ({"NETPOLL_SHARD": "2/5"}, "x", (2, 5)),
        ({"NETPOLL_SHARD": "2/5", "NETPOLL_SHARDS": "3", "HOSTNAME": "netpoll-0"}, "x", (2, 5)),
        ({"NETPOLL_SHARDS": "3", "NETPOLL_SHARD_INDEX": "1", "HOSTNAME": "netpoll-0"}, "x", (1, 3)),
        ({"NETPOLL_SHARDS": "3", "POD_NAME": "netpoll-2", "HOSTNAME": "other-0"}, "x", (2, 3)),
        ({"NETPOLL_SHARDS": "3", "HOSTNAME": "netpoll-poller-1"}, "x", (1, 3)),
        ({"NETPOLL_SHARDS": "4"}, "netpoll-3.netpoll.ns.svc.cluster.local", (3, 4)),
        ({"NETPOLL_SHARDS": "1"}, "netpoll-0", (0, 1)),
    ],
)
def test_shard_from_environment(env: dict[str, str], hostname: str, expected: tuple[int, int] | None) -> None:
    assert shard_from_environment(env, hostname=hostname) == expected


@pytest.mark.parametrize(
    ("env", "hostname", "needle"),
    [
        ({"NETPOLL_SHARD": "x"}, "h", "expected INDEX/COUNT"),
        ({"NETPOLL_SHARDS": "three"}, "netpoll-0", "NETPOLL_SHARDS='three'"),
        ({"NETPOLL_SHARDS": "3"}, "laptop", "does not end in a pod ordinal"),
        ({"NETPOLL_SHARDS": "3", "HOSTNAME": "netpoll-3"}, "h", "out of range"),
        ({"NETPOLL_SHARDS": "3", "NETPOLL_SHARD_INDEX": "x"}, "h", "NETPOLL_SHARD_INDEX='x'"),
        ({"NETPOLL_SHARDS": "0", "HOSTNAME": "netpoll-0"}, "h", "at least 1"),
    ],
)
def test_shard_from_environment_errors(env: dict[str, str], hostname: str, needle: str) -> None:
    with pytest.raises(ShardError) as info:
        shard_from_environment(env, hostname=hostname)
    assert needle in str(info.value)


def test_score_depends_on_name_and_shard() -> None:
    assert shard_score("r1", 0) == shard_score("r1", 0)
    assert shard_score("r1", 0) != shard_score("r1", 1)
    assert shard_score("r1", 0) != shard_score("r2", 0)
    assert 0 <= shard_score("r1", 0) < 2**64


def test_same_answer_in_a_fresh_interpreter() -> None:
    # A fresh interpreter (different PYTHONHASHSEED) must agree with this one.
    code = "from netpoll.sharding import shard_of; print([shard_of(f'd{i}', 5) for i in range(50)])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    ).stdout
    assert out.strip() == str([shard_of(f"d{i}", 5) for i in range(50)])


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_disjoint_and_union(count: int) -> None:
    devices = [Dev(name) for name in NAMES]
    shards = [shard_devices(devices, index, count) for index in range(count)]
    seen: set[str] = set()
    for shard in shards:
        names = {device.name for device in shard}
        assert not names & seen
        seen |= names
    assert seen == set(NAMES)
    assert sum(len(shard) for shard in shards) == len(NAMES)


def test_keeps_input_order() -> None:
    devices = [Dev(name) for name in NAMES]
    shard = shard_devices(devices, 1, 3)
    assert shard == [device for device in devices if shard_of(device.name, 3) == 1]


@pytest.mark.parametrize("count", [2, 3, 4, 8])
def test_balance_over_1000_names(count: int) -> None:
    sizes = Counter(shard_of(name, count) for name in NAMES)
    expected = len(NAMES) / count
    assert set(sizes) == set(range(count))
    # Binomial spread: 4 standard deviations is ~±11% at 3 shards; allow 20% of the mean.
    for size in sizes.values():
        assert abs(size - expected) <= 0.2 * expected, sizes


@pytest.mark.parametrize(("before", "after"), [(1, 2), (2, 3), (3, 4), (4, 5), (8, 9)])
def test_growing_moves_only_to_the_new_shard(before: int, after: int) -> None:
    old = {name: shard_of(name, before) for name in NAMES}
    new = {name: shard_of(name, after) for name in NAMES}
    moved = [name for name in NAMES if old[name] != new[name]]
    # Rendezvous hashing: a device either stays or goes to the new shard, never between old shards.
    assert all(new[name] == after - 1 for name in moved)
    assert len(moved) / len(NAMES) <= 1 / after + 0.05
    if (before, after) == (3, 4):
        assert len(moved) / len(NAMES) <= 0.30


@pytest.mark.parametrize(("index", "count"), [(-1, 3), (3, 3), (0, 0)])
def test_shard_devices_rejects_bad_shard(index: int, count: int) -> None:
    with pytest.raises(ShardError):
        shard_devices([Dev("a")], index, count)
