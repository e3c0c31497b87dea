"""Leniency: rules on columns a contract does not load warn instead of rejecting.

A OneRoster user row with ``dateLastModified`` ``2023-05-01`` breaks the binding,
but nothing of that column is stored: rejecting the row (and every enrollment
naming it) would lose a pupil over a field nobody reads. Unless the district is
set to ``strict_columns``, a failed rule on such a column is a warning naming
the file, line and column, and the row loads.

A column counts as loaded (and stays strict) when it reaches a table, is part of
the file's key, decides which rows load (``load_where``, a feed's ``where``, a
leave-out rule), is a reference, is what a column is picked from (``first_of``)
or a lookup matches (``match``), or is what another file's reference or lookup
reads.
"""

from __future__ import annotations

import polars as pl

from roster_pipeline.contracts.specs import FileSpec, Spec

_SHOWN = 5  # warnings quote this many of a file's lenient failures


def lenient_columns(spec: Spec, file_spec: FileSpec) -> frozenset[str]:
    """The columns of ``file_spec`` whose failed rules only warn."""
    strict = set(file_spec.key) | {c.name for c in file_spec.loaded_columns}
    for feed in file_spec.feeds:
        strict |= set(feed.where) | {s for sources in feed.columns.values() for s in sources}
    strict |= {c.name for c in file_spec.columns if c.references is not None or c.unique}
    strict |= {rule.column for rule in file_spec.leave_out}
    strict |= {c.first_of for c in file_spec.columns if c.first_of}
    strict |= set(file_spec.lookup.match.values()) if file_spec.lookup else set()
    for f in spec.files:
        lk = f.lookup
        if lk is not None and lk.file == file_spec.name:
            strict |= {lk.on, *lk.columns.values(), *lk.prefer}
        for c in f.columns:
            ref = c.references
            if ref is not None and ref.file == file_spec.name:
                strict |= {ref.column, *ref.where, *ref.same}
    return frozenset(set(file_spec.column_names) - strict)


def soften(
    row: pl.DataFrame, lenient: frozenset[str], name: str
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """(the row rejects that stand, a warning for those on lenient columns)."""
    if not lenient or not row.height:
        return row, ()
    soft = pl.col("column").is_in(list(lenient))
    warned = row.filter(soft)
    if not warned.height:
        return row, ()
    quoted = "; ".join(warned.head(_SHOWN)["message"].to_list())
    more = f" (and {warned.height - _SHOWN:,} more)" if warned.height > _SHOWN else ""
    note = (
        f"{name}: {warned.height:,} value(s) in columns this contract does not load break"
        f" its rules; their rows were loaded (the district setting strict_columns rejects"
        f" them): {quoted}{more}"
    )
    return row.filter(~soft), (note,)
