"""Row versions: a district's change spans, their before-images, and undoing them.

Every write to a district's roster tables is a span of the change log: a batch
applied (``apply``) or rolled back (``rollback``). Each change row of an
updated or deleted row holds the row as it was before (JSON); the row after is
the next change of the same key, or the loaded row. Undoing a span replays its
before-images: rows it added go, rows it updated or deleted come back as they
were, with the batch number that had written them. ``rollback`` does that in
the database (and logs the compensating changes); ``as_of`` does it on frames.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl

from roster_pipeline.errors import ConflictError
from roster_pipeline.store.engine import Engine
from roster_pipeline.store.loader import KEY_SEPARATOR, apply_changes
from roster_pipeline.store.records import APPLIED, BatchStatus, ChangeSpan, TableChanges
from roster_pipeline.store.schema import ROSTER_TABLES, roster_table

_SPAN_SELECT = (
    "SELECT s.span_id, s.district_id, b.batch_id, s.batch_no, s.kind, s.first_change,"
    " s.last_change, s.at FROM change_spans s JOIN batches b ON b.batch_no = s.batch_no"
)
_CHANGE_COLUMNS = 'change_id, table_name, "key", op, "before"'
_NO = "batch_no"


def log_start(engine: Engine) -> int:
    """The lowest change id a write starting now can be given.

    On PostgreSQL the session takes the next id itself (it is then unused): every id
    the session gives later is greater, even though each session caches a block of
    ids. ``MAX(change_id)`` is no bound there: another session's block may lie above.
    """
    if engine.dialect.name == "postgresql":
        return int(
            engine.rows("SELECT nextval(pg_get_serial_sequence('changes', 'change_id'))")[0][0]
        )
    return int(engine.rows("SELECT COALESCE(MAX(change_id), 0) FROM changes")[0][0]) + 1


def log_end(engine: Engine) -> int:
    """The highest change id this session has written (after ``log_start``)."""
    if engine.dialect.name == "postgresql":
        return int(
            engine.rows("SELECT currval(pg_get_serial_sequence('changes', 'change_id'))")[0][0]
        )
    return int(engine.rows("SELECT COALESCE(MAX(change_id), 0) FROM changes")[0][0])


def record_span(
    engine: Engine, district: str, batch_no: int, kind: str, *, first: int, last: int
) -> None:
    engine.execute(
        "INSERT INTO change_spans (district_id, batch_no, kind, first_change, last_change, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (district, batch_no, kind, first, last, datetime.now(UTC).isoformat()),
    )


def _span(row: Sequence[object]) -> ChangeSpan:
    span_id, district, batch_id, batch_no, kind, first, last, at = row
    return ChangeSpan(
        int(str(span_id)), str(district), str(batch_id), int(str(batch_no)), str(kind),
        int(str(first)), int(str(last)), datetime.fromisoformat(str(at)),
    )  # fmt: skip


class Versions:
    """Row versions of the districts over one connection (``Store.versions()``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def spans(self, district: str) -> list[ChangeSpan]:
        """The district's spans, oldest first."""
        rows = self.engine.rows(
            f"{_SPAN_SELECT} WHERE s.district_id = ? ORDER BY s.span_id", (district,)
        )
        return [_span(r) for r in rows]

    def changes(self, span: ChangeSpan, table: str | None = None) -> pl.DataFrame:
        """The span's change rows (change_id, table_name, key, op, before), oldest first."""
        where, params = ("", ()) if table is None else (" AND table_name = ?", (table,))
        frame = self.engine.frame(
            f"SELECT {_CHANGE_COLUMNS} FROM changes WHERE change_id BETWEEN ? AND ?"
            f" AND batch_no = ?{where} ORDER BY change_id",
            (span.first_change, span.last_change, span.batch_no, *params),
        )
        return _typed(frame)

    def key_changes(self, district: str, table: str, key: str) -> pl.DataFrame:
        """Every change row of one key of the district's table, with its batch number."""
        frame = self.engine.frame(
            'SELECT c.change_id, c.table_name, c."key", c.op, c."before", c.batch_no'
            " FROM changes c JOIN batches b ON b.batch_no = c.batch_no"
            ' WHERE b.district_id = ? AND c.table_name = ? AND c."key" = ?'
            " ORDER BY c.change_id",
            (district, table, key),
        )
        return _typed(frame).with_columns(pl.col(_NO).cast(pl.Int64))

    def row(self, district: str, table: str, key: str) -> dict[str, str | None] | None:
        """The loaded row of that change-log key (values joined with ``|``), or None."""
        stored = roster_table(table)
        values = key.split(KEY_SEPARATOR)
        if len(values) != len(stored.key):
            return None
        names = ", ".join(f'"{c}"' for c in stored.columns)
        where = " AND ".join(f'"{k}" = ?' for k in stored.key)
        rows = self.engine.rows(
            f"SELECT {names} FROM {stored.name} WHERE district_id = ? AND {where}",
            (district, *values),
        )
        if not rows:
            return None
        return {
            c: None if v is None else str(v) for c, v in zip(stored.columns, rows[0], strict=True)
        }

    def link_keys(self, district: str, table: str, position: int, value: str) -> list[str]:
        """Change-log keys of ``table``'s rows whose key column ``position`` is ``value``:
        loaded now or in the change log."""
        stored = roster_table(table)
        escaped = re.sub(r"([\\%_])", r"\\\1", value)
        pattern = f"{escaped}{KEY_SEPARATOR}%" if position == 0 else f"%{KEY_SEPARATOR}{escaped}"
        logged = self.engine.rows(
            'SELECT DISTINCT c."key" FROM changes c JOIN batches b ON b.batch_no = c.batch_no'
            " WHERE b.district_id = ? AND c.table_name = ? AND c.\"key\" LIKE ? ESCAPE '\\'",
            (district, table, pattern),
        )
        column = stored.key[position]
        names = f" || '{KEY_SEPARATOR}' || ".join(f'"{k}"' for k in stored.key)
        loaded = self.engine.rows(
            f'SELECT {names} FROM {stored.name} WHERE district_id = ? AND "{column}" = ?',
            (district, value),
        )
        return sorted({str(r[0]) for r in (*logged, *loaded)})

    def rejects_naming(self, district: str, key: str) -> pl.DataFrame:
        """The district's rejects of the row of ``key`` (``own``: its loaded version
        stayed) or whose value is ``key`` (another row naming it), with batch, its source
        and time."""
        frame = self.engine.frame(
            "SELECT b.batch_id, COALESCE(b.finished_at, b.received_at) AS at, b.source, r.file,"
            ' r.line, r."column", r.code, r.message, r."key" FROM rejects r JOIN batches b'
            " ON b.batch_id = r.batch_id WHERE b.district_id = ?"
            ' AND (r."key" = ? OR r."value" = ?) ORDER BY r.reject_id',
            (district, key, key),
        )
        names = ("batch_id", "at", "source", "file", "column", "code", "message", "key")
        return frame.select(
            *(pl.col(c).cast(pl.String) for c in names),
            pl.col("line").cast(pl.Int64),
            own=pl.col("key").cast(pl.String).eq_missing(pl.lit(key)),
        )

    def rows(self, district: str, table: str) -> pl.DataFrame:
        """The district's loaded rows of ``table``: every column and batch_no."""
        stored = roster_table(table)
        names = ", ".join(f'"{c}"' for c in (*stored.columns, _NO))
        frame = self.engine.frame(
            f"SELECT {names} FROM {stored.name} WHERE district_id = ?", (district,)
        )
        return frame.select(
            *(pl.col(c).cast(pl.String) for c in stored.columns), pl.col(_NO).cast(pl.Int64)
        )

    def last_kind(self, district: str) -> str | None:
        """The kind of the district's newest span; None before its first apply."""
        rows = self.engine.rows(
            "SELECT kind FROM change_spans WHERE district_id = ? ORDER BY span_id DESC LIMIT 1",
            (district,),
        )
        return str(rows[0][0]) if rows else None

    def purge(self, district: str, before: datetime) -> int:
        """Drop the before-images of the district's spans older than ``before`` (its
        retention): they become ``purged``, and neither a rollback nor ``--as-of`` goes
        back past them. How many spans lost their images."""
        old = "district_id = ? AND at < ? AND kind IN ('apply', 'rollback')"
        params = (district, before.astimezone(UTC).isoformat())
        spans = self.engine.rows(
            f"SELECT first_change, last_change, batch_no FROM change_spans WHERE {old}", params
        )
        if spans:
            with self.engine.transaction():
                for first, last, batch_no in spans:
                    self.engine.execute(
                        'UPDATE changes SET "before" = NULL'
                        " WHERE change_id BETWEEN ? AND ? AND batch_no = ?",
                        (first, last, batch_no),
                    )
                self.engine.execute(f"UPDATE change_spans SET kind = 'purged' WHERE {old}", params)
        return len(spans)

    def rollback(self, district: str, spans: Sequence[ChangeSpan], message: str) -> None:
        """Undo the apply ``spans`` newest first and mark their batches rolled back, all
        in one transaction; ConflictError (nothing changed) when a batch is no longer
        applied by then."""
        begin = "BEGIN IMMEDIATE" if self.engine.dialect.name == "sqlite" else "BEGIN"
        with self.engine.transaction(begin):
            for span in sorted(spans, key=lambda s: s.span_id, reverse=True):
                self._undo(district, span, message)

    def _undo(self, district: str, span: ChangeSpan, message: str) -> None:
        if span.kind != "apply":
            raise ConflictError(_NO_IMAGES.get(span.kind, _LEGACY).format(span.batch_id))
        status = self.engine.rows("SELECT status FROM batches WHERE batch_no = ?", (span.batch_no,))
        if not status or str(status[0][0]) not in APPLIED:
            now = status[0][0] if status else "gone"
            raise ConflictError(f"batch {span.batch_id} is {now} now; nothing was changed")
        first = log_start(self.engine)
        inverse = [inverse_changes(self.changes(span, t), t) for t in ROSTER_TABLES]
        apply_changes(self.engine, district, span.batch_no, [i for i in inverse if i])
        record_span(
            self.engine, district, span.batch_no, "rollback", first=first, last=log_end(self.engine)
        )
        self.engine.execute(
            "UPDATE batches SET status = ?, message = ? WHERE batch_no = ?",
            (str(BatchStatus.ROLLED_BACK), message, span.batch_no),
        )

    def as_of(self, district: str, table: str, later: Sequence[ChangeSpan]) -> pl.DataFrame:
        """The district's ``table`` as it stood before the ``later`` spans."""
        frame = self.rows(district, table)
        for span in sorted(later, key=lambda s: s.span_id, reverse=True):
            if span.kind in _NO_IMAGES:
                raise ConflictError(_NO_IMAGES[span.kind].format(span.batch_id))
            inverse = inverse_changes(self.changes(span, table), table)
            if inverse is None:
                continue
            stored = roster_table(table)
            gone = pl.concat([inverse.deleted, inverse.updated.select(stored.key)])
            frame = pl.concat(
                [frame.join(gone, on=list(stored.key), how="anti"), inverse.added, inverse.updated],
                how="diagonal_relaxed",
            ).select(frame.columns)
        return frame


_LEGACY = (
    "batch {} was applied before row versions were kept: its changes have no"
    " before-images, so the district cannot be taken back past it"
)
_NO_IMAGES = {
    "legacy": _LEGACY,
    "purged": "batch {} is older than the district's retention: its before-images were"
    " purged with its archive, so the district cannot be taken back past it",
}


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("change_id").cast(pl.Int64),
        *(pl.col(c).cast(pl.String) for c in ("table_name", "key", "op", "before")),
    )


