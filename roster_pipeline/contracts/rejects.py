"""Rejects: problems found in what a district sent, kept as data.

Every problem is one row of a polars frame with the columns of ``SCHEMA``:
file, line (physical, 1-based; the header is line 1; null for file- or
batch-level problems), column, value, code, message. Codes are stable: reports,
tests and the onboarding guide name them. A *fatal* code rejects the whole
batch (nothing is applied); any other code rejects only its row.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import polars as pl

#: What every batch-level reject tells the district (messages add their own stop).
BATCH_REJECTED = "The batch was rejected; the data loaded before stays loaded"


class Code(StrEnum):
    # Batch- and file-level: the batch is rejected; yesterday's data stays loaded.
    BAD_ZIP = "bad_zip"
    UNSAFE_ZIP = "unsafe_zip"
    ZIP_LIMIT = "zip_limit"
    MISSING_FILE = "missing_file"
    AMBIGUOUS_FILE = "ambiguous_file"
    EMPTY_FILE = "empty_file"
    NOT_UTF8 = "not_utf8"
    MISSING_COLUMN = "missing_column"
    DUPLICATE_COLUMN = "duplicate_column"
    INTERNAL = "internal_error"  # a bug of ours; the batch is kept for reprocessing
    WRONG_CONTRACT = "wrong_contract"  # another format or version than the district's
    BAD_MANIFEST = "bad_manifest"  # a manifest that cannot be read
    # Row-level: the row is rejected; the others load.
    FIELD_COUNT = "field_count"
    REQUIRED = "required"
    PATTERN = "pattern"
    SPREADSHEET_NUMBER = "spreadsheet_number"
    NOT_ALLOWED = "not_allowed"
    TOO_LONG = "too_long"
    DUPLICATE_KEY = "duplicate_key"
    REFERENCE_MISSING = "reference_missing"
    REFERENCE_REJECTED = "reference_rejected"
    REFERENCE_MISMATCH = "reference_mismatch"

    @property
    def fatal(self) -> bool:
        return self in _FATAL


_FATAL = frozenset(
    {
        Code.BAD_ZIP,
        Code.UNSAFE_ZIP,
        Code.ZIP_LIMIT,
        Code.MISSING_FILE,
        Code.AMBIGUOUS_FILE,
        Code.EMPTY_FILE,
        Code.NOT_UTF8,
        Code.MISSING_COLUMN,
        Code.DUPLICATE_COLUMN,
        Code.INTERNAL,
        Code.WRONG_CONTRACT,
        Code.BAD_MANIFEST,
    }
)

SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "column": pl.String(),
    "value": pl.String(),
    "code": pl.String(),
    "message": pl.String(),
}


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def one(
    file: str,
    code: Code,
    message: str,
    *,
    line: int | None = None,
    column: str | None = None,
    value: str | None = None,
) -> pl.DataFrame:
    """A single reject as a frame (for file- and batch-level problems)."""
    row = {"file": file, "line": line, "column": column, "value": value}
    return pl.DataFrame([{**row, "code": str(code), "message": message}], schema=SCHEMA)


def concat(frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """Stack reject frames, ordered by file then line."""
    parts = [f.select(list(SCHEMA)).cast(SCHEMA) for f in frames if f.height]  # type: ignore[arg-type]
    if not parts:
        return empty()
    return pl.concat(parts).sort(["file", "line"], nulls_last=False, maintain_order=True)


def has_fatal(rejects: pl.DataFrame) -> bool:
    fatal = [str(c) for c in _FATAL]
    return bool(rejects.height) and rejects["code"].is_in(fatal).any()
