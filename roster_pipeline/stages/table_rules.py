"""Table rules: what holds across the files that fill one roster table.

Real exports send a table in pieces (PowerSchool's Students and Teachers both
fill users; Clever's sections fill classes and teacher links). These rules work
on whole columns, like ``set_rules``:

- ``table_target``: a reference into a file that has siblings (files filling the
  same table) resolves against the table as tonight's files and the loaded rows
  outside their scope make it, restricted to the referenced file's fixed values
  (a reference into students finds students, whichever file sent them).
- ``shared_keys``: one key sent by two files of a table. A ``defer`` file's row is
  left out (the other file's row stands); otherwise both rows are rejected
  (``duplicate_key``): PowerSchool keeps student and teacher numbers apart, the
  users table has one row per ID.
- ``leave_out``: rows the SIS marks not active, split off before any check.
- ``translate``: a reference through a secondary key loads the referenced row's
  public key (``CC.StudentID`` -> ``Student_Number``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.feeds import Feed
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import ColumnSpec, FileSpec, Spec
from roster_pipeline.stages.parse import LINE
from roster_pipeline.stages.set_rules import Target, reject_rows

#: The loaded rows of a table's columns (String), None when there are none.
LoadedRows = Callable[[str, Sequence[str]], pl.DataFrame | None]

_SOURCE = "__source__"


@dataclass(frozen=True)
class Sent:
    """A file of this batch after its own checks: what other files may rely on."""

    name: str  # as received
    file_spec: FileSpec
    valid: pl.DataFrame  # file columns + LINE
    rejected: pl.DataFrame  # same shape: this batch's rejected rows
    left_out: pl.DataFrame  # same shape: rows the SIS marks not active


def leave_out(frame: pl.DataFrame, file_spec: FileSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(active rows, rows some leave-out rule names); one pass when there are no rules."""
    rules = file_spec.leave_out
    if not rules:
        return frame, frame.clear()
    out = pl.any_horizontal([r.mask() for r in rules])
    return frame.filter(~out), frame.filter(out)


def describe_left_out(name: str, file_spec: FileSpec, out: pl.DataFrame) -> str:
    """One line for the report: how many rows were left out and why."""
    reasons = [
        f"{out.select(r.mask().sum()).item():,} {r.describe()}"
        for r in file_spec.leave_out
        if out.height
    ]
    return f"{name}: {out.height:,} row(s) left out as not active: " + "; ".join(reasons)


def table_target(
    spec: Spec,
    ref_file: FileSpec,
    columns: Sequence[str],
    sent: Mapping[str, Sent],
    loaded: LoadedRows,
) -> Target | None:
    """``columns`` of ``ref_file`` as its table holds them after tonight's files."""
    family = [ref_file, *spec.stand_ins(ref_file)]
    targets = {c: ref_file.column(c).target for c in columns}
    wanted = list(dict.fromkeys([*targets.values(), *ref_file.fixed]))
    valid, rejected, out, labels = [], [], [], []
    for f in family:
        s = sent.get(f.name)
        if s is not None:
            labels.append(s.name)
            own = f.feeds[0]
            valid.append(_shaped(f.rows_for(own, s.valid, LINE), wanted))
            rejected.append(_shaped(f.rows_for(own, s.rejected, LINE), [*wanted, LINE]))
            out.append(_shaped(f.rows_for(own, s.left_out, LINE), [*wanted, LINE]))
    outside = _loaded_outside(
        ref_file.table, wanted, [f.feeds[0] for f in family if f.name in sent]
    )
    rows = outside(loaded)
    if rows is not None:
        valid.append(rows)
        labels.append(f"the loaded {ref_file.table}")
    if not valid:
        return None
    mine = pl.all_horizontal([pl.col(k) == v for k, v in ref_file.fixed.items()] or [True])
    back = [pl.col(t).alias(c) for c, t in targets.items()]
    return Target(
        " and ".join(labels),
        pl.concat(valid).filter(mine).select(back),
        pl.concat(rejected).filter(mine).select(*back, LINE) if rejected else pl.DataFrame(),
        pl.concat(out).filter(mine).select(*back, LINE) if out else pl.DataFrame(),
    )


