"""The seam to the pipeline: who may log in, and what to do after an upload.

The receiver never stores accounts itself. The pipeline implements
:class:`Accounts` (``roster_pipeline.districts``) and hands it to
:func:`sftp_server.start_receiver`. Both methods are called from worker threads,
so an implementation may block (database queries) but must be thread-safe.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class Account:
    """One SFTP login. ``district`` is the folder name under the inbox root."""

    username: str
    district: str
    password_hash: str = ""  # argon2id (see passwords.hash_password); empty: key-only
    authorized_keys: tuple[str, ...] = ()  # authorized_keys lines
    allowed_cidrs: tuple[str, ...] = ()  # empty: any address
    enabled: bool = True


@dataclasses.dataclass(frozen=True)
class Algorithms:
    """What the client and we agreed on for this connection."""

    kex: str
    cipher: str
    mac: str
    host_key: str


@dataclasses.dataclass(frozen=True)
class UploadRecord:
    """One published file: what arrived, from where, over what, and when."""

    district: str
    username: str
    original_name: str
    published_path: Path
    size: int
    sha256: str
    client_address: str
    client_version: str
    algorithms: Algorithms
    started: dt.datetime
    finished: dt.datetime


class Accounts(Protocol):
    """What the receiver asks of the pipeline."""

    def lookup(self, username: str) -> Account | None:
        """The account for ``username``, or None when there is none."""
        ...

    def on_upload(self, record: UploadRecord) -> None:
        """Called once per file after it was published into the inbox."""
        ...
