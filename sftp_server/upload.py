"""One file being received: its staging file, running size and checksum."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
from pathlib import Path

from asyncssh import SFTPOpUnsupported

from sftp_server.ledger import STAGED_SUFFIX

_CHUNK = 1024 * 1024


class Upload:
    """Bytes written at client-chosen offsets into a private staging file."""

    def __init__(self, name: str, staging_path: Path) -> None:
        self.name = name  # as the client sees it, without folder
        self.staging_path = staging_path
        self.started = dt.datetime.now(dt.UTC)
        self.size = 0
        self.reserved = 0  # bytes of the district's quota held: the staging file's apparent size
        self.refused = ""  # why a limit stopped it; never published when set
        self.closed = False  # the client closed its handle explicitly
        self._hash = hashlib.sha256()
        self._hashed = 0  # bytes fed to the hash, in order
        self._in_order = True
        self.fd = os.open(staging_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)  # held while we live: see sweep_orphans

    def write(self, offset: int, data: bytes) -> None:
        """Store ``data`` at ``offset``; hash on the fly while writes arrive in order."""
        os.pwrite(self.fd, data, offset)
        if self._in_order and offset == self._hashed:
            self._hash.update(data)
            self._hashed += len(data)
        elif self._in_order:
            self._in_order = False
        self.size = max(self.size, offset + len(data))

    def truncate(self, size: int) -> None:
        """Cut (or extend with zeros) what was written to ``size`` bytes."""
        if size < self.size:
            os.ftruncate(self.fd, size)  # drops written bytes; the reservation shrinks too
            self.reserved = size
        self.size = size
        if self._hashed != size:
            self._in_order = False  # the running hash no longer matches: rehash at finish

    def seek(self, offset: int, whence: int = 0) -> int:
        """Never: asyncssh's ``ranges@asyncssh.com`` seeks handles to find data; not ours."""
        raise SFTPOpUnsupported("not supported on uploads")

    def trim(self) -> None:
        """Give back the quota reserved beyond what was written."""
        if self.fd >= 0 and self.reserved > self.size:
            os.ftruncate(self.fd, self.size)
            self.reserved = self.size

    def finish(self) -> str:
        """Close the staging file and return its sha256 hex digest."""
        self.trim()
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
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def sweep_orphans(staging_root: Path) -> tuple[int, int]:
    """Delete staging files no process is writing (a crash left them); (files, bytes).

    Every live upload holds an exclusive ``flock`` on its staging file, so a
    file whose lock can be taken belongs to nobody: this is safe while other
    receivers on the same home are uploading.
    """
    files = size = 0
    for path in staging_root.glob(f"*/.*{STAGED_SUFFIX}"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live upload
        else:
            size += os.fstat(fd).st_blocks * 512
            path.unlink(missing_ok=True)
            files += 1
        finally:
            os.close(fd)
    return files, size
