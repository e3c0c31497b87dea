"""Feeds and leave-out rules: how the rows of a received file reach roster tables.

A file spec says what a file must hold (its columns); its feeds say what is
loaded from it. Real exports need more than one file per table and more than
one table per file:

- a ``Feed`` fills one roster table from a file: table columns from file columns,
  some table columns ``fixed`` for every row (``students*.csv`` -> users with role
  Student), rows kept by ``where``. A table column fed by several file columns
  (Clever's ``Teacher_2_id`` .. ``Teacher_10_id``) gives one row per non-empty cell.
- The ``fixed`` values are also the feed's *scope*: the part of the table a full
  file of this kind replaces. A students file deletes loaded students it no longer
  lists, never teachers.
- a ``LeaveOut`` rule names rows the SIS marks as not active (PowerSchool
  ``Enroll_Status`` other than 0, a negative ``CC.SectionID``): they are left out
  before any check, counted and reported, not rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

# polars is imported where rows are handled: the CLI reads specs for `--help`.


@dataclass(frozen=True)
class Feed:
    table: str
    key: tuple[str, ...]  # table columns
    columns: Mapping[str, tuple[str, ...]]  # table column -> the file column(s) filling it
    fixed: Mapping[str, str] = field(default_factory=dict)  # table column -> value
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # file column -> values

    @property
    def targets(self) -> tuple[str, ...]:
        """The table columns this feed fills, key first."""
        rest = [c for c in (*self.columns, *self.fixed) if c not in self.key]
        return (*self.key, *dict.fromkeys(rest))

    @property
    def spread(self) -> tuple[str, tuple[str, ...]] | None:
        """The table column fed by several file columns (one row per filled cell)."""
        return next(((t, s) for t, s in self.columns.items() if len(s) > 1), None)

    def in_scope(self) -> pl.Expr:
        """Rows of the table this feed's full file stands for (all when nothing is fixed)."""
        import polars as pl

        tests = [pl.col(c) == v for c, v in self.fixed.items()]
        return pl.all_horizontal(tests) if tests else pl.lit(value=True)


@dataclass(frozen=True)
class LeaveOut:
    """Rows whose ``column`` is (or, with ``negate``, is not) one of ``values`` or
    matches ``pattern`` are not active: left out, counted under ``reason``."""

    column: str
    reason: str
    values: tuple[str, ...] = ()
    pattern: str | None = None
    negate: bool = False

    def mask(self) -> pl.Expr:
        """True for the rows left out; an empty cell never is (it fails ``required``)."""
        import polars as pl

        value = pl.col(self.column)
        hit = value.is_in(list(self.values)) if self.values else pl.lit(value=False)
        if self.pattern is not None:
            hit = hit | value.str.contains(self.pattern)
        return (~hit if self.negate else hit).fill_null(value=False)

    def describe(self) -> str:
        if self.pattern is not None:
            return f"{self.reason} ({self.column} matching {self.pattern})"
        shown = " or ".join(repr(v) for v in self.values)
        return f"{self.reason} ({self.column} {'other than' if self.negate else 'is'} {shown})"


def left_out_mask(rules: tuple[LeaveOut, ...]) -> pl.Expr | None:
    """True for rows some rule leaves out; None without rules."""
    import polars as pl

    if not rules:
        return None
    return pl.any_horizontal([r.mask() for r in rules])


def feed_rows(feed: Feed, frame: pl.DataFrame, line: str) -> pl.DataFrame:
    """The rows ``feed`` takes from ``frame`` (file columns + ``line``), as table columns
    + ``line``: filtered by ``where``, spread over several columns, fixed values set."""
    import polars as pl

    keep = [
        pl.col(c).str.to_lowercase().is_in([v.lower() for v in values])
        for c, values in feed.where.items()
    ]
    if keep:
        frame = frame.filter(pl.all_horizontal(keep))
    spread = feed.spread
    singles = {t: s[0] for t, s in feed.columns.items() if len(s) == 1}
    if spread is not None:
        target, sources = spread
        index = list(dict.fromkeys([*singles.values(), line]))
        frame = (
            frame.unpivot(on=list(sources), index=index, value_name=target)
            .drop("variable")
            .drop_nulls(target)
        )
        singles[target] = target
    columns = [pl.col(s).alias(t) for t, s in singles.items()]
    fixed = [pl.lit(v, pl.String).alias(c) for c, v in feed.fixed.items()]
    return frame.select(*columns, *fixed, line).select(*feed.targets, line)


def taken_mask(feeds: tuple[Feed, ...]) -> pl.Expr:
    """True for the rows some of ``feeds`` take (their ``where``); False without feeds."""
    import polars as pl

    wheres = [feed.where for feed in feeds]
    if not wheres:
        return pl.lit(value=False)
    takes = [
        pl.all_horizontal(
            [pl.col(c).str.to_lowercase().is_in([v.lower() for v in vs]) for c, vs in w.items()]
            or [pl.lit(value=True)]
        )
        for w in wheres
    ]
    return pl.any_horizontal(takes).fill_null(value=False)
