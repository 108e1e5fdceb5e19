"""What both SNMP client backends share: the target description, walk bookkeeping and error wording.

Kept free of any SNMP library import so the pool, both backends and the unit tests can use it.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from netpoll.devicelog import device_log
from netpoll.errors import NetpollError, SnmpDecodeError, SnmpError, SnmpTimeout
from netpoll.inputs.snmp.replies import STATS, is_fatal
from netpoll.inputs.snmp.types import Oid, SnmpValue, format_oid
from netpoll.inventory.models import CommunityCredentials, SnmpSettings

log = logging.getLogger("netpoll.snmp.client")

A = TypeVar("A")
R = TypeVar("R")

# Rows one walk may return when the caller gives no cap: bounds the memory a hostile (endless) table costs.
DEFAULT_MAX_ROWS = 100_000
# The cap of the walk in progress in this task (set by ``BackendClient.walk``, read by ``WalkGuard``): a
# context variable, so both backends' walk loops see it without threading it through every helper.
_MAX_ROWS: contextvars.ContextVar[int] = contextvars.ContextVar(
    "netpoll_walk_max_rows", default=DEFAULT_MAX_ROWS
)

# net-snmp's snmpd answers at most 100 varbinds per GETBULK response; asking for more only costs bigger
# requests for nothing, and some agents answer tooBig instead of truncating.
MAX_REPETITIONS_CAP = 100

# GETBULK max-repetitions the walks of this task ask for instead of the device's setting
# (``walk_repetitions``): the poller sizes it to the interface count, so a column is one request.
_REPETITIONS: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "netpoll_walk_repetitions", default=None
)


@contextlib.contextmanager
def walk_repetitions(repetitions: int | None) -> Iterator[None]:
    """Walks made inside (in this task) ask for ``repetitions`` per GETBULK (capped); None: the setting's."""
    token = _REPETITIONS.set(repetitions)
    try:
        yield
    finally:
        _REPETITIONS.reset(token)


def requested_repetitions(configured: int) -> int:
    """The max-repetitions a walk started now asks for: ``walk_repetitions``' or ``configured``, capped."""
    wanted = _REPETITIONS.get()
    return max(1, min(configured if wanted is None else wanted, MAX_REPETITIONS_CAP))


@dataclass(frozen=True, slots=True)
class Target:
    """One SNMP agent as a client sees it.

    ``label`` names the agent in errors and logs (device name, or ``host:port`` for ad-hoc targets); it never
    contains a credential.
    """

    label: str
    address: str
    settings: SnmpSettings

    @property
    def port(self) -> int:
        """UDP port of the agent."""
        return self.settings.port

    @property
    def version(self) -> str:
        """``"1"``, ``"2c"`` or ``"3"``."""
        return self.settings.credentials.version

    @property
    def community(self) -> str:
        """The community string (secret) of a v1/v2c target."""
        credentials = self.settings.credentials
        assert isinstance(credentials, CommunityCredentials)
        return credentials.community.get_secret_value()

    def timed_out(self) -> SnmpTimeout:
        """The error for no answer within the timeout and retries (see ``timeout_message``)."""
        return SnmpTimeout(self.label, timeout_message(self))

    @property
    def max_repetitions(self) -> int:
        """GETBULK max-repetitions, capped at what agents answer anyway (``walk_repetitions`` may set it)."""
        return requested_repetitions(self.settings.max_repetitions)


@dataclass(slots=True)
class Tally:
    """What a pool's clients sent, summed over all of them (``SnmpClientPool.requests``)."""

    requests: int = 0  # PDUs sent; gufo counts its retries, pysnmp retries inside the library uncounted


class WalkTooLong(NetpollError):
    """A walk returned more rows than its cap; the poller names the table (``root``) and the cap."""

    def __init__(self, root: Oid, cap: int) -> None:
        self.root = root
        self.cap = cap
        super().__init__(f"walk of {format_oid(root)}: more than {cap} rows")


@dataclass(slots=True)
class WalkGuard:
    """Per-walk bookkeeping: subtree end and agents that return non-increasing OIDs.

    ``accept`` returns False at the first varbind that ends the walk: outside the subtree, or not greater
    than the previous OID (a broken agent would otherwise loop us forever). The latter is recorded in
    ``warning``.
    """

    root: Oid
    last: Oid = ()
    warning: str | None = None
    max_rows: int = field(init=False, default=DEFAULT_MAX_ROWS)
    _n: int = field(init=False, default=0)
    _rows: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._n = len(self.root)
        self.last = self.root
        self.max_rows = _MAX_ROWS.get()

    def accept(self, oid: Oid) -> bool:
        """True if ``oid`` belongs to this walk and comes after the previous one.

        Raises:
            WalkTooLong: the walk passed its row cap (an endless or hostile table): memory stays bounded.
        """
        if oid[: self._n] != self.root:
            return False
        self._rows += 1
        if self._rows > self.max_rows:
            raise WalkTooLong(self.root, self.max_rows)
        if oid <= self.last:
            self.warning = (
                f"walk of {format_oid(self.root)}: agent returned non-increasing OID {format_oid(oid)} "
                f"after {format_oid(self.last)}; walk stopped there"
            )
            return False
        self.last = oid
        return True


