"""What the ops console reads, in few queries whatever the number of districts.

The overview of a thousand districts is four statements, not four per district;
a batch's rejects are paged by key (``reject_id > after``) so the millionth page
costs what the first does, and counted by file, code and column once per batch
(``reject_summary``: as the batch is saved; a batch saved before the summary
existed is counted at its first view) instead of on every view.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from roster_pipeline.store import schema
from roster_pipeline.store.engine import Engine


@dataclass(frozen=True)
class DistrictFacts:
    slug: str
    name: str
    enabled: bool
    paused: bool
    settings: dict[str, Any]
    created_at: datetime | None


@dataclass(frozen=True)
class LatestBatch:
    batch_id: str
    status: str
    received_at: datetime
    finished_at: datetime | None
    rejects: int


@dataclass(frozen=True)
class RecentBatch:
    district: str
    rows: int
    rejects: int


@dataclass(frozen=True)
class RejectGroup:
    file: str | None
    code: str
    column: str | None
    count: int


@dataclass(frozen=True)
class RejectFilter:
    file: str | None = None
    code: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class RejectRow:
    reject_id: int
    file: str | None
    line: int | None
    column: str | None
    value: str | None
    code: str
    message: str
    key: str | None = None  # the key of the row it kept out, when known


_COLUMNS = "b.district_id, b.batch_id, b.status, b.received_at, b.finished_at, b.rejects"
_NEWEST = "WHERE x.district_id = d.slug ORDER BY x.received_at DESC, x.batch_id DESC LIMIT 1"
# SQLite probes the index once per district for the join's subquery. PostgreSQL
# instead hashes every batch to match the subquery's ids (180-380 ms for 100,000
# batches); LATERAL makes it probe per district as SQLite does (37 ms).
_LATEST = (
    f"SELECT {_COLUMNS} FROM districts d JOIN batches b"
    f" ON b.batch_id = (SELECT x.batch_id FROM batches x {_NEWEST})"
)
_LATEST_LATERAL = (
    f"SELECT {_COLUMNS} FROM districts d CROSS JOIN LATERAL (SELECT x.* FROM batches x {_NEWEST}) b"
)


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text)) if text else None


class Console:
    """Read-only queries of the console over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def display_url(self) -> str:
        """The database's URL with any password masked."""
        return self.engine.display_url

    @staticmethod
    def roster_tables() -> list[str]:
        return list(schema.ROSTER_TABLES)

    def rejects_frame(self, batch_id: str, where: RejectFilter) -> pl.DataFrame:
        """The batch's rejects matching ``where``, in the order they were found."""
        clauses, params = _filter(where)
        return self.engine.frame(
            'SELECT file, line, "column", "value", code, message, "key" FROM rejects'
            f" WHERE batch_id = ?{clauses} ORDER BY reject_id",
            (batch_id, *params),
        )

    def ping(self) -> None:
        self.engine.rows("SELECT 1")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows through Arrow: thousands of rows cost what one batch of columns does,
        where the driver's row-by-row fetch costs microseconds per value."""
        return list(self.engine.frame(sql, params).iter_rows())

    def districts(self) -> list[DistrictFacts]:
        """What the overview needs of every district, in one read."""
        rows = self._rows(
            "SELECT slug, name, enabled, paused, settings, created_at FROM districts ORDER BY slug"
        )
        return [
            DistrictFacts(str(s), str(n), bool(e), bool(p), json.loads(j) if j != "{}" else {},
                          _time(c))
            for s, n, e, p, j, c in rows
        ]  # fmt: skip

    # the overview
    def latest_batches(self) -> dict[str, LatestBatch]:
        """Per district, its newest batch (one index probe per district)."""
        rows = self._rows(_LATEST_LATERAL if self.engine.dialect.name == "postgresql" else _LATEST)
        return {
            str(d): LatestBatch(str(b), str(s), _time(r) or datetime.min, _time(f), int(n))
            for d, b, s, r, f, n in rows
        }

    def history(self, district: str, limit: int) -> list[tuple[LatestBatch, int]]:
        """The district's newest batches with the rows their files held, newest first."""
        rows = self._rows(
            "SELECT b.batch_id, b.status, b.received_at, b.finished_at, b.rejects,"
            ' (SELECT COALESCE(SUM(f."rows"), 0) FROM batch_files f WHERE f.batch_id = b.batch_id)'
            " FROM batches b WHERE b.district_id = ?"
            " ORDER BY b.received_at DESC, b.batch_id DESC LIMIT ?",
            (district, limit),
        )
        return [
            (LatestBatch(str(b), str(s), _time(r) or datetime.min, _time(f), int(n)), int(t))
            for b, s, r, f, n, t in rows
        ]

    def held_counts(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT district_id, COUNT(*) FROM batches WHERE status = 'held' GROUP BY district_id"
        )
        return {str(d): int(n) for d, n in rows}

    def last_uploads(self) -> dict[str, datetime]:
        rows = self._rows("SELECT district_id, MAX(finished_at) FROM uploads GROUP BY district_id")
        return {str(d): t for d, w in rows if (t := _time(w)) is not None}

    def recent_batches(self, since: datetime, districts: Sequence[str]) -> list[RecentBatch]:
        """The districts' batches received since ``since``, oldest first, with the rows
        their files held (summed from the batch_files_rows index alone)."""
        if not districts:
            return []
        marks = ", ".join("?" for _ in districts)
        rows = self._rows(
            'SELECT b.district_id, b.rejects, (SELECT COALESCE(SUM(f."rows"), 0)'
            " FROM batch_files f WHERE f.batch_id = b.batch_id) FROM batches b"
            f" WHERE b.district_id IN ({marks}) AND b.received_at >= ?"
            " ORDER BY b.received_at",
            (*districts, since.isoformat()),
        )
        return [RecentBatch(str(d), int(n), int(j)) for d, j, n in rows]

    # a batch's rejects
    def reject_groups(self, batch_id: str) -> list[RejectGroup]:
        """The batch's rejects counted by file, code and column, largest first."""
        top = self._rows("SELECT MAX(reject_id) FROM rejects WHERE batch_id = ?", (batch_id,))[0][0]
        # No rows: none, or they were purged (retention) and only their counts stay.
        cached = self._summary(batch_id, None if top is None else int(top))
        if not cached and top is not None:
            cached = self._count_rejects(batch_id, int(top))
        return sorted(cached, key=lambda g: (-g.count, g.code, g.file or "", g.column or ""))

    def _summary(self, batch_id: str, top: int | None) -> list[RejectGroup]:
        """The cached counts; ``top`` None: whatever is cached (the rows are gone)."""
        current = "" if top is None else " AND last_reject = ?"
        rows = self._rows(
            f'SELECT file, code, "column", n FROM reject_summary WHERE batch_id = ?{current}',
            (batch_id,) if top is None else (batch_id, top),
        )
        return [RejectGroup(f, str(c), k, int(n)) for f, c, k, n in rows]

    def _count_rejects(self, batch_id: str, top: int) -> list[RejectGroup]:
        rows = self._rows(
            'SELECT file, code, "column", COUNT(*) FROM rejects WHERE batch_id = ?'
            ' GROUP BY file, code, "column"',
            (batch_id,),
        )
        groups = [RejectGroup(f, str(c), k, int(n)) for f, c, k, n in rows]
        with self.engine.transaction():
            self.engine.execute("DELETE FROM reject_summary WHERE batch_id = ?", (batch_id,))
            for g in groups:
                self.engine.execute(
                    'INSERT INTO reject_summary (batch_id, last_reject, file, code, "column", n)'
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (batch_id, top, g.file, g.code, g.column, g.count),
                )
        return groups

    def reject_page(
        self, batch_id: str, where: RejectFilter, after: int, limit: int
    ) -> list[RejectRow]:
        """Up to ``limit`` rejects with ``reject_id > after`` matching ``where``."""
        clauses, params = _filter(where)
        rows = self._rows(
            'SELECT reject_id, file, line, "column", "value", code, message, "key" FROM rejects'
            f" WHERE batch_id = ? AND reject_id > ?{clauses} ORDER BY reject_id LIMIT ?",
            (batch_id, after, *params, limit),
        )
        return [
            RejectRow(int(i), f, None if n is None else int(n), c, v, str(k), str(m), key)
            for i, f, n, c, v, k, m, key in rows
        ]

    # across districts
    def search(self, table: str, fragment: str, limit: int) -> list[dict[str, Any]]:
        """Rows of a roster table whose key equals ``fragment`` or whose name contains it."""
        spec = schema.roster_table(table)
        names = [c for c in spec.columns if c.endswith("name")]
        key = spec.key[0]
        like = " OR ".join(f'LOWER("{c}") LIKE ?' for c in names)
        columns = ", ".join(f'"{c}"' for c in ("district_id", *spec.columns))
        pattern = f"%{fragment.lower().replace('%', '').replace('_', '')}%"
        rows = self._rows(
            f'SELECT {columns} FROM {spec.name} WHERE "{key}" = ?'
            + (f" OR {like}" if like else "")
            + f' ORDER BY district_id, "{key}" LIMIT ?',
            (fragment, *([pattern] * len(names)), limit),
        )
        return [dict(zip(("district_id", *spec.columns), r, strict=True)) for r in rows]

    def uploads(self, limit: int, district: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE district_id = ?", [district]) if district else ("", [])
        columns = (
            "district_id", "username", "original_name", "size", "client_address",
            "client_version", "finished_at",
        )  # fmt: skip
        names = ", ".join(f'"{c}"' for c in columns)
        rows = self._rows(
            f"SELECT {names} FROM uploads {where} ORDER BY finished_at DESC LIMIT ?",
            (*params, limit),
        )
        return [dict(zip(columns, r, strict=True)) for r in rows]

    # metrics
    def batches_by_status(self) -> dict[str, int]:
        rows = self._rows("SELECT status, COUNT(*) FROM batches GROUP BY status")
        return {str(s): int(n) for s, n in rows}

    def rejects_by_code(self) -> dict[str, int]:
        """Counted from the summaries, which outlive the rows (retention): a total
        that never goes down, as a Prometheus counter must not."""
        rows = self._rows("SELECT code, SUM(n) FROM reject_summary GROUP BY code")
        return {str(c): int(n) for c, n in rows}

    def rows_applied(self) -> int:
        rows = self._rows(
            "SELECT COALESCE(SUM(last_change - first_change + 1), 0) FROM batches"
            " WHERE first_change IS NOT NULL AND last_change >= first_change"
        )
        return int(rows[0][0])

    def durations(self) -> list[float]:
        """Seconds from receipt to the end of every finished batch."""
        rows = self._rows(
            "SELECT received_at, finished_at FROM batches WHERE finished_at IS NOT NULL"
        )
        return [
            (f - r).total_seconds()
            for r0, f0 in rows
            if (r := _time(r0)) is not None and (f := _time(f0)) is not None
        ]

    def upload_totals(self) -> tuple[int, int]:
        """Uploads and bytes received."""
        rows = self._rows('SELECT COUNT(*), COALESCE(SUM("size"), 0) FROM uploads')
        return int(rows[0][0]), int(rows[0][1])

    def oldest_unclaimed(self) -> datetime | None:
        rows = self._rows(
            "SELECT MIN(received_at) FROM batches WHERE status = 'received' AND claimed_by IS NULL"
        )
        return _time(rows[0][0])


def summarise_rejects(engine: Engine, batch_id: str, rejects: pl.DataFrame) -> None:
    """Count a batch's rejects by file, code and column as they are saved (in the saving
    transaction), from the frame in memory: a million rejects take tens of milliseconds
    here, where counting them from the table at the first view took seconds."""
    if rejects.is_empty():
        return
    top = engine.rows("SELECT MAX(reject_id) FROM rejects WHERE batch_id = ?", (batch_id,))[0][0]
    counted = rejects.group_by("file", "code", "column").agg(n=pl.len().cast(pl.Int64))
    engine.ingest(
        "reject_summary",
        counted.select(
            batch_id=pl.lit(batch_id),
            last_reject=pl.lit(int(top), dtype=pl.Int64),
            file=pl.col("file").cast(pl.String),
            code=pl.col("code").cast(pl.String),
            column=pl.col("column").cast(pl.String),
            n="n",
        ),
    )


def _filter(where: RejectFilter) -> tuple[str, list[Any]]:
    pairs: Sequence[tuple[str, str | None]] = (
        ("file", where.file),
        ("code", where.code),
        ('"column"', where.column),
    )
    chosen = [(c, v) for c, v in pairs if v]
    return "".join(f" AND {c} = ?" for c, _ in chosen), [v for _, v in chosen]
