"""Compile a FileSpec's row rules into a pandera polars schema.

The spec dataclasses (``specs.py``) say what a column must hold; this module
says it in pandera's terms, so the validator can run every row rule of a file
in one vectorised pass and map each failure back to a reject ``Code``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pandera.polars as pa
import polars as pl

from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import ColumnSpec, FileSpec

#: How a spreadsheet writes a number it has taken an ID for: ``9.00001E+08``, or
#: ``805703.0`` (leading zeros gone, a decimal point added).
SPREADSHEET_NUMBER = r"^(?:[0-9]+(\.[0-9]+)?[Ee]\+[0-9]+|[0-9]+\.0+)$"

#: Formats that hold IDs (the roster's own, OneRoster's sourcedIds and their lists).
_ID_FORMATS = ("id", "ref", "ref_list")


def compile_schema(file_spec: FileSpec) -> pa.DataFrameSchema:
    """The row rules of ``file_spec`` as a pandera polars schema over text columns.

    Every column stays String: polars 2 no longer casts text to dates and pandera's
    coercion relies on that, so values are validated as strings. Each check's
    ``name`` is the reject ``Code`` it stands for and a non-nullable column is a
    required one, so a failure maps to a code without reading pandera's English.
    Checks ignore nulls; an empty required value fails only as ``not_nullable``.
    """
    columns = {c.name: _column_schema(c) for c in file_spec.columns}
    return pa.DataFrameSchema(columns, name=file_spec.name, strict=False)


def _column_schema(column: ColumnSpec) -> pa.Column:
    return pa.Column(pl.String, nullable=not column.required, checks=_checks(column))


def _checks(column: ColumnSpec) -> list[pa.Check]:
    checks: list[pa.Check] = []
    regex = column.regex
    if column.format in _ID_FORMATS:
        # An ID list ("as-1,as-2") is checked item by item: one mangled ID is enough.
        items = column.separator or ("," if column.format == "ref_list" else "")
        mangled = replace(column, separator=items)
        checks.append(
            _check(
                Code.SPREADSHEET_NUMBER,
                _each(mangled, lambda v: ~v.str.contains(SPREADSHEET_NUMBER)),
                "an ID, not a number rewritten by a spreadsheet",
            )
        )
    if regex:
        checks.append(
            _check(Code.PATTERN, _each(column, _matches(column, regex)), f"matches {regex}")
        )
    if column.values:
        allowed = [v.lower() for v in column.values]
        checks.append(
            _check(
                Code.NOT_ALLOWED,
                _each(column, lambda v: v.str.to_lowercase().is_in(allowed)),
                f"one of {', '.join(column.values)} (any case)",
            )
        )
    if column.max_length is not None:
        longest = column.max_length
        checks.append(
            _check(
                Code.TOO_LONG,
                lambda v: v.str.len_chars() <= longest,
                f"at most {longest} characters",
            )
        )
    return checks


def _each(column: ColumnSpec, passes: Callable[[pl.Expr], pl.Expr]) -> Callable[[pl.Expr], pl.Expr]:
    """``passes`` for every item of a multi-valued cell ("09,10"), or for the cell."""
    if not column.separator:
        return passes
    separator = column.separator
    return lambda v: (
        v.str.split(separator).list.eval(passes(pl.element().str.strip_chars())).list.all()
    )


def _matches(column: ColumnSpec, regex: str) -> Callable[[pl.Expr], pl.Expr]:
    """The pattern check: ``regex`` matches, or in an ID column the value is a
    spreadsheet number (reported once, as such, not also as a bad pattern).

    A format's own pattern and the spreadsheet one are joined into one regex: one
    pass over the column instead of two. An explicit pattern is kept apart, as its
    inline flags or comments could reach past a group around it.
    """
    if column.format != "id":
        return lambda v: v.str.contains(regex)
    if column.pattern is None:
        either = f"(?:{regex})|(?:{SPREADSHEET_NUMBER})"
        return lambda v: v.str.contains(either)
    return lambda v: v.str.contains(regex) | v.str.contains(SPREADSHEET_NUMBER)


def _check(code: Code, passes: Callable[[pl.Expr], pl.Expr], rule: str) -> pa.Check:
    """A vectorised check named by its reject code; ``passes`` maps a column to booleans."""

    def run(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(passes(pl.col(data.key)))

    return pa.Check(run, name=str(code), error=rule)