def timeout_message(target: Target) -> str:
    """Error text for a timeout, with the likely causes (a wrong privacy key first where it applies)."""
    settings = target.settings
    text = f"no response within {settings.timeout_s:g}s x {settings.retries + 1} tries"
    credentials = settings.credentials
    if credentials.version == "3" and credentials.priv_protocol is not None:
        # net-snmp and most agents drop a PDU they cannot decrypt without a report: a wrong privacy key
        # (or protocol) is indistinguishable from a dead agent on the wire.
        return text + (
            " (SNMPv3 authPriv: a wrong privacy key or protocol looks like this; also check the address,"
            f" port {settings.port}, the agent's access rules and firewalls on the way)"
        )
    # Agents drop a request with a wrong community without a word, so it looks like a dead agent.
    wrong = "community" if credentials.version != "3" else "user or engine"
    return text + (
        f" (likely: wrong {wrong}, agent not running or not listening on port {settings.port} of that"
        " address, agent access rules, or a firewall on the way)"
    )


def refused_message(target: Target) -> str:
    """Error text for an ICMP port unreachable: nothing listens on the SNMP port of that address."""
    return (
        f"nothing listening on UDP port {target.settings.port} of {target.address}"
        " (ICMP port unreachable): wrong port, or the SNMP agent is not running"
    )


class BackendClient:
    """What both backends' clients share: the ``SnmpClient`` entry points, walk warnings and v3 rediscovery.

    A backend implements ``_get``, ``_walk``, ``_rediscover`` and ``close``.

    SNMPv3: when an agent that answered before goes silent, its engine is discovered again, once. A replaced
    device (or an agent whose engine ID is not persistent) comes back with a new engine ID; the cached one
    makes every request undecodable for it and net-snmp drops them silently. Both libraries would keep using
    the stale engine ID (pysnmp for 300 s, gufo forever), so the first timeout after a success forgets it and
    tries once more. A dead agent costs one extra timeout cycle, not one per poll.
    """

    backend: str
    _answered = False
    _released = False

    def __init__(self, target: Target, tally: Tally) -> None:
        self.target = target
        self.warnings: list[str] = []  # walk warnings (bounded), for tests and diagnostics
        self._tally = tally  # the pool's: every PDU sent is counted there

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        """GET scalars; noSuchObject/noSuchInstance (v1: noSuchName) are left out of the result."""
        return await self._guarded(self._get, oids)

    async def walk(self, root: Oid, max_rows: int | None = None) -> list[tuple[Oid, SnmpValue]]:
        """Everything under ``root`` in agent order: GETBULK (v2c/v3) or GETNEXT (v1).

        At most ``max_rows`` rows (default ``DEFAULT_MAX_ROWS``): ``WalkTooLong`` past that.
        """
        token = _MAX_ROWS.set(DEFAULT_MAX_ROWS if max_rows is None else max_rows)
        try:
            return await self._guarded(self._walk, root)
        finally:
            _MAX_ROWS.reset(token)

    async def _guarded(self, operation: Callable[[A], Awaitable[R]], argument: A) -> R:
        """Run a request; whatever a backend raises for a reply ends as an ``SnmpError``, never escapes.

        A device's reply must not crash a poll (or ``netpoll poll``) with a library exception: gufo-snmp's
        decoder panics on some malformed replies (``PanicException`` derives from ``BaseException``), pysnmp
        and pyasn1 raise their own errors. Each such failure is counted as a decoder fault. The SNMPv3
        rediscovery (see the class) happens here too, in the same frame: every request passes through it.
        """
        try:
            try:
                result = await operation(argument)
            except SnmpTimeout:
                if self.target.version != "3" or not self._answered:
                    raise
                self._answered = False
                device_log(log, self.target.label).info(
                    "SNMPv3 agent went silent: discovering its engine ID again"
                )
                self._rediscover()
                result = await operation(argument)
            self._answered = True
            return result
        except NetpollError:
            raise
        except BaseException as exc:
            if is_fatal(exc):
                raise
            raise self.decode_error(exc) from exc

    def decode_error(self, exc: BaseException) -> SnmpDecodeError:
        """Count a decoder fault and describe it (one line, the library's message cut short)."""
        STATS.note_fault(self.backend)
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        if not isinstance(exc, Exception):  # pyo3's PanicException: a BaseException
            detail = f"decoder panic: {detail}"
        return SnmpDecodeError(self.target.label, f"undecodable reply ({self.backend}: {detail})")

    async def aclose(self) -> None:
        """Release the client for good (``release``)."""
        self.release()

    def release(self) -> None:
        """Close for good: the client never opens a session again.

        For a removed device, replaced settings or a closed pool: a poll still in flight then fails instead of
        leaving a new socket behind.
        """
        self._released = True
        self.close()

    def _check_open(self) -> None:
        """Raise SnmpError if the client was released; called before a session is (re)opened."""
        if self._released:
            raise SnmpError(self.target.label, "client closed (device removed or settings changed)")

    async def _get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        raise NotImplementedError

    async def _walk(self, root: Oid) -> list[tuple[Oid, SnmpValue]]:
        raise NotImplementedError

    def _rediscover(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the client holds; the next request opens a session again (see ``release``)."""
        raise NotImplementedError

    def _warn(self, guard: WalkGuard) -> None:
        """Keep the walk's warning, if any (bounded), and log it."""
        if guard.warning:
            if len(self.warnings) < 20:
                self.warnings.append(guard.warning)
            device_log(log, self.target.label).warning("%s", guard.warning)
