"""Split an inventory across N pollers with no coordination: rendezvous hashing on the device name.

Every poller runs the same inventory with its own shard ``I/N`` and polls only the devices whose
highest-scoring shard is ``I``. The score of (device, shard) is a keyed BLAKE2b hash, so it is the same
in every process, on every machine and every Python version (unlike the builtin ``hash``, which is
randomised per process). Rendezvous (highest random weight) hashing moves only the devices the new shard
wins when N grows to N+1: about 1/(N+1) of them, and nothing moves between the old shards.

The shard comes from ``--shard I/N`` on the command line or from the environment
(:func:`shard_from_environment`): ``NETPOLL_SHARD=I/N``, or, in a Kubernetes StatefulSet,
``NETPOLL_SHARDS=N`` (the replica count) with the index taken from the pod ordinal, the number after the
last ``-`` of the pod name (``netpoll-2`` is shard 2), read from ``NETPOLL_SHARD_INDEX``, ``POD_NAME``
or ``HOSTNAME`` in that order, else the host name.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from netpoll.errors import ConfigError

__all__ = [
    "ShardError",
    "parse_shard",
    "shard_devices",
    "shard_from_environment",
    "shard_of",
    "shard_score",
]

# Pollers of one deployment must agree on this forever: changing it reshuffles every device.
_PERSON = b"netpoll-shard-v1"
_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_ORDINAL_RE = re.compile(r"-(\d+)$")
# A bound that catches typos (``0/30000``) without limiting any sane deployment.
MAX_SHARDS = 4096


class ShardError(ConfigError, ValueError):
    """A shard specification is invalid.

    A :class:`~netpoll.errors.ConfigError` so the CLI prints it as a one-line error, and a ``ValueError``
    so ``argparse`` accepts :func:`parse_shard` as an argument ``type``.
    """

    def __init__(self, message: str) -> None:
        super().__init__([message])


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


def _check(index: int, count: int, origin: str) -> tuple[int, int]:
    if count < 1:
        raise ShardError(f"{origin}: the shard count must be at least 1, got {count}")
    if count > MAX_SHARDS:
        raise ShardError(f"{origin}: the shard count must be at most {MAX_SHARDS}, got {count}")
    if not 0 <= index < count:
        raise ShardError(
            f"{origin}: shard index {index} is out of range for {count} shards; use 0 to {count - 1}"
        )
    return index, count


def parse_shard(spec: str) -> tuple[int, int]:
    """Parse ``"I/N"`` (shard I of N, counted from 0) into ``(I, N)``.

    Raises:
        ShardError: (a ConfigError and a ValueError) naming the bad value and the expected form.
    """
    match = _SHARD_RE.match(spec)
    if match is None:
        raise ShardError(
            f"shard {spec!r}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/3, 1/3 or 2/3"
        )
    return _check(int(match.group(1)), int(match.group(2)), f"shard {spec!r}")


def shard_from_environment(
    environ: Mapping[str, str] | None = None, hostname: str | None = None
) -> tuple[int, int] | None:
    """The shard set by the environment, or None when no shard variable is set.

    ``NETPOLL_SHARD=I/N`` wins. Otherwise ``NETPOLL_SHARDS=N`` (a StatefulSet's replica count) with the
    index from ``NETPOLL_SHARD_INDEX`` (e.g. the ``apps.kubernetes.io/pod-index`` label through the
    downward API), else the ordinal suffix of ``POD_NAME``, ``HOSTNAME`` or the host name (``netpoll-2``).

    Raises:
        ShardError: a variable is set but malformed, or the pod name carries no ordinal.
    """
    env = os.environ if environ is None else environ
    spec = env.get("NETPOLL_SHARD", "").strip()
    if spec:
        return parse_shard(spec)
    count_text = env.get("NETPOLL_SHARDS", "").strip()
    if not count_text:
        return None
    if not count_text.isdigit():
        raise ShardError(f"NETPOLL_SHARDS={count_text!r}: expected the number of shards, e.g. 3")
    count = int(count_text)
    index_text = env.get("NETPOLL_SHARD_INDEX", "").strip()
    if index_text:
        if not index_text.isdigit():
            raise ShardError(f"NETPOLL_SHARD_INDEX={index_text!r}: expected a pod ordinal, e.g. 0")
        return _check(int(index_text), count, f"NETPOLL_SHARD_INDEX={index_text}")
    for variable in ("POD_NAME", "HOSTNAME"):
        name = env.get(variable, "").strip()
        if name:
            break
    else:
        variable = "hostname"
        name = hostname if hostname is not None else socket.gethostname()
    match = _ORDINAL_RE.search(name.split(".", 1)[0])
    if match is None:
        raise ShardError(
            f"NETPOLL_SHARDS={count} but {variable} {name!r} does not end in a pod ordinal (NAME-0, NAME-1,"
            " ...); set NETPOLL_SHARD=I/N or NETPOLL_SHARD_INDEX instead"
        )
    return _check(int(match.group(1)), count, f"{variable} {name!r} with NETPOLL_SHARDS={count}")


def shard_score(name: str, index: int) -> int:
    """The rendezvous weight of ``name`` on shard ``index``: a stable 64-bit keyed hash."""
    digest = hashlib.blake2b(
        name.encode("utf-8"), digest_size=8, key=index.to_bytes(4, "big"), person=_PERSON
    ).digest()
    return int.from_bytes(digest, "big")


def shard_of(name: str, count: int) -> int:
    """The shard (0 .. count-1) that polls the device called ``name``."""
    _check(0, count, f"{count} shards")
    if count == 1:
        return 0
    # Ties (1 in 2**64) go to the lower index, so the answer is still deterministic.
    return max(range(count), key=lambda index: (shard_score(name, index), -index))


def shard_devices(devices: Iterable[T], index: int, count: int) -> list[T]:
    """The devices (anything with a ``name``) that shard ``index`` of ``count`` polls, in input order."""
    _check(index, count, f"shard {index}/{count}")
    if count == 1:
        return list(devices)
    return [device for device in devices if shard_of(device.name, count) == index]
