"""Plan: diff the batch's valid rows against the district's loaded snapshot.

Contract (stage 4 of pipeline.py):

``plan(validated, spec, current, thresholds, first_load) -> Plan``

For every file in the batch (a full snapshot of its table): added, updated
(any non-key column differs, nulls equal), deleted (loaded keys absent from the
file, except keys whose row was rejected in this batch: yesterday's row stays),
unchanged. Tables whose file is absent are not in the plan. Hold reasons when a
table that had loaded rows would lose more than ``max_delete_pct`` percent of
them or see more than ``max_update_pct`` percent updated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from roster_pipeline.specs import Spec
from roster_pipeline.store.records import TableCounts
from roster_pipeline.validate import Validated

__all__ = ["Plan", "TablePlan", "Thresholds", "plan"]


@dataclass(frozen=True)
class Thresholds:
    max_delete_pct: float = 10.0
    max_update_pct: float = 75.0


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

    @property
    def counts(self) -> TableCounts:
        return TableCounts(
            added=self.added.height,
            updated=self.updated.height,
            deleted=self.deleted.height,
            unchanged=self.unchanged,
            rejected=self.rejected,
        )


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
    raise NotImplementedError
