"""Host keys: generated once, kept 0600, never replaced behind anyone's back.

Districts pin our fingerprint at PowerSchool's "Test Connection"; a key that
changes silently breaks every nightly push. So an existing key file is only
ever read, and a new type is added beside the others for planned rotation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncssh

# type name (as `roster hostkey add TYPE` takes it) -> (asyncssh alg, options, file name)
KEY_TYPES: dict[str, tuple[str, int, str]] = {  # (alg, RSA bits, file name)
    "ed25519": ("ssh-ed25519", 0, "ssh_host_ed25519_key"),
    "ecdsa": ("ecdsa-sha2-nistp256", 0, "ssh_host_ecdsa_key"),
    "rsa": ("ssh-rsa", 3072, "ssh_host_rsa_key"),
}
DEFAULT_TYPES = ("ed25519", "ecdsa", "rsa")


class HostKeyError(Exception):
    """A host key type is unknown, or a key file cannot be read."""


def _key_path(directory: Path, key_type: str) -> Path:
    if key_type not in KEY_TYPES:
        known = ", ".join(KEY_TYPES)
        raise HostKeyError(f"unknown host key type {key_type!r}; choose one of {known}")
    return directory / KEY_TYPES[key_type][2]


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: if another process won the race, its key stands and ours is dropped.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _generate(directory: Path, key_type: str) -> bool:
    """Write a new key of ``key_type`` unless one exists; True when one was written."""
    path = _key_path(directory, key_type)
    if path.exists():
        return False
    import asyncssh  # here, not at the top: listing key types needs no crypto library

    alg, bits, _ = KEY_TYPES[key_type]
    key = (
        asyncssh.generate_private_key(alg, key_size=bits)
        if bits
        else asyncssh.generate_private_key(alg)
    )
    try:
        _write_private(path, key.export_private_key("openssh"))
    except FileExistsError:
        return False
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key("openssh"))
    return True


def load_host_keys(directory: Path) -> list[asyncssh.SSHKey]:
    """Every host key present in ``directory``, in the order of ``KEY_TYPES``."""
    import asyncssh

    keys = []
    for key_type in KEY_TYPES:
        path = _key_path(directory, key_type)
        if path.exists():
            try:
                keys.append(asyncssh.read_private_key(path))
            except (OSError, asyncssh.KeyImportError) as exc:
                raise HostKeyError(f"cannot read host key {path}: {exc}") from None
    return keys


def ensure_host_keys(directory: Path) -> list[asyncssh.SSHKey]:
    """Create Ed25519, ECDSA P-256 and RSA 3072 keys where missing; return all keys."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for key_type in DEFAULT_TYPES:
        _generate(directory, key_type)
    return load_host_keys(directory)


def add_host_key(directory: Path, key_type: str) -> asyncssh.SSHKey:
    """Add a key of ``key_type`` beside the others; an existing one is kept and returned."""
    import asyncssh

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _generate(directory, key_type)
    path = _key_path(directory, key_type)
    try:
        return asyncssh.read_private_key(path)
    except (OSError, asyncssh.KeyImportError) as exc:
        raise HostKeyError(f"cannot read host key {path}: {exc}") from None


def fingerprints(directory: Path) -> list[tuple[str, str]]:
    """``[(algorithm, "SHA256:...")]`` for each key, as ``ssh-keygen -l`` prints them."""
    return [
        (key.get_algorithm(), key.get_fingerprint("sha256")) for key in load_host_keys(directory)
    ]
