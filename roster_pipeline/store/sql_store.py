"""SqlStore: the Store for SQLite and PostgreSQL, one implementation over an Engine.

Every write method is one transaction. Reads of roster rows come back as
polars frames of String columns, straight from Arrow.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import polars as pl

from roster_pipeline.contracts import rejects as rejects_mod
from roster_pipeline.errors import (
    ConflictError,
    UnknownBatchError,
    UnknownDistrictError,
)
from roster_pipeline.store import bans as bans_mod
from roster_pipeline.store import schema, versions
from roster_pipeline.store.accounts import Accounts
from roster_pipeline.store.console import Console, summarise_rejects
from roster_pipeline.store.dialect import DEFAULT_CONNECT_TIMEOUT
from roster_pipeline.store.engine import Engine
from roster_pipeline.store.loader import apply_changes
from roster_pipeline.store.queue import BatchQueue
from roster_pipeline.store.records import (
    APPLIED,
    BanRecord,
    BatchRecord,
    DistrictRecord,
    FileRecord,
    TableChanges,
    sql_list,
)
from roster_pipeline.store.rows import (
    BATCH_COLUMNS,
    DISTRICT_COLUMNS,
    batch_from_row,
    batch_to_row,
    district_from_row,
    district_to_row,
    files_frame,
    upload_to_row,
)
from roster_pipeline.store.snapshots import ReadAhead, read_snapshot
from roster_pipeline.store.system_rows import SystemRows
from sftp_server import UploadRecord

_APPLIED = sql_list(APPLIED)
_DISTRICT_SELECT = f"SELECT {', '.join(DISTRICT_COLUMNS)} FROM districts"
_BATCH_SELECT = f"SELECT {', '.join(BATCH_COLUMNS)} FROM batches"


def _upsert(table: str, columns: Sequence[str], key: str) -> str:
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks})"
        f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


class SqlStore(SystemRows):
    """The Store over one database connection (use one SqlStore per thread)."""

    def __init__(self, url: str, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.engine = Engine(url, connect_timeout)

    def migrate(self) -> None:
        schema.migrate(self.engine)

    def queue(self, holder: str, claim_seconds: float) -> BatchQueue:
        return BatchQueue(self.engine, holder, claim_seconds)

    def schema_version(self) -> int:
        return schema.current_version(self.engine)

    def close(self) -> None:
        self.engine.close()

    def console(self) -> Console:
        return Console(self.engine)

    def purge_rejects(self, district: str, before: datetime) -> int:
        """Delete the reject rows of the district's batches finished before ``before``
        (its retention); their counts by file, code and column stay. Rows deleted."""
        batches = self.engine.rows(
            "SELECT b.batch_id FROM batches b WHERE b.district_id = ?"
            " AND COALESCE(b.finished_at, b.received_at) < ? AND b.status <> 'held'"
            " AND EXISTS (SELECT 1 FROM rejects r WHERE r.batch_id = b.batch_id)",
            (district, before.astimezone(UTC).isoformat()),
        )
        gone = 0
        for (batch_id,) in batches:
            gone += sum(g.count for g in self.console().reject_groups(str(batch_id)))  # kept
            self.engine.execute("DELETE FROM rejects WHERE batch_id = ?", (batch_id,))
        return gone

    def accounts(self) -> Accounts:
        return Accounts(self.engine)

    def versions(self) -> versions.Versions:
        return versions.Versions(self.engine)

    # districts
    def put_district(self, district: DistrictRecord) -> None:
        with _refused(f"district {district.slug}"), self.engine.transaction():
            self.engine.execute(
                _upsert("districts", DISTRICT_COLUMNS, "slug"), district_to_row(district)
            )

    def district(self, slug: str) -> DistrictRecord:
        rows = self.engine.rows(f"{_DISTRICT_SELECT} WHERE slug = ?", (slug,))
        if not rows:
            raise UnknownDistrictError(f"no district {slug!r} is provisioned")
        return district_from_row(rows[0])

    def district_by_username(self, username: str) -> DistrictRecord | None:
        rows = self.engine.rows(f"{_DISTRICT_SELECT} WHERE username = ?", (username,))
        return district_from_row(rows[0]) if rows else None

    def districts(self) -> list[DistrictRecord]:
        return [district_from_row(r) for r in self.engine.rows(f"{_DISTRICT_SELECT} ORDER BY slug")]

    def remove_district(self, slug: str, purge: bool) -> None:
        self.district(slug)
        with self.engine.transaction():
            self.engine.execute("DELETE FROM districts WHERE slug = ?", (slug,))
            if purge:
                self._purge(slug)

    def _purge(self, slug: str) -> None:
        for table in (*schema.ROSTER_TABLES, "roster_counts"):
            self.engine.execute(f"DELETE FROM {table} WHERE district_id = ?", (slug,))
        for table, link in (
            ("batch_files", "batch_id"),
            ("rejects", "batch_id"),
            ("reject_summary", "batch_id"),
            ("changes", "batch_no"),
            ("change_spans", "batch_no"),
        ):
            self.engine.execute(
                f"DELETE FROM {table} WHERE {link} IN"
                f" (SELECT {link} FROM batches WHERE district_id = ?)",
                (slug,),
            )
        self.engine.execute("DELETE FROM batches WHERE district_id = ?", (slug,))

    # uploads the receiver published
    def record_upload(self, upload: UploadRecord) -> None:
        with self.engine.transaction():
            self.engine.execute(
                "INSERT INTO uploads (district_id, username, original_name, published_name,"
                ' "size", sha256, client_address, client_version, algorithms, started_at,'
                " finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                upload_to_row(upload),
            )

    def last_upload(self, district: str) -> datetime | None:
        rows = self.engine.rows(
            "SELECT MAX(finished_at) FROM uploads WHERE district_id = ?", (district,)
        )
        return datetime.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    # the receiver's bans
    def bans(self, now: float) -> list[BanRecord]:
        return bans_mod.active_bans(self.engine, now)

    def add_ban(self, address: str, until: float, reason: str) -> None:
        with self.engine.transaction():
            bans_mod.add_ban(self.engine, address, until, reason)

    def lift_ban(self, address: str, now: float) -> bool:
        with self.engine.transaction():
            return bans_mod.lift_ban(self.engine, address, now)

    # the loaded snapshot
    def snapshot(self, district: str, table: str, columns: Sequence[str]) -> pl.DataFrame:
        return read_snapshot(self.engine, district, table, columns)

    def read_ahead(self, district: str, wanted: Mapping[str, tuple[str, ...]]) -> ReadAhead:
        return ReadAhead(self.url, district, wanted, self.connect_timeout)

    def table_counts(self, district: str, tables: Collection[str] | None = None) -> dict[str, int]:
        """Loaded rows per roster table of the district, or of those of ``tables``, as
        the loader keeps them (``roster_counts``): no row is read."""
        kept = dict(
            self.engine.rows(
                "SELECT table_name, row_count FROM roster_counts WHERE district_id = ?",
                (district,),
            )
        )
        return {
            table: int(kept.get(table, 0))
            for table in schema.ROSTER_TABLES
            if tables is None or table in tables
        }

    def last_hashes(self, district: str) -> dict[str, str]:
        rows = self.engine.rows(
            "SELECT f.file_spec, f.sha256 FROM batch_files f"
            " JOIN batches b ON b.batch_id = f.batch_id"
            f" WHERE b.district_id = ? AND b.status IN {_APPLIED} AND f.file_spec IS NOT NULL"
            " ORDER BY COALESCE(b.finished_at, b.received_at), b.received_at, b.batch_id",
            (district,),
        )
        return dict(rows)  # later batches overwrite earlier ones

    # batches
    def save_batch(
        self,
        batch: BatchRecord,
        rejects: pl.DataFrame,
        changes: Sequence[TableChanges] | None = None,
    ) -> None:
        what = f"batch {batch.batch_id} of district {batch.district}"
        with _refused(what), self.engine.transaction():
            self._write_batch(batch, rejects, changes)

    def _write_batch(
        self, batch: BatchRecord, rejects: pl.DataFrame, changes: Sequence[TableChanges] | None
    ) -> None:
        engine = self.engine
        engine.execute(_upsert("batches", BATCH_COLUMNS, "batch_id"), batch_to_row(batch))
        for table in ("batch_files", "rejects", "reject_summary"):
            engine.execute(f"DELETE FROM {table} WHERE batch_id = ?", (batch.batch_id,))
        engine.ingest("batch_files", files_frame(batch.batch_id, batch.files))
        engine.ingest("rejects", _rejects_frame(batch.batch_id, rejects))
        summarise_rejects(engine, batch.batch_id, rejects)
        if changes is not None:
            number = self._batch_no(batch.batch_id)
            first = versions.log_start(engine)
            apply_changes(engine, batch.district, number, changes)
            last = versions.log_end(engine)
            engine.execute(
                "UPDATE batches SET first_change = ?, last_change = ? WHERE batch_id = ?",
                (first, last, batch.batch_id),
            )
            versions.record_span(engine, batch.district, number, "apply", first=first, last=last)

    def _batch_no(self, batch_id: str) -> int:
        return int(
            self.engine.rows("SELECT batch_no FROM batches WHERE batch_id = ?", (batch_id,))[0][0]
        )

    def batch(self, batch_id: str) -> BatchRecord:
        rows = self.engine.rows(f"{_BATCH_SELECT} WHERE batch_id = ?", (batch_id,))
        if not rows:
            rows = self._by_prefix(batch_id)
        return batch_from_row(rows[0], self._files(rows[0][0]))

    def _by_prefix(self, prefix: str) -> list[tuple[Any, ...]]:
        """The one batch whose id starts with ``prefix``, as git takes a short commit id."""
        pattern = re.sub(r"([\\%_])", r"\\\1", prefix) + "%"
        found = self.engine.rows(
            f"{_BATCH_SELECT} WHERE batch_id LIKE ? ESCAPE '\\' ORDER BY batch_id LIMIT 21",
            (pattern,),
        )
        found = [r for r in found if str(r[0]).startswith(prefix)] if prefix else []
        if not found:
            raise UnknownBatchError(f"no batch {prefix!r} (see `roster batches`)")
        if len(found) > 1:
            shown = ", ".join(str(r[0]) for r in found[:5]) + (", ..." if len(found) > 5 else "")
            raise ConflictError(f"batch {prefix!r} is ambiguous: it begins {shown}")
        return found

    def batches(self, district: str | None = None, limit: int = 100) -> list[BatchRecord]:
        where, params = ("WHERE district_id = ?", [district]) if district else ("", [])
        rows = self.engine.rows(
            f"{_BATCH_SELECT} {where} ORDER BY received_at DESC, batch_id DESC LIMIT ?",
            (*params, limit),
        )
        return [batch_from_row(r, self._files(r[0])) for r in rows]

    def _files(self, batch_id: str) -> list[FileRecord]:
        rows = self.engine.rows(
            'SELECT "name", file_spec, sha256, "size", "rows", rejected FROM batch_files'
            " WHERE batch_id = ? ORDER BY seq",
            (batch_id,),
        )
        return [FileRecord(n, s, h, int(z), int(r), int(j)) for n, s, h, z, r, j in rows]

    def rejects(self, batch_id: str) -> pl.DataFrame:
        """The batch's rejects, with the key of the row each kept out (a pulled batch's
        rejects are named by it; an approval saves them again with it)."""
        names = ", ".join(f'"{c}"' for c in (*rejects_mod.SCHEMA, "key"))
        frame = self.engine.frame(
            f"SELECT {names} FROM rejects WHERE batch_id = ? ORDER BY reject_id", (batch_id,)
        )
        return frame.cast(rejects_mod.SCHEMA).with_columns(pl.col("key").cast(pl.String))  # type: ignore[arg-type]

    def changes(self, batch_id: str) -> pl.DataFrame:
        """The batch's change log; found through its id range (other workers' batches
        may interleave on PostgreSQL, hence the batch_no filter inside the range)."""
        span = self.engine.rows(
            "SELECT COALESCE(first_change, 0), COALESCE(last_change, -1), batch_no FROM batches"
            " WHERE batch_id = ?",
            (batch_id,),
        )
        first, last, number = span[0] if span else (0, -1, 0)
        frame = self.engine.frame(
            'SELECT table_name, "key", op FROM changes WHERE change_id BETWEEN ? AND ?'
            " AND batch_no = ? ORDER BY change_id",
            (int(first), int(last), int(number)),
        )
        return frame.select(
            table=pl.col("table_name").cast(pl.String),
            key=pl.col("key").cast(pl.String),
            op=pl.col("op").cast(pl.String),
        )


@contextmanager
def _refused(what: str) -> Iterator[None]:
    """A constraint the database enforced (a key twice, a username taken) -> ConflictError.

    Only integrity errors are conflicts: any other database error is not the
    caller's request contradicting the state, and goes on as it is.
    """
    import adbc_driver_manager

    try:
        yield
    except adbc_driver_manager.DatabaseError as exc:
        # SQLite's bulk ingest reports a constraint it enforced as an InternalError,
        # with no code; only its text says so.
        if not isinstance(exc, adbc_driver_manager.IntegrityError) and (
            "constraint failed" not in str(exc)
        ):
            raise
        raise ConflictError(
            f"{what} could not be saved ({str(exc).splitlines()[0]}); nothing was changed"
        ) from exc


def _rejects_frame(batch_id: str, rejects: pl.DataFrame) -> pl.DataFrame:
    frame = rejects.select(list(rejects_mod.SCHEMA)).cast(rejects_mod.SCHEMA)  # type: ignore[arg-type]
    # The key of the row a reject kept out, when the pipeline knew it (store.versions).
    key = rejects["key"].cast(pl.String) if "key" in rejects.columns else pl.lit(None, pl.String)
    return frame.with_columns(batch_id=pl.lit(batch_id), key=key)
