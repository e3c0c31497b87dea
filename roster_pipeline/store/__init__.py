"""Database access: SQLite (embedded default) and PostgreSQL behind one interface.

``open_store(url)`` returns a Store for ``sqlite:///path`` or ``postgresql://...``.
Roster tables carry ``district_id`` in every key. Besides them: ``districts``,
``batches``, ``batch_files``, ``rejects``, ``changes`` (one row per added /
updated / deleted record per batch, with the record as it was before),
``change_spans`` (each batch applied or rolled back: store.versions),
``district_claims``, ``schema_version``. Schema changes are
versioned migrations. Writes of a batch happen in one transaction through the
engine's bulk path (ADBC ingest: COPY on PostgreSQL), never row by row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import polars as pl

from roster_pipeline.store.accounts import Accounts, OperatorRow, SessionRow
from roster_pipeline.store.console import (
    Console,
    DistrictFacts,
    LatestBatch,
    RecentBatch,
    RejectFilter,
    RejectGroup,
    RejectRow,
)
from roster_pipeline.store.dialect import mask_url, sqlite_path
from roster_pipeline.store.queue import BatchQueue, Claim, worker_name
from roster_pipeline.store.records import (
    LEVELS,
    BanRecord,
    BatchRecord,
    BatchStatus,
    ChangeSpan,
    DistrictRecord,
    EventRecord,
    FileRecord,
    StoredSetting,
    TableChanges,
    TableCounts,
)
from roster_pipeline.store.schema import MIGRATIONS, roster_table
from roster_pipeline.store.snapshots import ReadAhead
from roster_pipeline.store.versions import Versions

if TYPE_CHECKING:
    from datetime import datetime

    from sftp_server import UploadRecord

__all__ = [
    "LEVELS",
    "MIGRATIONS",
    "Accounts",
    "BanRecord",
    "BatchQueue",
    "BatchRecord",
    "BatchStatus",
    "ChangeSpan",
    "Claim",
    "Console",
    "DistrictFacts",
    "DistrictRecord",
    "EventRecord",
    "FileRecord",
    "LatestBatch",
    "OperatorRow",
    "ReadAhead",
    "RecentBatch",
    "RejectFilter",
    "RejectGroup",
    "RejectRow",
    "SessionRow",
    "Store",
    "StoredSetting",
    "TableChanges",
    "TableCounts",
    "Versions",
    "mask_url",
    "open_store",
    "roster_table",
    "sqlite_path",
    "worker_name",
]


class Store(Protocol):
    url: str

    def migrate(self) -> None:
        """Create or upgrade the schema to the current version (idempotent)."""

    def schema_version(self) -> int:
        """The highest migration applied (0 before the first ``migrate``)."""
        ...

    def close(self) -> None: ...

    # the ops console's reads and its operator accounts, over this store's connection
    def console(self) -> Console: ...

    def accounts(self) -> Accounts: ...

    # row versions: change spans, before-images, rollback and as-of (store.versions)
    def versions(self) -> Versions: ...

    def queue(self, holder: str, claim_seconds: float) -> BatchQueue:
        """The batch claim queue over this store's connection, claims held by ``holder``."""
        ...

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

    def read_ahead(self, district: str, wanted: Mapping[str, tuple[str, ...]]) -> ReadAhead:
        """Snapshots of ``wanted`` (table -> columns), read on their own connection
        while the caller goes on; ``get`` them when needed."""
        ...

    def table_counts(self, district: str, tables: Collection[str] | None = None) -> dict[str, int]:
        """Loaded rows per roster table of the district, or of those of ``tables``."""
        ...

    def last_hashes(self, district: str) -> dict[str, str]:
        """spec file name -> sha256 of the file of the last applied batch that carried it."""
        ...

    # batches, each call one transaction
    def save_batch(
        self,
        batch: BatchRecord,
        rejects: pl.DataFrame,
        changes: Sequence[TableChanges] | None = None,
    ) -> None:
        """Record (insert or replace) the batch, its files and rejects; apply ``changes``
        (roster rows and change log) in the same transaction when given."""

    def batch(self, batch_id: str) -> BatchRecord:
        """The batch of that id, or of the one id beginning so (as git takes a short
        commit id). Raises UnknownBatchError, or ConflictError when several match."""
        ...

    def batches(self, district: str | None = None, limit: int = 100) -> list[BatchRecord]:
        """Newest first."""
        ...

    def rejects(self, batch_id: str) -> pl.DataFrame: ...

    def changes(self, batch_id: str) -> pl.DataFrame:
        """Columns: table, key, op (added | updated | deleted)."""
        ...

    # system settings (`roster system`) and the event log (`roster events`)
    def system_settings(self) -> dict[str, StoredSetting]: ...

    def put_system_setting(self, key: str, value: object, by: str) -> None: ...

    def clear_system_settings(self, keys: Sequence[str]) -> None: ...

    def add_event(self, event: EventRecord) -> None: ...

    def events(
        self,
        district: str | None = None,
        levels: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[EventRecord]:
        """Newest first; ``levels`` empty: every level."""
        ...

    def purge_events(self, before: datetime) -> int: ...

    def purge_rejects(self, district: str, before: datetime) -> int:
        """Reject rows of the district's batches finished before ``before``; counts stay."""
        ...


def open_store(url: str, connect_timeout: float = 10.0) -> Store:
    """Open (not migrate) the store for a database URL.

    Raises DatabaseUnavailableError (URL with the password masked, and what to
    do) when the driver is missing or the database cannot be reached.
    """
    from roster_pipeline.store.sql_store import SqlStore

    return SqlStore(url, connect_timeout)
