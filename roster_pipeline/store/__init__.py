"""Database access: SQLite (embedded default) and PostgreSQL behind one interface.

``open_store(url)`` returns a Store for ``sqlite:///path`` or ``postgresql://...``.
Roster tables carry ``district_id`` in every key. Besides them: ``districts``,
``batches``, ``batch_files``, ``rejects``, ``changes`` (one row per added /
updated / deleted record per batch), ``schema_version``. Schema changes are
versioned migrations. Writes of a batch happen in one transaction through the
engine's bulk path (ADBC ingest: COPY on PostgreSQL), never row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import polars as pl

from roster_pipeline.store.records import (
    BanRecord,
    BatchRecord,
    BatchStatus,
    DistrictRecord,
    FileRecord,
    TableCounts,
)

if TYPE_CHECKING:
    from datetime import datetime

    from roster_pipeline.stages.plan import Plan
    from sftp_server import UploadRecord

__all__ = [
    "BanRecord",
    "BatchRecord",
    "BatchStatus",
    "DistrictRecord",
    "FileRecord",
    "Store",
    "TableCounts",
    "open_store",
]


class Store(Protocol):
    url: str

    def migrate(self) -> None:
        """Create or upgrade the schema to the current version (idempotent)."""

    def schema_version(self) -> int:
        """The highest migration applied (0 before the first ``migrate``)."""
        ...

    def close(self) -> None: ...

    # districts
    def put_district(self, district: DistrictRecord) -> None:
        """Insert or replace the district's registry entry."""

    def district(self, slug: str) -> DistrictRecord:
        """Raises UnknownDistrictError."""
        ...

    def district_by_username(self, username: str) -> DistrictRecord | None: ...

    def districts(self) -> list[DistrictRecord]: ...

    def remove_district(self, slug: str, purge: bool) -> None:
        """Without purge: the registry entry goes, loaded rows and batch records stay."""

    # uploads the receiver published
    def record_upload(self, upload: UploadRecord) -> None: ...

    def last_upload(self, district: str) -> datetime | None: ...

    # the receiver's bans (time.time() seconds)
    def bans(self, now: float) -> list[BanRecord]:
        """Bans in force at ``now``, soonest end first."""
        ...

    def add_ban(self, address: str, until: float, reason: str) -> None: ...

    def lift_ban(self, address: str, now: float) -> bool:
        """End the ban of ``address``; False when none was in force."""
        ...

    # the loaded snapshot
    def snapshot(self, district: str, table: str, columns: Sequence[str]) -> pl.DataFrame:
        """Loaded rows of the district's table, ``columns`` as String; empty when none."""
        ...

    def table_counts(self, district: str) -> dict[str, int]:
        """Loaded rows per roster table of the district."""
        ...

    def last_hashes(self, district: str) -> dict[str, str]:
        """spec file name -> sha256 of the file of the last applied batch that carried it."""
        ...

    # batches, each call one transaction
    def save_batch(
        self, batch: BatchRecord, rejects: pl.DataFrame, plan: Plan | None = None
    ) -> None:
        """Record (insert or replace) the batch, its files and rejects; apply ``plan``
        (roster rows and change log) in the same transaction when given."""

    def batch(self, batch_id: str) -> BatchRecord:
        """Raises UnknownBatchError."""
        ...

    def batches(self, district: str | None = None, limit: int = 100) -> list[BatchRecord]:
        """Newest first."""
        ...

    def rejects(self, batch_id: str) -> pl.DataFrame: ...

    def changes(self, batch_id: str) -> pl.DataFrame:
        """Columns: table, key, op (added | updated | deleted)."""
        ...


def open_store(url: str) -> Store:
    """Open (not migrate) the store for a database URL.

    Raises DatabaseUnavailableError (URL with the password masked, and what to
    do) when the driver is missing or the database cannot be reached.
    """
    from roster_pipeline.store.sql_store import SqlStore

    return SqlStore(url)
