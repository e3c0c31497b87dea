"""Records the store reads and writes: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import polars as pl


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
    ROLLED_BACK = "rolled_back"  # was applied; `roster batch rollback` undid its changes

    @property
    def finished(self) -> bool:
        """No longer being formed or worked on."""
        return self not in UNFINISHED

    @property
    def applied(self) -> bool:
        """Its rows were loaded (the district's data is as this batch left it)."""
        return self in APPLIED


#: A batch being formed or worked on: its folder is in processing/.
UNFINISHED = frozenset({BatchStatus.RECEIVED, BatchStatus.PROCESSING})
#: A batch whose rows were loaded.
APPLIED = frozenset({BatchStatus.LOADED, BatchStatus.LOADED_WITH_REJECTS})


def sql_list(statuses: frozenset[BatchStatus]) -> str:
    """``('a', 'b')``: a group of statuses for a SQL ``IN`` (enum values, no user text)."""
    return "(" + ", ".join(f"'{s}'" for s in sorted(statuses)) + ")"


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
    left_out: int = 0  # rows the SIS marks not active (inactive students, dropped classes)


@dataclass(frozen=True)
class TableChanges:
    """What a batch changes in one roster table: the store's side of a plan.

    ``added`` and ``updated`` hold full rows (``columns``), ``deleted`` the key
    columns only; ``loaded_before`` is how many rows the district had there.
    """

    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    added: pl.DataFrame
    updated: pl.DataFrame
    deleted: pl.DataFrame
    loaded_before: int


@dataclass(frozen=True)
class ChangeSpan:
    """One write to a district's roster tables: a batch applied, or a batch rolled back.

    Its change rows are those of ``batch_no`` with ids in ``first_change`` ..
    ``last_change`` (other districts' rows may interleave on PostgreSQL). Spans are
    numbered in the order they were committed for the district (its claim keeps them
    apart), which on PostgreSQL need not be the order of the change ids.
    """

    span_id: int
    district: str
    batch_id: str
    batch_no: int
    kind: str  # one of SPAN_KINDS
    first_change: int
    last_change: int
    at: datetime


#: apply: a batch's changes with before-images; rollback: the compensating changes of
#: one; legacy: applied before row versions were kept (no before-images, cannot be undone).
SPAN_KINDS = ("apply", "rollback", "legacy")


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
    mode: str = "bulk"  # how the files applied: bulk (full lists) or delta (changes)


@dataclass(frozen=True)
class BanRecord:
    """An address the receiver turns away until ``until``, and why."""

    address: str
    until: datetime
    reason: str  # the kind of failure that tipped it over (password, superseded, ...)
    banned_at: datetime


#: Event levels, most severe first; errors are always recorded.
LEVELS = ("error", "warning", "info", "diagnostic")


@dataclass(frozen=True)
class EventRecord:
    """One entry of the event log (`roster events`): what happened, how severe, where."""

    at: datetime
    level: str  # one of LEVELS
    code: str  # stable, e.g. batch_rejected, system_disabled
    message: str
    district: str | None = None
    batch_id: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)
    event_id: int | None = None


@dataclass(frozen=True)
class StoredSetting:
    """A system setting's value as `roster system set` stored it (JSON), and by whom."""

    key: str
    value: object
    updated_at: datetime
    updated_by: str
