"""Where a reject is, as the district reads it: the file and line it sent, or, for a
roster we pulled from its SIS, the query, the record's position and its key.

A pulled batch's files are written by us, one per query, one record per line in
the order PowerSchool sent them (``sources.powerschool``), so line N of
``students.csv`` is record N-1 of the query ``<prefix>students``. A district
never saw those files; it knows its queries and its keys. Every place that
shows a reject (text, HTML, CSV and JSON reports, the console and its API)
takes the location from here; ``sources.is_pulled`` alone decides which kind a
batch is, from its source name.
"""

from __future__ import annotations

import polars as pl

from roster_pipeline.sources import QUERIES, is_pulled
from roster_pipeline.store import BatchRecord

#: A reject's columns in the reports, by the kind of batch.
UPLOADED = ("file", "line", "column", "value", "code", "message")
PULLED = ("query", "record", "key", "column", "value", "code", "message")

_FILES = {f"{q.file}.csv": q.name for q in QUERIES}


def pulled(batch: BatchRecord) -> bool:
    return is_pulled(batch.source)


def columns(is_pull: bool) -> tuple[str, ...]:
    """The columns a reject is shown with: file and line, or query, record and key."""
    return PULLED if is_pull else UPLOADED


def query_of(file: str | None) -> str | None:
    """The query a pulled file holds the records of (None: not one of the queries')."""
    return _FILES.get(file or "")


def record_of(line: int | None) -> int | None:
    """The record's position in its query: the header is line 1."""
    return line - 1 if line is not None and line > 1 else None


def where(file: str | None, line: int | None, key: str | None, is_pull: bool) -> str:
    """The one text of a reject's location: ``students.csv line 18`` or
    ``query org.rosterpipeline.roster.students, record 17, key 12345``."""
    query = query_of(file) if is_pull else None
    if query is None:
        return (file or "the batch") + (f" line {line}" if line else "")
    record = record_of(line)
    said = [f"query {query}"]
    said += [f"record {record}"] if record is not None else []
    said += [f"key {key}"] if key else []
    return ", ".join(said)


def message(text: str, file: str | None, line: int | None, is_pull: bool) -> str:
    """A reject's message without the file and line it starts with, when the location
    says query, record and key instead (a district never saw our files)."""
    if not is_pull or query_of(file) is None:
        return text
    return text.removeprefix(f"{file} line {line}: ")


def locate(rejects: pl.DataFrame, is_pull: bool) -> pl.DataFrame:
    """The rejects with ``query``, ``record`` (null unless pulled) and ``key`` columns
    and their messages, as ``where`` and ``message`` say them; vectorised, a million
    rejects take milliseconds."""
    key = pl.col("key") if "key" in rejects.columns else pl.lit(None)
    file = pl.col("file").cast(pl.String)
    query = file.replace_strict(_FILES, default=None, return_dtype=pl.String)
    line = pl.col("line").cast(pl.Int64)
    if not is_pull:
        query = pl.lit(None, pl.String)
    record = pl.when(query.is_not_null() & (line > 1)).then(line - 1)
    said = pl.col("message").cast(pl.String)
    prefix = file + " line " + line.cast(pl.String) + ": "
    said = pl.when(query.is_not_null()).then(said.str.strip_prefix(prefix)).otherwise(said)
    return rejects.with_columns(
        query=query, record=record.cast(pl.Int64), key=key.cast(pl.String), message=said
    )
