"""Loader: apply a batch's table changes and change log inside the caller's transaction.

Per table, set-based and bulk only: the keys of deleted and updated rows go to
a temporary staging table; one INSERT ... SELECT logs them with the rows as they
are (their before-images, JSON), then they leave the roster table in one
``DELETE ... IN (SELECT ...)``; the added and updated rows come back with one
ADBC ingest (COPY on PostgreSQL); the added rows' change rows follow with one
more ingest, or, on a table's first load into SQLite, with one INSERT ... SELECT
of the keys just written. The district's row count of the table moves by the
rows added and deleted (``roster_counts``), in the same transaction.

Rows carry the batch number given, unless the frames bring their own
``batch_no`` column (a rollback puts rows back as an earlier batch wrote them).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from roster_pipeline.store.engine import Engine
from roster_pipeline.store.records import TableChanges
from roster_pipeline.store.schema import roster_table

#: Joins the values of a composite key in the change log (ids cannot contain it).
KEY_SEPARATOR = "|"
_STAGE = "roster_stage_keys"
_OP, _NO = "roster_op", "batch_no"
#: Staged keys up to this share of the district's rows are found one by one through
#: the primary key, in key order (PostgreSQL: 20,000 of 2M enrollments logged and
#: deleted in 0.4 s, where hashing the district's rows took 1.6 s, and 2.6 s on a
#: table not yet analysed since its first load).
_PROBE_SHARE = 0.05


def change_key(key: tuple[str, ...]) -> pl.Expr:
    """The change log's text form of a key: its values joined with ``|``."""
    return pl.concat_str([pl.col(k) for k in key], separator=KEY_SEPARATOR)


def apply_changes(
    engine: Engine, district: str, batch_no: int, tables: Sequence[TableChanges]
) -> None:
    """Write the tables' rows and change log, both marked with the batch's number;
    the caller owns the transaction."""
    for table in tables:
        roster_table(table.table, table.columns)  # unknown names fail before any write
    # A helper thread sorts each table's rows while the database takes the previous
    # table's (both release the GIL): 2M enrollments take 1 s to sort, which then
    # happens during the users' ingest instead of after it.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roster-rows")
    try:
        pending = [pool.submit(_rows, t) for t in tables]
        for table in tables:
            _delete_keys(engine, district, batch_no, table)
            rows = pending.pop(0).result()
            number = [] if _NO in rows.columns else [pl.lit(batch_no, pl.Int64).alias(_NO)]
            district_id = pl.lit(district).alias("district_id")
            engine.ingest(table.table, rows, constants=(district_id, *number))
            _log_changes(engine, district, batch_no, table)
            _count(engine, district, table)
    finally:
        pool.shutdown(cancel_futures=True)


def _rows(table: TableChanges) -> pl.DataFrame:
    """The added and updated rows as stored, in key order: B-tree appends, not random
    inserts (7x faster on SQLite). Rows already in key order, as many SIS exports
    write them, are not sorted again (8M enrollments: 0.5 s and a copy of the table)."""
    frames = (table.added, table.updated)
    own = all(_NO in f.columns for f in frames)
    rows = pl.concat(
        [
            f.select(
                pl.col(table.columns).cast(pl.String),
                *([pl.col(_NO).cast(pl.Int64)] if own else []),
            )
            for f in frames
        ]
    )
    return rows if in_key_order(rows, table.key) else rows.sort(table.key)


def in_key_order(frame: pl.DataFrame, key: Sequence[str]) -> bool:
    """Whether every row's key is at most the next one's, compared as the sort (and
    SQLite's BINARY collation) compare them: column by column, bytes of the text."""
    *first, last = (pl.col(k) for k in key)
    ordered = last.shift(-1) >= last
    for column in reversed(first):
        after = column.shift(-1)
        ordered = (after > column) | ((after == column) & ordered)
    return bool(frame.select(ordered.fill_null(value=True).all()).item())


