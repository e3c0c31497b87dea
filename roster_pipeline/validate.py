"""Validate: apply the spec's rules to parsed files; failures become rejects.

Contract (stage 3 of pipeline.py):

``validate(parsed, spec, loaded) -> Validated``

Row rules come from the pandera polars schema that ``specs.compile_schema``
builds from a FileSpec (required, pattern/format, spreadsheet numbers like
``9.00001E+08`` in id columns, allowed values, max length). Allowed values
match case-insensitively and are stored canonical (``teacher`` -> ``Teacher``).
Set rules, in the spec's load order:

- key unique: every row sharing a key is rejected (``duplicate_key``);
- references resolve against this batch's valid rows of the referenced file,
  or, when that file is not in the batch, against ``loaded``; a reference to an
  optional file (schools) is checked only when that table is known (sent or
  loaded). Codes: ``reference_missing``, ``reference_rejected`` (the referenced
  row was rejected in this batch), ``reference_mismatch`` (the ``where`` fails,
  e.g. teacher_id names a Student);
- a required spec file neither in the batch nor loaded: ``missing_file``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from roster_pipeline import rejects
from roster_pipeline.parse import ParsedFile
from roster_pipeline.specs import Spec

__all__ = ["Loaded", "ValidFile", "Validated", "validate"]


class Loaded(Protocol):
    """What is already loaded for the district (implemented by the store)."""

    def rows(self, table: str, columns: Sequence[str]) -> pl.DataFrame | None:
        """Loaded values of ``columns`` (String), or None when the table has no rows."""
        ...


@dataclass(frozen=True)
class ValidFile:
    name: str
    file_spec: str
    frame: pl.DataFrame  # valid rows: every spec column (String, null when absent) + LINE
    rejected_keys: pl.DataFrame  # key columns of rejected rows: those loaded rows stay as they are
    rows: int
    rejected: int


@dataclass(frozen=True)
class Validated:
    files: Mapping[str, ValidFile]  # by spec file name
    rejects: pl.DataFrame  # every reject of the batch so far, parse's included

    @property
    def fatal(self) -> bool:
        return rejects.has_fatal(self.rejects)


def validate(parsed: Sequence[ParsedFile], spec: Spec, loaded: Loaded) -> Validated:
    raise NotImplementedError
