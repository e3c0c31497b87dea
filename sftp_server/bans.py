"""Where bans live: in memory by default, or in the pipeline's database (shared, persistent).

A ban is an address and the wall-clock time it ends. The receiver keeps a copy in
memory for admission (no query per connection) and refreshes it from the store
every few seconds, so receivers sharing a store share their bans and a lifted
ban is lifted everywhere soon after.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol

from sftp_server.addresses import AddressBook
from sftp_server.audit import AuditLog


class BanStore(Protocol):
    """Persistent bans; called from worker threads, so an implementation may block."""

    def active_bans(self, now: float) -> dict[str, float]:
        """Address -> end of its ban (``time.time()`` seconds), for bans ending after ``now``."""
        ...

    def add_ban(self, address: str, until: float, reason: str) -> None:
        """Ban ``address`` until ``until``; a later end replaces an earlier one."""
        ...


class MemoryBans:
    """Bans for one process, lost at restart: the default when no store is given."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def active_bans(self, now: float) -> dict[str, float]:
        with self._lock:
            return {a: u for a, u in self._until.items() if u > now}

    def add_ban(self, address: str, until: float, reason: str) -> None:
        with self._lock:
            self._until[address] = max(until, self._until.get(address, 0.0))


class BanKeeper:
    """Scores failures into bans, writes bans through to the store, reads others' bans back."""

    REFRESH = 2.0  # seconds: how soon a ban or a lift from elsewhere takes effect here

    def __init__(self, addresses: AddressBook, store: BanStore, audit: AuditLog) -> None:
        self._addresses = addresses
        self._store = store
        self._audit = audit
        self._task: asyncio.Task[None] | None = None

    def score(self, address: str, kind: str) -> bool:
        """Count a failure; when it earns a ban, log it and persist it (off the loop)."""
        until = self._addresses.record_failure(address, kind)
        if until is None:
            return False
        self._audit.write("banned", address=address, kind=kind, until=until)
        asyncio.get_running_loop().create_task(self._save(address, until, kind))
        return True

    async def _save(self, address: str, until: float, kind: str) -> None:
        try:
            await asyncio.to_thread(self._store.add_ban, address, until, kind)
            self._addresses.saved(address)
        except Exception as exc:  # the ban holds here either way; say it was not shared
            self._audit.write("ban_not_saved", address=address, error=repr(exc))

    async def refresh(self) -> None:
        """Take the store's bans now."""
        try:
            bans = await asyncio.to_thread(self._store.active_bans, time.time())
        except Exception as exc:  # keep the bans we have; try again next round
            self._audit.write_limited("ban_refresh_failed", "", error=repr(exc))
            return
        self._addresses.load_bans(bans)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.REFRESH)
            await self.refresh()

    async def start(self) -> None:
        """Load the bans in force, then keep them fresh."""
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    def stop(self) -> None:
        """Stop refreshing."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
