"""The home's SSH host keys: sftp_server's key files, their failures as RosterErrors.

sftp_server knows nothing of roster_pipeline, so its HostKeyError is outside
our exception tree; every use of the keys goes through here, where a corrupt,
unreadable or lost key file becomes one line saying what to do. Adding and
retiring a key are written to the receiver's audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sftp_server
from roster_pipeline.errors import HostKeyFileError, NotFoundError, StorageError

KEY_TYPES = tuple(sftp_server.KEY_TYPES)


def ensure(folder: Path) -> None:
    """Create the missing default host keys; existing ones are read, never replaced."""
    with usable(folder):
        sftp_server.ensure_host_keys(folder)


def add(folder: Path, key_type: str, audit_log: Path) -> str:
    """Add a host key of ``key_type`` beside the others (a rotation); its fingerprint.

    The keys there are read first: a broken key file is reported, not joined by another.
    """
    fingerprints(folder)
    with usable(folder):
        key = sftp_server.add_host_key(folder, key_type)
    fingerprint = key.get_fingerprint("sha256")
    _audit(audit_log, "hostkey_added", algorithm=key.get_algorithm(), fingerprint=fingerprint)
    return fingerprint


def retire(folder: Path, fingerprint: str, audit_log: Path) -> Path:
    """Stop serving the key with ``fingerprint``; its files go to ``retired/`` (returned)."""
    fingerprints(folder)  # a broken key file is reported before anything moves
    try:
        moved = sftp_server.retire_host_key(folder, fingerprint)
    except sftp_server.HostKeyError as exc:  # an unknown fingerprint, or the last key
        raise NotFoundError(f"{exc}; see `roster hostkey fingerprints`") from None
    except OSError as exc:
        raise StorageError(f"cannot retire the host key in {folder}: {exc}") from None
    _audit(audit_log, "hostkey_retired", fingerprint=fingerprint, kept_in=moved)
    return moved


def fingerprints(folder: Path) -> list[tuple[str, str]]:
    """``[(algorithm, "SHA256:...")]`` of every key; none when the folder is absent."""
    if not folder.is_dir():
        return []
    with usable(folder):
        return sftp_server.fingerprints(folder)


@contextmanager
def usable(folder: Path) -> Iterator[None]:
    """sftp_server's host key failures inside this block, as RosterErrors."""
    try:
        yield
    except sftp_server.HostKeyError as exc:
        problem = str(exc).splitlines()[0]
        if "restore" not in problem:  # a lost file's message already says what to restore
            problem += (
                "; districts pin this key's fingerprint, so restore the file from a backup"
                " (or move it away: a new key is made, and every district must accept it)"
            )
        raise HostKeyFileError(problem) from None
    except OSError as exc:
        raise StorageError(f"cannot use the host keys in {folder}: {exc}") from None


def _audit(path: Path, event: str, **fields: object) -> None:
    log = sftp_server.AuditLog(path)
    try:
        log.write(event, **fields)
    finally:
        log.close()