def _shaped(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    return frame.select(
        pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
        for c in columns
    ).with_columns(pl.col(LINE).cast(pl.Int64) if LINE in columns else [])


def _loaded_outside(
    table: str, wanted: Sequence[str], scopes: Sequence[Feed]
) -> Callable[[LoadedRows], pl.DataFrame | None]:
    """The loaded rows of ``table`` no feed sent tonight stands for (outside their scope)."""
    needed = list(dict.fromkeys([*wanted, *(k for s in scopes for k in s.fixed)]))

    def rows(loaded: LoadedRows) -> pl.DataFrame | None:
        if any(not s.fixed for s in scopes):
            return None  # a file for the whole table was sent
        found = loaded(table, needed)
        if found is None:
            return None
        if scopes:
            found = found.filter(~pl.any_horizontal([s.in_scope() for s in scopes]))
        return found.select(pl.col(c).cast(pl.String) for c in wanted)

    return rows


def follow_left_out(
    frame: pl.DataFrame, column: ColumnSpec, target: Target
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows naming only a row the SIS marks not active are left out with it (an
    enrollment of a student who left), not rejected."""
    ref = column.references
    if ref is None or not target.left_out.height or ref.column not in target.left_out.columns:
        return frame, frame.clear()
    inactive = target.left_out[ref.column].drop_nulls()
    active = target.valid[ref.column].drop_nulls()
    follows = pl.col(column.name).is_in(inactive.implode()) & ~pl.col(column.name).is_in(
        active.implode()
    )
    return frame.filter(~follows), frame.filter(follows)


def follow_note(name: str, column: ColumnSpec, count: int) -> str:
    ref = column.references
    target = ref.file if ref else "another file"
    return (
        f"{name}: {count:,} row(s) left out: their {column.name} names a {target} row"
        " left out as not active"
    )


def translate(frame: pl.DataFrame, column: ColumnSpec, target: Target) -> pl.DataFrame:
    """``column``'s values replaced by the referenced rows' ``loaded_as`` column; values
    that name no row become null (their rows are rejected by the reference check)."""
    ref = column.references
    if ref is None or not column.loaded_as or column.name not in frame.columns:
        return frame
    pairs = (
        target.valid.select(
            pl.col(ref.column).alias("__from__"), pl.col(column.loaded_as).alias("__to__")
        )
        .drop_nulls("__from__")
        .unique("__from__", keep="first")
    )
    mapped = frame.select(column.name).join(
        pairs, left_on=column.name, right_on="__from__", how="left", maintain_order="left"
    )
    return frame.with_columns(mapped["__to__"].alias(column.name))


@dataclass(frozen=True)
class Shared:
    """What ``shared_keys`` decided for one file: rows rejected, rows left out."""

    rejects: pl.DataFrame
    left_out: pl.Series  # lines
    reason: str


def shared_keys(
    spec: Spec, table: str, sent: Mapping[str, Sent], loaded: LoadedRows
) -> dict[str, Shared]:
    """Per file of ``table`` in this batch: its rows whose key another source holds."""
    feeding = [
        (f, feed, sent[f.name])
        for f in spec.feeders(table)
        if f.name in sent
        for feed in f.feeds
        if feed.table == table
    ]
    if not feeding:
        return {}
    key = list(feeding[0][1].key)
    files = list(dict.fromkeys(f.name for f, _, _ in feeding))  # one source per file
    # Each feed sent tonight stands for its part of the loaded table (classes.csv for
    # the primary teacher links it made, class_teachers.csv for the others): only
    # the rest can clash with tonight's rows.
    outside = _loaded_outside(table, key, [feed for _, feed, _ in feeding])(loaded)
    kept = outside is not None and outside.height > 0
    if len(files) + kept < 2:  # one source cannot clash with itself
        return {}  # the usual night: keys were already compared within the file
    parts = [
        _keys([(f, feed, s) for f, feed, s in feeding if f.name == name], files.index(name), key)
        for name in files
    ]
    if outside is not None and kept:
        parts.append(outside.with_columns(pl.lit(None, pl.Int64).alias(LINE), *_tag(-1, False)))
    every = pl.concat(parts)
    shared = every.filter(pl.struct(key).is_duplicated())
    if shared.is_empty():
        return {}
    others = shared.select(
        *key, pl.col(LINE).alias(_O_LINE), pl.col(_SOURCE).alias(_O_SOURCE), pl.col(_DEFER)
    )
    # Each row with the rows of other sources sharing its key that stand (not deferring).
    pairs = shared.drop(_DEFER).join(others.filter(~pl.col(_DEFER)), on=key)
    pairs = pairs.filter(pl.col(_SOURCE) != pl.col(_O_SOURCE)).unique(
        [_SOURCE, LINE], keep="first", maintain_order=True
    )
    sent_files = {f.name: (f, s) for f, _, s in feeding}
    labels = {i: sent_files[name][1].name for i, name in enumerate(files)}
    found = {}
    for i, name in enumerate(files):
        mine = pairs.filter(pl.col(_SOURCE) == i)
        f, s = sent_files[name]
        if mine.height:
            found[s.name] = _decide(mine, f, s.name, key, labels=labels, table=table)
    return found


_DEFER, _O_LINE, _O_SOURCE = "__defer__", "__other_line__", "__other_source__"


def _tag(index: int, defer: bool) -> list[pl.Expr]:
    return [pl.lit(index, pl.Int32).alias(_SOURCE), pl.lit(defer).alias(_DEFER)]


def _keys(
    feeds: Sequence[tuple[FileSpec, Feed, Sent]], index: int, key: Sequence[str]
) -> pl.DataFrame:
    """The keys one file gives the table (through all its feeds), once each."""
    f = feeds[0][0]
    rows = pl.concat(
        [f.rows_for(feed, s.valid, LINE).select(*key, LINE) for _, feed, s in feeds]
    ).drop_nulls(key)
    own = any(feed.table == f.table for _, feed, _ in feeds)
    return rows.unique(key, keep="first", maintain_order=True).with_columns(
        _tag(index, f.defer and own)
    )


def _decide(
    mine: pl.DataFrame,
    f: FileSpec,
    name: str,
    key: Sequence[str],
    *,
    labels: Mapping[int, str],
    table: str,
) -> Shared:
    """A deferring file's shared rows are left out; another file's are rejected."""
    if f.defer:
        lines = mine[LINE].unique()
        reason = (
            f"{name}: {lines.len():,} row(s) not loaded from this file: another file already"
            f" gives the same {', '.join(key)} (that row stands; e.g. a class's primary teacher)"
        )
        return Shared(rejects.empty(), lines, reason)
    other = pl.col(_O_SOURCE).replace_strict(labels, default=None, return_dtype=pl.String)
    where = (
        pl.when(other.is_null())
        .then(pl.lit(f"the loaded {table} (from a file not sent in this batch)"))
        .otherwise(pl.concat_str(other, pl.lit(" line "), pl.col(_O_LINE).cast(pl.String)))
    )
    shown = pl.concat_str([pl.col(k) for k in key], separator=", ")
    column = next((s[0] for t, s in f.feeds[0].columns.items() if t == key[-1]), key[-1])
    found = reject_rows(
        mine.filter(pl.col(LINE).is_not_null()),
        name,
        column=pl.lit(column),
        value=shown,
        code=pl.lit(str(Code.DUPLICATE_KEY)),
        body=pl.concat_str(
            pl.lit(f"{column} '"),
            shown,
            pl.lit("' is also in "),
            where,
            pl.lit(
                f"; {table} holds one row per {', '.join(key)}, so this row was rejected."
                " Give each its own ID in the SIS"
            ),
        ),
    )
    return Shared(found, pl.Series(LINE, [], pl.Int64), "")
