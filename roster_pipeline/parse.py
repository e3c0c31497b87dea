"""Parse: read one received CSV as PowerSchool and spreadsheets really write it.

Contract (stage 2 of pipeline.py):

``parse(file, file_spec, encoding="utf-8") -> ParsedFile``

- Encoding enforced (UTF-8, BOM allowed); the first bad byte rejects the file
  (``not_utf8``) naming its physical line. Delimiter detected among , TAB | ;.
  LF, CRLF and CR-only endings. Quoted fields with delimiters, doubled quotes and
  newlines. Blank lines skipped. Values trimmed; empty becomes null.
- Headers normalised by ``normalise_header`` (PowerSchool prefixes ``CC.`` and
  ``[1]``, case, surrounding spaces, spaces for underscores), then matched to the
  spec's column names and aliases. Missing required column: ``missing_column``;
  two headers naming the same column: ``duplicate_column``; no header at all:
  ``empty_file``. Extra columns are dropped and listed in ``warnings``.
- Each row keeps its physical line number (header = line 1; a quoted field over
  several lines counts all of them) in the ``__line__`` column. A row whose field
  count differs from the header's is rejected (``field_count``) and not kept.
- Never raises for anything in the file's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from roster_pipeline.specs import FileSpec
from roster_pipeline.unpack import ReceivedFile

__all__ = ["LINE", "ParsedFile", "normalise_header", "parse"]

LINE = "__line__"


@dataclass(frozen=True)
class ParsedFile:
    name: str
    file_spec: str
    frame: pl.DataFrame  # LINE (Int64) + one String column per spec column in the header
    rejects: pl.DataFrame
    warnings: tuple[str, ...] = ()
    delimiter: str = ","
    rows: int = 0  # data rows seen (blank lines excluded), rejected ones included


def normalise_header(raw: str) -> str:
    raise NotImplementedError


def parse(file: ReceivedFile, file_spec: FileSpec, encoding: str = "utf-8") -> ParsedFile:
    raise NotImplementedError
