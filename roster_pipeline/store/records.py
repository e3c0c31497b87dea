"""Records the store reads and writes: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["BatchRecord", "BatchStatus", "DistrictRecord", "FileRecord", "TableCounts"]


class BatchStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    LOADED = "loaded"
    LOADED_WITH_REJECTS = "loaded_with_rejects"
    REJECTED = "rejected"
    HELD = "held"
    APPROVED = "approved"
    DISCARDED = "discarded"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class DistrictRecord:
    """A provisioned district: its registry entry, SFTP account and settings.

    ``settings`` holds per-district overrides (max_delete_pct, max_update_pct,
    settle_seconds, expect_every_hours, retention_days, encoding, aliases, ...)
    as plain JSON values; absent keys fall back to the deployment Settings.
    """

    slug: str
    name: str = ""
    spec: str = "roster-csv"
    username: str = ""
    password_hash: str = ""  # argon2id; empty: no password login
    public_keys: tuple[str, ...] = ()  # authorized_keys lines
    allow_ips: tuple[str, ...] = ()  # CIDRs; empty: any address
    enabled: bool = True
    paused: bool = False
    settings: Mapping[str, object] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class FileRecord:
    """One received file of a batch."""

    name: str
    file_spec: str | None  # the spec file it matched; None when it matched none
    sha256: str
    size: int
    rows: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class TableCounts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class BatchRecord:
    batch_id: str
    district: str
    status: BatchStatus
    received_at: datetime
    finished_at: datetime | None = None
    source: str = ""  # what the batch was made from (zip name, folder, "3 loose files")
    files: tuple[FileRecord, ...] = ()
    counts: Mapping[str, TableCounts] = field(default_factory=dict)
    rejects: int = 0
    report_path: str = ""
    hold_reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # extra columns, files that matched no spec file, ...
    message: str = ""  # one line for people: why rejected/held, what happens next


@dataclass(frozen=True)
class BanRecord:
    """An address the receiver turns away until ``until``, and why."""

    address: str
    until: datetime
    reason: str  # the kind of failure that tipped it over (password, superseded, ...)
    banned_at: datetime
