"""An upload-only, per-account chrooted SFTP receiver on asyncssh. Knows nothing of CSV.

The pipeline implements :class:`Accounts`, creates host keys once with
:func:`ensure_host_keys`, and runs :func:`start_receiver` (or :func:`run`).
Complete uploads appear in ``<inbox_root>/<district>/`` as
``20261122T030012Z-users.csv``; :func:`original_name` recovers ``users.csv``.

Each name loads its module on first use (PEP 562): a program that only reads
upload records or inbox names does not pay for asyncssh and argon2 at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sftp_server.accounts import Account, Accounts, Algorithms, UploadRecord
    from sftp_server.audit import AuditLog
    from sftp_server.bans import BanStore, MemoryBans
    from sftp_server.hostkeys import (
        KEY_TYPES,
        HostKeyError,
        add_host_key,
        ensure_host_keys,
        fingerprints,
        load_host_keys,
        retire_host_key,
    )
    from sftp_server.inbox import is_temp_name, original_name, published_name
    from sftp_server.limits import Limits
    from sftp_server.passwords import (
        generate_password,
        hash_password,
        verify,
        verify_unknown_user,
    )
    from sftp_server.server import Receiver, ReceiverConfig, run, start_receiver

__all__ = [
    "KEY_TYPES",
    "Account",
    "Accounts",
    "Algorithms",
    "AuditLog",
    "BanStore",
    "HostKeyError",
    "Limits",
    "MemoryBans",
    "Receiver",
    "ReceiverConfig",
    "UploadRecord",
    "add_host_key",
    "ensure_host_keys",
    "fingerprints",
    "generate_password",
    "hash_password",
    "is_temp_name",
    "load_host_keys",
    "original_name",
    "published_name",
    "retire_host_key",
    "run",
    "start_receiver",
    "verify",
    "verify_unknown_user",
]

#: exported name -> the module that defines it
_HOMES = {
    **dict.fromkeys(("Account", "Accounts", "Algorithms", "UploadRecord"), "accounts"),
    **dict.fromkeys(
        ("KEY_TYPES", "HostKeyError", "add_host_key", "ensure_host_keys", "fingerprints",
         "load_host_keys", "retire_host_key"),
        "hostkeys",
    ),
    **dict.fromkeys(("is_temp_name", "original_name", "published_name"), "inbox"),
    "AuditLog": "audit",
    "Limits": "limits",
    **dict.fromkeys(("BanStore", "MemoryBans"), "bans"),
    **dict.fromkeys(("generate_password", "hash_password", "verify", "verify_unknown_user"),
                    "passwords"),
    **dict.fromkeys(("Receiver", "ReceiverConfig", "run", "start_receiver"), "server"),
}  # fmt: skip


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sftp_server' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sftp_server.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
