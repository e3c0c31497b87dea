"""A district's quota and file count, reserved atomically across sessions and receivers.

Every receiver on a home shares ``staging/<district>/``, so the ledger lives
there: an upload's reservation is the apparent size of its staging file
(extended sparse with ``ftruncate``: no disk blocks are used), and a
reservation is taken under an exclusive ``flock`` on ``.lock`` after summing
the other staging files. Uploads grow their reservation a chunk at a time, so
the lock is taken once per chunk, not per write.

What waits in the inbox is counted by a scan that runs at most every
``RECOUNT`` seconds in a worker thread, never per open; files this receiver
publishes are added at once. A file published by another receiver since the
last scan may be missed for up to ``RECOUNT`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

CHUNK = 4 * 1024 * 1024  # bytes reserved ahead of the writes (less under a small quota)
T = TypeVar("T")
RECOUNT = 2.0  # seconds an inbox count stays good
STAGED_SUFFIX = ".upload"


class QuotaExceeded(Exception):
    """The district's quota or file limit is reached; the message says which."""


class Ledger:
    """One district's inbox usage and reservations (one per district per receiver)."""

    def __init__(self, folder: Path, staging: Path, quota: int, max_files: int) -> None:
        self._folder = folder
        self._staging = staging
        self._quota = quota
        self._max_files = max_files
        self._bytes = 0
        self._files = 0
        self._counted_at = -RECOUNT
        # A 64th of the quota at most, so parallel uploads near a small quota share it.
        self._chunk = min(CHUNK, max(64 * 1024, quota // 64))

    # ---- what waits in the inbox -------------------------------------------

    async def refresh(self) -> None:
        """Recount the inbox in a worker thread when the last count is stale."""
        if time.monotonic() - self._counted_at >= RECOUNT:
            self._bytes, self._files = await asyncio.to_thread(_scan, self._folder)
            self._counted_at = time.monotonic()

    def waiting(self) -> tuple[int, int]:
        """(bytes, files) in the inbox at the last count."""
        return self._bytes, self._files

    def published(self, size: int) -> None:
        """A file of ``size`` bytes moved from staging into the inbox."""
        self._bytes += size
        self._files += 1

    # ---- reservations ------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[tuple[int, int]]:
        """Hold the district's lock; yields (bytes, files) staged by every receiver."""
        lock = self._staging.with_name(f".{self._staging.name}.lock")  # beside, not among
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield _scan(self._staging, STAGED_SUFFIX)
        finally:
            os.close(fd)  # also releases the lock

    def open_slot(self, create: Callable[[], T]) -> T:
        """Run ``create`` (which makes one staging file) if the district has room for a file."""
        with self._locked() as (staged_bytes, staged_files):
            if self._files + staged_files >= self._max_files:
                raise QuotaExceeded(f"the district has {self._max_files} files waiting already")
            if self._bytes + staged_bytes >= self._quota:
                raise QuotaExceeded("the district's upload quota is used up")
            return create()

    def reserve(self, fd: int, reserved: int, end: int) -> int:
        """Grow the reservation behind ``fd`` from ``reserved`` to cover ``end``; the new size."""
        with self._locked() as (staged_bytes, _):
            room = self._quota - self._bytes - (staged_bytes - reserved)
            if end > room:
                raise QuotaExceeded("the district's upload quota is used up")
            target = min(end + self._chunk, room)
            os.ftruncate(fd, target)
            return target


def _scan(folder: Path, suffix: str = "") -> tuple[int, int]:
    """(bytes, count) of the regular files in ``folder`` ending with ``suffix``."""
    total = count = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(suffix) and entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
                count += 1
    return total, count
