"""The home's SSH host keys: sftp_server's key files, their failures as RosterErrors.

sftp_server knows nothing of roster_pipeline, so its HostKeyError is outside
our exception tree; every use of the keys goes through here, where a corrupt or
unreadable key file becomes one line saying what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sftp_server
from roster_pipeline.errors import HostKeyFileError, StorageError

KEY_TYPES = tuple(sftp_server.KEY_TYPES)


def ensure(folder: Path) -> None:
    """Create the missing default host keys; existing ones are read, never replaced."""
    with _usable(folder):
        sftp_server.ensure_host_keys(folder)


def add(folder: Path, key_type: str) -> None:
    """Add a host key of ``key_type`` beside the others, for a planned rotation."""
    with _usable(folder):
        sftp_server.add_host_key(folder, key_type)


def fingerprints(folder: Path) -> list[tuple[str, str]]:
    """``[(algorithm, "SHA256:...")]`` of every key; none when the folder is absent."""
    if not folder.is_dir():
        return []
    with _usable(folder):
        return sftp_server.fingerprints(folder)


@contextmanager
def _usable(folder: Path) -> Iterator[None]:
    try:
        yield
    except sftp_server.HostKeyError as exc:
        problem = str(exc).splitlines()[0]
        raise HostKeyFileError(
            f"{problem}; districts pin this key's fingerprint, so restore the file from a"
            " backup (or move it away: a new key is made, and every district must accept it)"
        ) from None
    except OSError as exc:
        raise StorageError(f"cannot use the host keys in {folder}: {exc}") from None
