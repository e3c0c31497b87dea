"""Tombstones: rows a file marks for deletion (OneRoster ``status`` ``tobedeleted``).

They are split off before any check, like rows left out as not active. What
becomes of them depends on the file's mode (the manifest decides it):

- in a ``bulk`` file they are left out, counted and reported: a bulk file is the
  full list, so a loaded row it no longer lists is deleted anyway;
- in a ``delta`` file they are the deletions: the plan deletes exactly their
  keys, and rows the file does not list stay as they are loaded.
"""

from __future__ import annotations

import polars as pl

from roster_pipeline.contracts.specs import FileSpec


def split(frame: pl.DataFrame, file_spec: FileSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows kept, rows marked for deletion); one pass when the file marks none."""
    rule = file_spec.tombstone
    if rule is None:
        return frame, frame.clear()
    marked = rule.mask()
    return frame.filter(~marked), frame.filter(marked)


def describe(name: str, file_spec: FileSpec, marked: pl.DataFrame) -> str:
    """One line for the report: how many rows were marked and what became of them."""
    rule = file_spec.tombstone
    said = f"{rule.column} is {' or '.join(repr(v) for v in rule.values)}" if rule else ""
    if file_spec.mode == "delta":
        return (
            f"{name} (delta): {marked.height:,} row(s) marked for deletion ({said}):"
            " their loaded rows are deleted"
        )
    return (
        f"{name}: {marked.height:,} row(s) marked for deletion ({said}) left out: a bulk"
        " file lists the rows to keep, so they were not loaded"
    )


def filled_in_bulk(name: str, file_spec: FileSpec, frame: pl.DataFrame) -> str | None:
    """A warning when rows of a bulk file fill columns the binding leaves blank there
    (OneRoster 1.2: status, dateLastModified). Many exporters do; the rows are read."""
    blank = [c for c in file_spec.blank_in_bulk if c in frame.columns]
    if file_spec.mode != "bulk" or not blank:
        return None
    filled = frame.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in blank])).height
    if not filled:
        return None
    return (
        f"{name}: {filled:,} row(s) fill {' or '.join(blank)}, which a bulk file leaves"
        " blank; the rows were read as sent"
    )