def _delete_keys(engine: Engine, district: str, batch_no: int, table: TableChanges) -> None:
    keys = pl.concat(
        [
            f.select(pl.col(table.key).cast(pl.String)).with_columns(**{_OP: pl.lit(op)})
            for op, f in (("updated", table.updated), ("deleted", table.deleted))
        ]
    ).sort(table.key)
    if not keys.height:
        return
    cols = ", ".join(f'"{k}"' for k in table.key)
    engine.execute(f"DROP TABLE IF EXISTS {_STAGE}")
    # The key columns as the roster table declares them (PostgreSQL: their collation),
    # so the joins below can probe its primary key.
    engine.execute(
        f"CREATE TEMPORARY TABLE {_STAGE} AS SELECT {cols}, '' AS {_OP}"
        f" FROM {roster_table(table.table).name} WHERE 1 = 0"
    )
    engine.ingest(_STAGE, keys, temporary=True)
    if engine.dialect.analyze_staging:
        engine.execute(f"ANALYZE {_STAGE}")
    few = keys.height <= _PROBE_SHARE * table.loaded_before
    with engine.planner_off(engine.dialect.index_probes if few else ()):
        _log_before(engine, district, batch_no, table)
        engine.execute(
            f"DELETE FROM {table.table} WHERE district_id = ? AND ({cols}) IN"
            f" (SELECT {cols} FROM {_STAGE})",
            (district,),
        )
    engine.execute(f"DROP TABLE {_STAGE}")


def _log_before(engine: Engine, district: str, batch_no: int, table: TableChanges) -> None:
    """Log the staged keys' changes with each row as it is now, before it goes: the
    database reads the rows it is about to delete anyway, so the images cost no
    round trip (rollback and ``--as-of`` replay them)."""
    stored = roster_table(table.table)
    values = [c for c in stored.columns if c not in stored.key]
    pairs = ", ".join(f"'{c}', t.\"{c}\"" for c in (*values, _NO))
    image = engine.dialect.json_object.format(pairs)
    key = f" || '{KEY_SEPARATOR}' || ".join(f't."{k}"' for k in table.key)
    join = " AND ".join(f't."{k}" = s."{k}"' for k in table.key)
    engine.execute(
        f'INSERT INTO changes (batch_no, table_name, "key", op, "before")'
        f" SELECT ?, ?, {key}, s.{_OP}, {image} FROM {stored.name} t JOIN {_STAGE} s ON {join}"
        " WHERE t.district_id = ?",
        (batch_no, table.table, district),
    )


def _log_changes(engine: Engine, district: str, batch_no: int, table: TableChanges) -> None:
    if table.loaded_before or not engine.dialect.first_load_logged_by_select:
        engine.ingest("changes", _changes(batch_no, table))
        return
    # A first load: the district's rows in this table are exactly the ones just added,
    # so the database can copy their keys itself rather than receive them once more.
    key = f" || '{KEY_SEPARATOR}' || ".join(f'"{k}"' for k in table.key)
    # Only the rows of this batch: a students file's first load leaves the teachers be.
    engine.execute(
        f'INSERT INTO changes (batch_no, table_name, "key", op) SELECT ?, ?, {key}, ?'
        f" FROM {roster_table(table.table).name} WHERE district_id = ? AND batch_no = ?",
        (batch_no, table.table, "added", district, batch_no),
    )


def _count(engine: Engine, district: str, table: TableChanges) -> None:
    """Keep the district's row count of the table (``roster_counts``): an updated row
    is deleted and written again, so only added and deleted rows move it."""
    moved = table.added.height - table.deleted.height
    engine.execute(
        "INSERT INTO roster_counts (district_id, table_name, row_count) VALUES (?, ?, ?)"
        " ON CONFLICT (district_id, table_name)"
        " DO UPDATE SET row_count = roster_counts.row_count + excluded.row_count",
        (district, table.table, moved),
    )


def _changes(batch_no: int, table: TableChanges) -> pl.DataFrame:
    """The added rows' change rows (updated and deleted ones were logged with their
    before-images)."""
    return table.added.select(
        batch_no=pl.lit(batch_no, pl.Int64),
        table_name=pl.lit(table.table),
        key=change_key(table.key),
        op=pl.lit("added"),
    )
