"""Inventory reload on SIGHUP and when an inventory file changes.

The watcher polls the modification time and size of every inventory file (and of the directories given,
so added or removed files count) every few seconds; a change, or SIGHUP, loads the inventory again with
the same loader ``netpoll check`` uses. A valid new inventory is handed to ``apply``; a broken one is
rejected: its problems are logged one per line, exactly as ``netpoll check`` prints them, and the running
inventory stays in force until the files change again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from netpoll import defaults
from netpoll.errors import ConfigError
from netpoll.inventory.models import Inventory

log = logging.getLogger("netpoll.daemon.reload")

Loader = Callable[[Sequence[Path]], Inventory]
Apply = Callable[[Inventory], None]
Signature = dict[str, tuple[int, int]]


def file_signature(paths: Sequence[Path]) -> Signature:
    """(mtime_ns, size) of every path (directories: of their ``*.yaml``/``*.yml`` files too)."""
    sig: Signature = {}
    for path in paths:
        candidates = [path]
        if path.is_dir():
            candidates += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        for candidate in candidates:
            try:
                st = os.stat(candidate)
            except OSError:
                sig[str(candidate)] = (-1, -1)
                continue
            sig[str(candidate)] = (st.st_mtime_ns, st.st_size)
    return sig


class InventoryWatcher:
    """Async context manager that reloads the inventory on change or SIGHUP.

    Args:
        paths: the inventory files or directories the daemon was started with.
        loader: ``load_inventory``.
        apply: called with every valid new inventory, in the event loop.
        poll_s: how often modification times are checked.
    """

    def __init__(
        self, paths: Sequence[Path], loader: Loader, apply: Apply, poll_s: float = defaults.RELOAD_POLL_S
    ) -> None:
        self.paths = list(paths)
        self.loader = loader
        self.apply = apply
        self.poll_s = poll_s
        self.reloads = 0
        self.rejected = 0
        self._signature = file_signature(self.paths)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._hup_installed = False

    def watch_files(self, files: Sequence[str]) -> None:
        """Also watch these files (the ones the loader actually read, e.g. includes)."""
        known = {Path(p) for p in self.paths}
        self.paths += [Path(f) for f in files if Path(f) not in known]
        self._signature = file_signature(self.paths)

    def trigger(self) -> None:
        """Reload now (what SIGHUP does)."""
        self._wake.set()

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self._on_hup)
            self._hup_installed = True
        self._task = asyncio.create_task(self._run(), name="inventory-watcher")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._hup_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_hup(self) -> None:
        log.info("SIGHUP: reloading the inventory")
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            forced = self._wake.is_set()
            self._wake.clear()
            signature = await asyncio.to_thread(file_signature, self.paths)
            if not forced and signature == self._signature:
                continue
            self._signature = signature
            await self.reload()

    async def reload(self) -> bool:
        """Load the inventory again and apply it; False (and the running one kept) when it is broken."""
        try:
            inventory = await asyncio.to_thread(self.loader, self.paths)
        except ConfigError as exc:
            self.rejected += 1
            for problem in exc.problems:
                log.error("inventory rejected: %s", problem)
            log.error(
                "inventory reload rejected (%d problems); the running inventory is kept", len(exc.problems)
            )
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
        return True
