"""Plan: diff the batch's valid rows against the district's loaded snapshot.

Contract (stage 4 of pipeline.py):

``plan(validated, spec, current, thresholds, first_load) -> Plan``

For every loaded file in the batch (a full snapshot of its table; ``to_table``
applies the spec's loading rules: ``load_where``, ``to``, ``load_as``): added, updated
(any non-key column differs, nulls equal), deleted (loaded keys absent from the
file, except keys whose row was rejected in this batch: yesterday's row stays),
unchanged. Tables whose file is absent are not in the plan. Hold reasons when a
table that had loaded rows would lose more than ``max_delete_pct`` percent of
them or see more than ``max_update_pct`` percent updated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import polars as pl

from roster_pipeline.config import Thresholds
from roster_pipeline.contracts.specs import FileSpec, Spec
from roster_pipeline.stages.parse import LINE
from roster_pipeline.stages.validate import Validated, ValidFile


@dataclass(frozen=True)
class TablePlan:
    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]  # every spec column, key first
    added: pl.DataFrame  # full rows (columns)
    updated: pl.DataFrame  # full rows with the new values
    deleted: pl.DataFrame  # key columns only
    unchanged: int
    rejected: int
    loaded_before: int


@dataclass(frozen=True)
class Plan:
    tables: Mapping[str, TablePlan]
    hold_reasons: tuple[str, ...] = ()


def plan(
    validated: Validated,
    spec: Spec,
    current: Callable[[str, tuple[str, ...]], pl.DataFrame],
    thresholds: Thresholds,
) -> Plan:
    """Diff every file of the batch against ``current(table, columns)`` (the loaded rows)."""
    tables: dict[str, TablePlan] = {}
    for name, valid in validated.files.items():
        file_spec = spec.file(name)
        if not file_spec.load:
            continue  # validated (and referenced) only
        table = file_spec.table or file_spec.name
        key = file_spec.target_key
        columns = tuple(c.target for c in file_spec.loaded_columns)
        loading = replace(
            valid,
            frame=to_table(file_spec, valid.frame),
            rejected_keys=valid.rejected_keys.rename(dict(zip(file_spec.key, key, strict=True))),
        )
        tables[table] = diff_table(
            table, key, columns, loading, _as_text(current(table, columns), columns)
        )
    reasons = tuple(r for t in tables.values() for r in hold_reasons(t, thresholds))
    return Plan(tables=tables, hold_reasons=reasons)


def to_table(file_spec: FileSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """Valid rows as the table takes them: rows kept by ``load_where``, loaded columns
    under their target names, ``load_as`` values rewritten."""
    keep = [
        pl.col(c).str.to_lowercase().is_in([v.lower() for v in values])
        for c, values in file_spec.load_where.items()
    ]
    if keep:
        frame = frame.filter(pl.all_horizontal(keep))
    columns = [
        (pl.col(c.name).replace(dict(c.load_as)) if c.load_as else pl.col(c.name)).alias(c.target)
        for c in file_spec.loaded_columns
    ]
    return frame.select(*columns, LINE) if LINE in frame.columns else frame.select(columns)


def diff_table(
    table: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    valid: ValidFile,
    loaded: pl.DataFrame,
) -> TablePlan:
    """One table's diff from one full join: added, updated (nulls equal), deleted, unchanged."""
    new = _as_text(valid.frame, columns).with_columns(pl.lit(value=True).alias(_IN_NEW))
    old = loaded.with_columns(pl.lit(value=True).alias(_IN_LOADED))
    joined = new.join(old, on=key, how="full", coalesce=True, suffix=_OLD)
    sent, had = pl.col(_IN_NEW).is_not_null(), pl.col(_IN_LOADED).is_not_null()
    added = joined.filter(sent & pl.col(_IN_LOADED).is_null()).select(columns)
    both = joined.filter(sent & had)
    differs = pl.any_horizontal(
        [pl.col(c).ne_missing(pl.col(c + _OLD)) for c in columns if c not in key]
        or [pl.lit(value=False)]
    )
    updated = both.filter(differs).select(columns)
    gone = joined.filter(pl.col(_IN_NEW).is_null()).select(key)
    kept = _rejected_keys(valid.rejected_keys, key)
    deleted = gone.join(kept, on=key, how="anti") if kept is not None else gone
    return TablePlan(
        table=table,
        key=key,
        columns=columns,
        added=added,
        updated=updated,
        deleted=deleted,
        unchanged=both.height - updated.height,
        rejected=valid.rejected,
        loaded_before=loaded.height,
    )


def hold_reasons(table: TablePlan, thresholds: Thresholds) -> list[str]:
    """Why applying this table needs a person's approval; never on a first load."""
    before = table.loaded_before
    if not before:
        return []
    reasons = []
    for verb, count, limit in (
        ("deleted", table.deleted.height, thresholds.max_delete_pct),
        ("updated", table.updated.height, thresholds.max_update_pct),
    ):
        pct = 100.0 * count / before
        if pct > limit:
            reasons.append(
                f"{table.table}: {count:,} of {before:,} loaded rows ({pct:.1f}%) "
                f"would be {verb}; the limit is {limit:g}%"
            )
    return reasons


_OLD = "__loaded"  # suffix of the loaded values in the joined frame
_IN_NEW, _IN_LOADED = "__in_batch", "__in_loaded"


def _as_text(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """``columns`` as String, absent ones null: the shape both sides of a diff share."""
    return frame.select(
        pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
        for c in columns
    )


def _rejected_keys(frame: pl.DataFrame, key: tuple[str, ...]) -> pl.DataFrame | None:
    if not frame.height or not all(k in frame.columns for k in key):
        return None
    return frame.select(pl.col(k).cast(pl.String) for k in key).drop_nulls().unique()
