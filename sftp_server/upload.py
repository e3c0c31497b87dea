"""One file being received: its staging file, running size and checksum."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

_CHUNK = 1024 * 1024


class Upload:
    """Bytes written at client-chosen offsets into a private staging file."""

    def __init__(self, name: str, staging_path: Path) -> None:
        self.name = name  # as the client sees it, without folder
        self.staging_path = staging_path
        self.started = dt.datetime.now(dt.UTC)
        self.size = 0
        self.quota_left = 0  # bytes this upload may reach, set at open
        self.refused = ""  # why a limit stopped it; never published when set
        self.closed = False  # the client closed its handle explicitly
        self._hash = hashlib.sha256()
        self._hashed = 0  # bytes fed to the hash, in order
        self._in_order = True
        self._fd = os.open(staging_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)

    def write(self, offset: int, data: bytes) -> None:
        """Store ``data`` at ``offset``; hash on the fly while writes arrive in order."""
        os.pwrite(self._fd, data, offset)
        if self._in_order and offset == self._hashed:
            self._hash.update(data)
            self._hashed += len(data)
        elif self._in_order:
            self._in_order = False
        self.size = max(self.size, offset + len(data))

    def finish(self) -> str:
        """Close the staging file and return its sha256 hex digest."""
        self._close_fd()
        if self._in_order and self._hashed == self.size:
            return self._hash.hexdigest()
        digest = hashlib.sha256()
        with self.staging_path.open("rb") as staged:
            while chunk := staged.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def discard(self) -> None:
        """Close and delete the staging file."""
        self._close_fd()
        self.staging_path.unlink(missing_ok=True)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
