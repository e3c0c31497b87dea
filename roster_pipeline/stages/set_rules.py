"""Set rules: keys unique within a file, references resolved between files.

Both work on whole columns, never loops over rows: a pass over every row finds
the few that fail (sorted key hashes, ``is_in``) and only those are joined to
explain why. A failing row becomes one reject naming the file and physical line,
shaped like the row rules' rejects (``reject_rows`` builds both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import ColumnSpec, Reference
from roster_pipeline.stages.parse import LINE

#: How many line numbers a message lists before it says how many more there are.
_SHOWN_LINES = 10

_KEY = "__target_key__"
_FOUND = "__target_found__"
_LINES = "__target_lines__"
_COUNT = "__target_count__"


@dataclass(frozen=True)
class Target:
    """What a reference resolves against: a file of this batch, or the loaded table."""

    label: str  # how messages name it: "users.csv" or "the loaded users (...)"
    valid: pl.DataFrame  # String columns: at least the referenced and the ``where`` columns
    rejected: pl.DataFrame  # this batch's rejected rows (same columns + LINE); empty when loaded
    left_out: pl.DataFrame = field(default_factory=pl.DataFrame)  # rows the SIS marks inactive
    # The loaded part of a table that loads some rows only (users: teachers and
    # students): a value missing from it proves nothing for a row that is not loaded.
    partial: bool = False


def reject_rows(
    hits: pl.DataFrame,
    file: str,
    *,
    column: pl.Expr,
    value: pl.Expr,
    code: pl.Expr,
    body: pl.Expr,
) -> pl.DataFrame:
    """One reject per row of ``hits`` (which has LINE); the message is "<file> line <n>: <body>"."""
    head = pl.concat_str(pl.lit(f"{file} line "), pl.col(LINE).cast(pl.String), pl.lit(": "))
    return hits.select(
        file=pl.lit(file, pl.String),
        line=pl.col(LINE).cast(pl.Int64),
        column=column.cast(pl.String),
        value=value.cast(pl.String),
        code=code.cast(pl.String),
        message=pl.concat_str(head, body),
    )


def duplicate_keys(
    frame: pl.DataFrame, key: Sequence[str], file: str, skip: pl.Series
) -> pl.DataFrame:
    """Every row whose key another row shares (``duplicate_key``), naming their lines.

    Rows with an empty key part are already ``required`` rejects, and rows in
    ``skip`` have a malformed key (a spreadsheet folds distinct IDs into one
    ``9.00001E+08``): neither is compared.
    """
    shared = _sharing_rows(frame, key, skip)
    if shared.is_empty():
        return rejects.empty()
    copies = shared.group_by(key).agg(*_line_list())
    hits = shared.join(copies, on=list(key))
    named = [pl.concat_str(pl.lit(f"{k} '"), pl.col(k), pl.lit("'")) for k in key]
    return reject_rows(
        hits,
        file,
        column=pl.lit(", ".join(key)),
        value=pl.concat_str(*key, separator=", "),
        code=pl.lit(str(Code.DUPLICATE_KEY)),
        body=pl.concat_str(
            pl.concat_str(*named, separator=" with "), pl.lit(" appears on lines "), _lines()
        ),
    )


def _sharing_rows(frame: pl.DataFrame, key: Sequence[str], skip: pl.Series) -> pl.DataFrame:
    """Key and LINE of the compared rows whose key another compared row shares.

    Comparing 2M keys directly (``is_duplicated``, ``group_by``) hashes them into a
    table of every key: half a gigabyte for enrollments. Sorting their 64-bit hashes
    finds the repeated ones with a tenth of that, and only the rows with a repeated
    hash, usually none, have their keys compared.
    """
    hashes = frame.select(pl.struct(key).hash()).to_series()
    ordered = hashes.sort()
    repeated = ordered.filter(ordered == ordered.shift(1))
    compared = [pl.col(k).is_not_null() for k in key]
    keyed = frame.filter(
        hashes.is_in(repeated.implode()), *compared, ~pl.col(LINE).is_in(skip.implode())
    ).select(*key, LINE)
    return keyed.filter(keyed.select(key).is_duplicated())


def references(
    frame: pl.DataFrame, skip: pl.Series, file: str, column: ColumnSpec, target: Target
) -> pl.DataFrame:
    """Rejects for the values of ``column`` that name no acceptable row of ``target``.

    Empty values and rows in ``skip`` (lines whose cell already failed a row rule)
    are not checked. A value found with a failing ``where`` is a mismatch; one
    found only among this batch's rejected rows is ``reference_rejected``.
    """
    ref = column.references
    if ref is None:
        raise ValueError(f"column {column.name!r} declares no reference")
    name = column.name
    found = _found(target.valid, ref)
    good = found.filter(_where_holds(ref))[_KEY]
    unresolved = frame.filter(
        pl.col(name).is_not_null(),
        ~pl.col(name).is_in(good.implode()),
        ~pl.col(LINE).is_in(skip.implode()),
    ).select(LINE, name)
    if unresolved.is_empty():
        return rejects.empty()
    # Only the few unresolved values are looked up again, to tell why they failed.
    named = found.filter(pl.col(_KEY).is_in(unresolved[name].implode()))
    bad = unresolved.join(
        named.unique(_KEY, keep="first"), left_on=name, right_on=_KEY, how="left"
    ).join(_rejected_lines(target.rejected, ref), left_on=name, right_on=_KEY, how="left")
    code = (
        pl.when(pl.col(_FOUND))
        .then(pl.lit(str(Code.REFERENCE_MISMATCH)))
        .when(pl.col(_LINES).is_not_null())
        .then(pl.lit(str(Code.REFERENCE_REJECTED)))
        .otherwise(pl.lit(str(Code.REFERENCE_MISSING)))
    )
    return reject_rows(
        bad,
        file,
        column=pl.lit(name),
        value=pl.col(name),
        code=code,
        body=_reference_body(name, ref, target.label),
    )


def _found(valid: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """Referenced values with their ``where`` columns (renamed out of the way)."""
    where = [pl.col(c).cast(pl.String).alias(_where_name(i)) for i, c in enumerate(ref.where)]
    return (
        valid.select(pl.col(ref.column).cast(pl.String).alias(_KEY), *where)
        .drop_nulls(_KEY)
        .with_columns(pl.lit(True).alias(_FOUND))
    )


def _where_holds(ref: Reference) -> pl.Expr:
    """Case-insensitive: loaded rows may predate canonical spelling."""
    tests = [
        pl.col(_where_name(i)).str.to_lowercase() == expected.lower()
        for i, expected in enumerate(ref.where.values())
    ]
    return pl.all_horizontal(tests) if tests else pl.lit(True)


def _rejected_lines(rejected: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    if ref.column not in rejected.columns:
        schema: dict[str, pl.DataType] = {
            _KEY: pl.String(),
            _LINES: pl.List(pl.Int64()),
            _COUNT: pl.UInt32(),
        }
        return pl.DataFrame(schema=schema)
    return (
        rejected.select(pl.col(ref.column).cast(pl.String).alias(_KEY), LINE)
        .drop_nulls(_KEY)
        .group_by(_KEY)
        .agg(*_line_list())
    )


def _reference_body(name: str, ref: Reference, label: str) -> pl.Expr:
    named = pl.concat_str(pl.lit(f"{name} '"), pl.col(name), pl.lit("'"))
    shown = [pl.col(_where_name(i)).fill_null("(empty)") for i in range(len(ref.where))]
    actual = pl.concat_str(shown, separator=", ") if shown else pl.lit("")
    many = pl.col(_COUNT) > 1
    rejected = pl.concat_str(
        pl.lit(f" refers to {label} "),
        pl.when(many).then(pl.lit("lines ")).otherwise(pl.lit("line ")),
        _lines(),
        pl.when(many)
        .then(pl.lit(", which were rejected"))
        .otherwise(pl.lit(", which was rejected")),
    )
    expected = ", ".join(ref.where.values())
    return pl.concat_str(
        named,
        pl.when(pl.col(_FOUND))
        .then(pl.concat_str(pl.lit(" is a "), actual, pl.lit(f", not a {expected}")))
        .when(pl.col(_LINES).is_not_null())
        .then(rejected)
        .otherwise(pl.lit(f" matches no {ref.column} in {label}")),
    )


def _line_list() -> tuple[pl.Expr, pl.Expr]:
    """Aggregations: the first ``_SHOWN_LINES`` lines of a group, and how many there are.

    Only the first few are kept: a key shared by a million rows must not copy a
    million-long list into each of them.
    """
    return pl.col(LINE).sort().head(_SHOWN_LINES).alias(_LINES), pl.len().alias(_COUNT)


def _lines() -> pl.Expr:
    """The line list as text, "... and N more" past ``_SHOWN_LINES`` numbers."""
    count = pl.col(_COUNT)
    shown = pl.col(_LINES).list.eval(pl.element().cast(pl.String))
    more = pl.concat_str(pl.lit(" and "), (count - _SHOWN_LINES).cast(pl.String), pl.lit(" more"))
    return pl.concat_str(
        shown.list.join(", "),
        pl.when(count > _SHOWN_LINES).then(more).otherwise(pl.lit("")),
    )


def _where_name(index: int) -> str:
    return f"__where_{index}__"


def disagreements(  # noqa: PLR0917 - one reference check, all its parts needed
    frame: pl.DataFrame,
    skip: pl.Series,
    file: str,
    column: ColumnSpec,
    target: Target,
    checked: pl.Expr,
) -> pl.DataFrame:
    """``reference_mismatch`` for the ``checked`` rows whose referenced row disagrees on
    a ``same`` column (a teacher's user row enrolled with role student). Values naming
    no row are left to ``references``."""
    ref = column.references
    if ref is None or not ref.same:
        return rejects.empty()
    name = column.name
    theirs = [pl.col(t).cast(pl.String).str.to_lowercase().alias(f"__same_{i}__")
              for i, t in enumerate(ref.same)]  # fmt: skip
    found = (
        target.valid.select(pl.col(ref.column).cast(pl.String).alias(_KEY), *theirs)
        .drop_nulls(_KEY)
        .unique(_KEY, keep="first")
    )
    rows = frame.filter(checked, pl.col(name).is_not_null(), ~pl.col(LINE).is_in(skip.implode()))
    joined = rows.join(found, left_on=name, right_on=_KEY, how="inner")
    differs = [
        pl.col(f"__same_{i}__").ne_missing(pl.col(mine).str.to_lowercase())
        for i, mine in enumerate(ref.same.values())
    ]
    bad = joined.filter(pl.any_horizontal(differs))
    if bad.is_empty():
        return rejects.empty()
    return reject_rows(
        bad,
        file,
        column=pl.lit(name),
        value=pl.col(name),
        code=pl.lit(str(Code.REFERENCE_MISMATCH)),
        body=_disagreement(name, ref, target.label),
    )


def _disagreement(name: str, ref: Reference, label: str) -> pl.Expr:
    """ "userSourcedId 'u1' has role 'teacher' in users.csv, but this row has role 'student'"."""
    theirs_text = pl.concat_str(
        [
            pl.when(pl.col(f"__same_{i}__").is_null())
            .then(pl.lit(f"no {k}"))
            .otherwise(pl.concat_str(pl.lit(f"{k} '"), pl.col(f"__same_{i}__"), pl.lit("'")))
            for i, k in enumerate(ref.same)
        ],
        separator=", ",
    )
    mine_text = pl.concat_str(
        [pl.concat_str(pl.lit(f"{m} '"), pl.col(m), pl.lit("'")) for m in ref.same.values()],
        separator=", ",
    )
    advice = "; enroll the person in the role their user row gives, or correct that row"
    head = [pl.lit(f"{name} '"), pl.col(name), pl.lit("' has "), theirs_text]
    return pl.concat_str(
        *head, pl.lit(f" in {label}, but this row has "), mine_text, pl.lit(advice)
    )
