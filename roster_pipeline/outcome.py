"""Outcome: what the stages concluded about a batch, and the records the store keeps of it.

The stages produce a plan; the store takes its own records (``TableChanges``,
``TableCounts``, ``BatchRecord``). This module builds the latter from the former,
so neither side imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from roster_pipeline.stages.parse import LINE
from roster_pipeline.stages.plan import Plan, TablePlan
from roster_pipeline.stages.validate import Validated
from roster_pipeline.store import BatchRecord, BatchStatus, FileRecord, TableChanges, TableCounts


@dataclass(frozen=True)
class Outcome:
    """What the stages concluded about a batch, before anything is recorded."""

    status: BatchStatus
    files: tuple[FileRecord, ...]
    rejects: pl.DataFrame
    warnings: tuple[str, ...]
    plan: Plan | None
    message: str
    unchanged: Mapping[str, int] = field(default_factory=dict)  # skipped duplicate files
    mode: str = "bulk"  # "delta": some file was applied as changes (the manifest said so)

    def record(
        self,
        batch_id: str,
        district: str,
        received: datetime,
        sources: Sequence[Path],
        notes: Sequence[str],
    ) -> BatchRecord:
        """The batch record of this outcome, finished now."""
        return BatchRecord(
            batch_id=batch_id,
            district=district,
            status=self.status,
            received_at=received,
            finished_at=datetime.now(UTC),
            source=", ".join(p.name for p in sources),
            files=self.files,
            counts=self.counts,
            rejects=self.rejects.height,
            hold_reasons=self.plan.hold_reasons if self.plan else (),
            warnings=(*notes, *self.warnings),
            message=self.message,
            mode=self.mode,
        )

    @property
    def counts(self) -> dict[str, TableCounts]:
        if self.plan is not None:
            same = {name: TableCounts(unchanged=n) for name, n in self.unchanged.items()}
            return same | {name: table_counts(t) for name, t in self.plan.tables.items()}
        return {f.file_spec: TableCounts(rejected=f.rejected) for f in self.files if f.file_spec}


@dataclass(frozen=True)
class BatchResult:
    batch: BatchRecord
    rejects: pl.DataFrame
    plan: Plan | None


def table_counts(table: TablePlan) -> TableCounts:
    """A planned table's counts, as the batch record keeps them."""
    return TableCounts(
        added=table.added.height,
        updated=table.updated.height,
        deleted=table.deleted.height,
        unchanged=table.unchanged,
        rejected=table.rejected,
        left_out=table.left_out,
    )


def table_changes(plan: Plan) -> tuple[TableChanges, ...]:
    """The plan as the store applies it: the store owns that record, the stage does not."""
    return tuple(
        TableChanges(t.table, t.key, t.columns, t.added, t.updated, t.deleted, t.loaded_before)
        for t in plan.tables.values()
    )


def changed_rows(applied: Plan | None) -> int:
    if applied is None:
        return 0
    return sum(
        t.added.height + t.updated.height + t.deleted.height for t in applied.tables.values()
    )


def keyed_rejects(found: pl.DataFrame, validated: Validated) -> pl.DataFrame:
    """The rejects with a ``key`` column: the key of the row each one rejected, as the
    change log writes keys (null for a file's or a malformed row's), so a row's
    history can say a version was rejected and the loaded one stayed."""
    parts = []
    for v in validated.files.values():
        keys = [c for c in v.rejected_keys.columns if c != LINE]
        if LINE in v.rejected_keys.columns and keys:
            parts.append(
                v.rejected_keys.select(
                    file=pl.lit(v.name),
                    line=pl.col(LINE).cast(pl.Int64),
                    key=pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator="|"),
                )
            )
    if not parts:
        return found.with_columns(key=pl.lit(None, pl.String))
    lines = pl.concat(parts).unique(["file", "line"], keep="first")
    return found.join(lines, on=["file", "line"], how="left", maintain_order="left")