def key_frame(keys: pl.Series, key: tuple[str, ...]) -> pl.DataFrame:
    """Change-log keys (values joined with ``|``) back into their columns."""
    if len(key) == 1:
        return pl.DataFrame({key[0]: keys.cast(pl.String)})
    parts = keys.str.split_exact(KEY_SEPARATOR, len(key) - 1).struct.rename_fields(list(key))
    return parts.struct.unnest()


def images(changes: pl.DataFrame, table: str) -> pl.DataFrame:
    """The changed rows as they were before: key columns, every other column, batch_no."""
    stored = roster_table(table)
    values = [c for c in stored.columns if c not in stored.key]
    shape = pl.Struct({**dict.fromkeys(values, pl.String), _NO: pl.Int64})
    before = changes.select(pl.col("before").str.json_decode(shape).alias("image")).unnest("image")
    return pl.concat([key_frame(changes["key"], stored.key), before], how="horizontal").select(
        *stored.columns, _NO
    )


def inverse_changes(changes: pl.DataFrame, table: str) -> TableChanges | None:
    """What undoes a span's changes of one table: its added rows deleted, its updated
    and deleted rows back as they were; None when it changed nothing there."""
    if not changes.height:
        return None
    stored = roster_table(table)
    by_op = {op: changes.filter(pl.col("op") == op) for op in ("added", "updated", "deleted")}
    return TableChanges(
        table=table,
        key=stored.key,
        columns=stored.columns,
        added=images(by_op["deleted"], table),
        updated=images(by_op["updated"], table),
        deleted=key_frame(by_op["added"]["key"], stored.key),
        # Not a first load: every compensating row is logged with its before-image.
        loaded_before=1,
    )
