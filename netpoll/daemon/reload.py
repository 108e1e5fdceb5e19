"""Inventory reload on request (the daemon's SIGHUP) and when an inventory file changes.

The watcher polls the modification time and size of every inventory file (and of the directories given,
so added or removed files count) every few seconds; a change, or SIGHUP, loads the inventory again with
the same loader ``netpoll check`` uses. A valid new inventory is handed to ``apply``; a broken one is
rejected: its problems are logged one per line, exactly as ``netpoll check`` prints them, each distinct
problem once until a reload succeeds (a storm of SIGHUPs on a broken file logs it once, not per signal), and
the running inventory stays in force. Requests are coalesced: at most one reload per ``min_interval_s``,
however many came meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from types import TracebackType
from typing import Self

from netpoll import defaults
from netpoll.background import stop_task
from netpoll.errors import ConfigError
from netpoll.inventory.models import Inventory

log = logging.getLogger("netpoll.daemon.reload")

Loader = Callable[[Sequence[Path]], Inventory]
Apply = Callable[[Inventory], None]
Signature = dict[str, tuple[int, int]]

# A reload that takes longer is given up (its thread finishes on its own); every file read is bounded in size
# and kind (netpoll.configkit.limits), so only a hung file system gets here.
LOAD_TIMEOUT_S = 60.0


def file_signature(paths: Sequence[Path]) -> Signature:
    """(mtime_ns, size) of every path (directories: of their ``*.yaml``/``*.yml`` files too)."""
    sig: Signature = {}
    for path in paths:
        candidates = [path]
        try:
            if path.is_dir():
                candidates += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        except OSError:  # e.g. no read permission: the loader reports it; a fix shows as a change
            sig[f"{path}/"] = (-1, -1)
        for candidate in candidates:
            try:
                st = os.stat(candidate)
            except OSError:
                sig[str(candidate)] = (-1, -1)
                continue
            sig[str(candidate)] = (st.st_mtime_ns, st.st_size)
    return sig


class InventoryWatcher:
    """Async context manager that reloads the inventory on change or on request (``trigger``).

    Args:
        paths: the inventory files or directories the daemon was started with.
        loader: ``load_inventory``.
        apply: called with every valid new inventory, in the event loop.
        poll_s: how often modification times are checked.
        min_interval_s: the least time between two reloads; requests meanwhile make one reload.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        loader: Loader,
        apply: Apply,
        poll_s: float = defaults.RELOAD_POLL_S,
        min_interval_s: float = defaults.RELOAD_MIN_INTERVAL_S,
    ) -> None:
        self.paths = list(paths)
        self.extra: list[Path] = []  # watched, not handed to the loader (``watch_also``)
        self.loader, self.apply = loader, apply
        self.poll_s, self.min_interval_s = poll_s, min_interval_s
        self.reloads = 0
        self.rejected = 0
        self.load_timeout_s = LOAD_TIMEOUT_S
        self._signature = file_signature(self.paths)
        self._wake = asyncio.Event()
        self._requests = 0
        self._reason = ""
        self._logged_problems: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def watch_files(self, files: Sequence[str]) -> None:
        """Also watch these files (the ones the loader actually read, e.g. includes)."""
        known = {Path(p) for p in self.paths}
        self.paths += [Path(f) for f in files if Path(f) not in known]
        self._signature = file_signature([*self.paths, *self.extra])

    def watch_also(self, paths: Sequence[Path]) -> None:
        """Reload when these change too, without loading them as inventory (the profiles directory)."""
        self.extra += [Path(p) for p in paths]
        self._signature = file_signature([*self.paths, *self.extra])

    def _subject(self, problem: str) -> str:
        """What a problem is in: "profiles" when it names a file under a watched profiles path."""
        where = PurePath(problem.split(":", 1)[0])
        for path in self.extra:
            # Problems name files as configured: absolute, or relative to the configuration's directory.
            if where.is_relative_to(path) if where.is_absolute() else path.name in where.parts[:-1]:
                return "profiles"
        return "inventory"

    def trigger(self, reason: str = "request") -> None:
        """Reload soon (what SIGHUP does); requests arriving before it starts make one reload."""
        self._requests += 1
        self._reason = reason
        self._wake.set()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="inventory-watcher")
        self._task.add_done_callback(_report_end)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await stop_task(self._task)

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that comes as
            # the wait ends, and the stopped watcher would run on (a shutdown hung on it until its watchdog).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            try:
                await self._check()
            except Exception:  # a bug here must not end the watcher: later edits would never be applied
                log.exception("inventory watcher: checking for changes failed; it goes on watching")

    async def _check(self) -> None:
        forced = self._wake.is_set()
        self._wake.clear()
        requests, self._requests = self._requests, 0
        signature = await asyncio.to_thread(file_signature, [*self.paths, *self.extra])
        if not forced and signature == self._signature:
            return
        if forced:
            log.info(
                "%s: reloading the inventory%s",
                self._reason,
                f" ({requests} requests coalesced)" if requests > 1 else "",
            )
        self._signature = signature
        await self.reload()
        # Paced: what arrives meanwhile waits for the next turn, so a storm costs one reload a period.
        await asyncio.sleep(self.min_interval_s)

    async def reload(self) -> bool:
        """Load the inventory again and apply it; False (and the running one kept) when it is broken."""
        try:
            async with asyncio.timeout(self.load_timeout_s):  # not wait_for: see _run
                inventory = await asyncio.to_thread(self.loader, self.paths)
        except TimeoutError:
            self.rejected += 1
            log.error(
                "inventory reload took longer than %.0f s; the running inventory is kept", self.load_timeout_s
            )
            return False
        except (RecursionError, MemoryError) as exc:  # one line, not a traceback; the process goes on
            self.rejected += 1
            log.error("inventory reload rejected (%s); the running inventory is kept", type(exc).__name__)
            return False
        except ConfigError as exc:
            self.rejected += 1
            new = [problem for problem in exc.problems if problem not in self._logged_problems]
            for problem in new:
                log.error("%s rejected: %s", self._subject(problem), problem)
            self._logged_problems.update(new)
            if new:
                log.error(
                    "inventory reload rejected (%d problems); the running inventory is kept",
                    len(exc.problems),
                )
            else:
                log.debug("inventory reload rejected again, same %d problems", len(exc.problems))
            return False
        except Exception:
            self.rejected += 1
            log.exception("inventory reload failed; the running inventory is kept")
            return False
        try:
            self.apply(inventory)
        except Exception:  # a bug here must not end the watcher (no later reload) nor crash the exit
            self.rejected += 1
            log.exception("inventory reload could not be applied; polling goes on")
            return False
        self.reloads += 1
        self._logged_problems.clear()
        return True


def _report_end(task: asyncio.Task[None]) -> None:
    # The watcher runs until the daemon stops; ending any other way means reloads stopped: say so.
    if task.cancelled():
        return
    exc = task.exception()
    log.error("inventory watcher stopped (%r): inventory changes are no longer applied; restart netpoll", exc)
