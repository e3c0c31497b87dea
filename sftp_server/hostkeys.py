"""Host keys: generated once, kept 0600, never replaced behind anyone's back.

Districts pin our fingerprint at PowerSchool's "Test Connection"; a key that
changes silently breaks every nightly push. So an existing key file is only
ever read; ``init`` creates the first key of each type; a rotation adds a
second key of a type beside the first (``ssh_host_ed25519_key-2``), which the
receiver announces (``hostkeys-00@openssh.com``) so OpenSSH clients learn it;
retiring a key moves its files to ``retired/``. A key file that disappeared is
never recreated by the receiver: it refuses to start and says what to restore.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncssh

# type name (as `roster hostkey add TYPE` takes it) -> (asyncssh alg, RSA bits, file name)
KEY_TYPES: dict[str, tuple[str, int, str]] = {
    "ed25519": ("ssh-ed25519", 0, "ssh_host_ed25519_key"),
    "ecdsa": ("ecdsa-sha2-nistp256", 0, "ssh_host_ecdsa_key"),
    "rsa": ("ssh-rsa", 3072, "ssh_host_rsa_key"),
}
DEFAULT_TYPES = ("ed25519", "ecdsa", "rsa")
_KEY_FILE = re.compile(r"^ssh_host_(?P<type>[a-z0-9]+)_key(?:-(?P<n>\d+))?$")


class HostKeyError(Exception):
    """A host key type is unknown, a key file is missing or cannot be read."""


def _check_type(key_type: str) -> None:
    if key_type not in KEY_TYPES:
        known = ", ".join(KEY_TYPES)
        raise HostKeyError(f"unknown host key type {key_type!r}; choose one of {known}")


def key_files(directory: Path) -> list[Path]:
    """Private key files: each type's first key in ``KEY_TYPES`` order, then rotation keys."""
    if not directory.is_dir():
        return []
    order = {KEY_TYPES[t][2]: i for i, t in enumerate(KEY_TYPES)}
    found = [p for p in directory.iterdir() if _KEY_FILE.match(p.name)]
    return sorted(found, key=lambda p: ("-" in p.name, order.get(p.name, 99), p.name))


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: if another process won the race, its key stands and ours is dropped.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _generate(path: Path, key_type: str) -> bool:
    """Write a new key of ``key_type`` at ``path`` unless one exists; True when written.

    A ``.pub`` without its private file is a lost key, not a free slot: it is
    left for :func:`load_host_keys` to report.
    """
    if path.exists() or path.with_name(path.name + ".pub").exists():
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


def _missing(directory: Path) -> list[Path]:
    """Private key files whose public half is still there: lost, not retired."""
    return sorted(
        pub.with_suffix("")
        for pub in directory.glob("ssh_host_*.pub")
        if not pub.with_suffix("").exists()
    )


def load_host_keys(directory: Path) -> list[asyncssh.SSHKey]:
    """Every host key in ``directory`` (first keys first); a lost key file is an error."""
    import asyncssh

    lost = _missing(directory) if directory.is_dir() else []
    if lost:
        names = ", ".join(str(p) for p in lost)
        raise HostKeyError(
            f"host key file missing: {names} (its .pub is still there). Districts pinned"
            " this key: restore the file from your backup (mode 0600). A new key would"
            " break every district that pinned it, so none is created here; if it is"
            " truly lost, delete the .pub and run `roster init`, then tell the districts."
        )
    keys = []
    for path in key_files(directory):
        try:
            keys.append(asyncssh.read_private_key(path))
        except (OSError, asyncssh.KeyImportError) as exc:
            raise HostKeyError(f"cannot read host key {path}: {exc}") from None
    return keys


def ensure_host_keys(directory: Path) -> list[asyncssh.SSHKey]:
    """Create Ed25519, ECDSA P-256 and RSA 3072 keys where none exists; return all keys."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for key_type in DEFAULT_TYPES:
        _generate(directory / KEY_TYPES[key_type][2], key_type)
    return load_host_keys(directory)


def add_host_key(directory: Path, key_type: str) -> asyncssh.SSHKey:
    """Add a new key of ``key_type``: the first of its type, or a rotation key beside it."""
    import asyncssh

    _check_type(key_type)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = directory / KEY_TYPES[key_type][2]
    path, n = base, 1
    while path.exists() or path.with_name(path.name + ".pub").exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    _generate(path, key_type)
    try:
        return asyncssh.read_private_key(path)
    except (OSError, asyncssh.KeyImportError) as exc:
        raise HostKeyError(f"cannot read host key {path}: {exc}") from None


def retire_host_key(directory: Path, fingerprint: str) -> Path:
    """Move the key with ``fingerprint`` to ``retired/``; a rotation key takes its place."""
    keys = dict(zip((k.get_fingerprint("sha256") for k in load_host_keys(directory)),
                    key_files(directory), strict=True))  # fmt: skip
    path = keys.get(fingerprint)
    if path is None:
        raise HostKeyError(f"no host key has the fingerprint {fingerprint}")
    if len(keys) == 1:
        raise HostKeyError("that is the last host key; add another before retiring it")
    retired = directory / "retired"
    retired.mkdir(exist_ok=True, mode=0o700)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = retired / f"{path.name}.{stamp}"
    os.replace(path.with_name(path.name + ".pub"), target.with_name(target.name + ".pub"))
    os.replace(path, target)
    _promote_rotation_key(directory, path)
    return target


def _promote_rotation_key(directory: Path, first: Path) -> None:
    """After the first key of a type is retired, its oldest rotation key becomes the first."""
    if "-" in first.name:
        return
    successors = sorted(
        directory.glob(f"{first.name}-*[0-9]"), key=lambda p: int(p.name.rsplit("-", 1)[1])
    )
    if successors:  # private half first: a .pub without it would read as a lost key
        heir = successors[0]
        os.replace(heir, first)
        os.replace(heir.with_name(heir.name + ".pub"), first.with_name(first.name + ".pub"))


def fingerprints(directory: Path) -> list[tuple[str, str]]:
    """``[(algorithm, "SHA256:...")]`` for each key, as ``ssh-keygen -l`` prints them."""
    return [
        (key.get_algorithm(), key.get_fingerprint("sha256")) for key in load_host_keys(directory)
    ]
