"""A district's inbox: where complete uploads are published, under names that never collide.

Staging lives under a separate root on the same filesystem, so publishing is one
``os.replace`` and a half-written file is never visible in the inbox.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
import uuid
from pathlib import Path

from sftp_server.limits import DEFAULT_TEMP_NAMES

MAX_NAME_BYTES = 200  # leaves room for the timestamp prefix within NAME_MAX (255)
_PUBLISHED = re.compile(r"^\d{8}T\d{6}Z(?:-\d+)?-(?P<original>.+)$")


def valid_name(name: str, temp_names: tuple[str, ...] = DEFAULT_TEMP_NAMES) -> bool:
    """A plain file name a district may upload: no path, no control bytes, not hidden.

    A hidden name that is a temporary name (lftp's ``.in.users.csv``) is fine:
    it is published under the name it is renamed to.
    """
    return (
        bool(name)
        and "/" not in name
        and (not name.startswith(".") or is_temp_name(name, temp_names))
        and name not in {".", ".."}
        and len(name.encode("utf-8")) <= MAX_NAME_BYTES
        and all(ch.isprintable() for ch in name)
    )


def is_temp_name(name: str, temp_names: tuple[str, ...] = DEFAULT_TEMP_NAMES) -> bool:
    """True for names clients upload to before renaming (``users.csv.filepart``)."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in temp_names)


def published_name(original: str, when: dt.datetime, counter: int = 0) -> str:
    """``20261122T030012Z-users.csv``; with a counter, ``20261122T030012Z-2-users.csv``."""
    stamp = when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{counter}-{original}" if counter else f"{stamp}-{original}"


def original_name(published: str) -> str:
    """The name the district uploaded, from a published name (unchanged if not one)."""
    match = _PUBLISHED.match(published)
    return match.group("original") if match else published


class Inbox:
    """``<inbox_root>/<district>/`` and its private staging area."""

    def __init__(self, inbox_root: Path, staging_root: Path, district: str) -> None:
        self.folder = inbox_root / district
        self.staging = staging_root / district
        for folder in (self.folder, self.staging):  # nobody else reads districts' files
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder.chmod(0o700)  # whatever the umask or an older version left

    def new_staging_path(self) -> Path:
        """A fresh, unique path in the staging area."""
        return self.staging / f".{uuid.uuid4().hex}.upload"

    def publish(self, staged: Path, original: str, when: dt.datetime) -> Path:
        """Move ``staged`` into the inbox under a new unique name; return where it went."""
        # Check and replace run with no await between them, and nothing else
        # writes here, so the name found free is still free when we replace.
        counter = 0
        target = self.folder / published_name(original, when)
        while os.path.lexists(target):
            counter += 1
            target = self.folder / published_name(original, when, counter)
        os.replace(staged, target)
        return target
