"""Parse: read one received CSV as PowerSchool and spreadsheets really write it.

Contract (stage 2 of pipeline.py):

``parse(file, file_spec, encoding="utf-8") -> ParsedFile``

- Encoding enforced (UTF-8, BOM allowed; or the district's opted-in ``encoding``,
  unless a UTF-8 BOM says otherwise); the first bad byte rejects the file
  (``not_utf8``) naming its physical line. Delimiter detected among , TAB | ;.
  LF, CRLF and CR-only endings. Quoted fields with delimiters, doubled quotes and
  newlines. Blank lines skipped. Values trimmed; empty becomes null.
- Headers normalised by ``normalise_header`` (PowerSchool prefixes ``CC.`` and
  ``[1]``, case, surrounding spaces, spaces for underscores), then matched to the
  spec's column names and aliases. Missing required column: ``missing_column``;
  two headers naming the same column: ``duplicate_column``; no header at all:
  ``empty_file``. Extra columns are dropped and listed in ``warnings``.
- ``positional``: the column names of a file sent without a header row (a
  district's dialect); then the first record is data and line 1.
- Each row keeps its physical line number (header = line 1; a quoted field over
  several lines counts all of them) in the ``__line__`` column. A row whose field
  count differs from the header's is rejected (``field_count``) and not kept.
- Never raises for anything in the file's bytes.

Blank lines are those holding only whitespace or delimiters (spreadsheets save
emptied rows as ``,,,``). The record boundaries come from ``csvscan``; polars
reads the clean remainder. If polars disagrees with the scanner (it fails, or
returns another row count), the file is re-read with the stdlib ``csv`` module
rather than risk numbering rows wrongly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.headers import HeaderNames
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import FileSpec
from roster_pipeline.stages.csvscan import (
    WIDE_SPACES,
    Ints,
    Records,
    detect_delimiter,
    line_of_offset,
    normalise_newlines,
    scan,
)
from roster_pipeline.stages.headers import Layout, map_columns
from roster_pipeline.stages.unpack import ReceivedFile

LINE = "__line__"

_REJECTED = f"{rejects.BATCH_REJECTED}."
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_COUNTS = {"line": pl.Int64(), "found": pl.Int64()}
_BLANK = " \t\n\x0b\x0c" + WIDE_SPACES  # what csvscan counts as whitespace
_CHUNK = 1 << 20  # bytes of text decoded at a time when checking UTF-8


@dataclass(frozen=True)
class ParsedFile:
    name: str
    file_spec: str
    frame: pl.DataFrame  # LINE (Int64) + one String column per spec column in the header
    rejects: pl.DataFrame
    warnings: tuple[str, ...] = ()
    delimiter: str = ","
    rows: int = 0  # data rows seen (blank lines excluded), rejected ones included


@dataclass(frozen=True)
class _Rows:
    """Data rows as read: raw text columns named by spec column, plus their lines."""

    frame: pl.DataFrame
    rejects: pl.DataFrame
    seen: int
    spaced: bool = True  # False: no value holds whitespace, so trimming is a no-op


def parse(
    file: ReceivedFile,
    file_spec: FileSpec,
    encoding: str = "utf-8",
    positional: Sequence[str] = (),
) -> ParsedFile:
    """Read ``file``; ``positional`` names the columns of a file sent without a header.

    With ``positional``, a first record that reads as a header anyway (each of
    its fields names a column) is taken as the header: a district that starts
    sending titles keeps working.
    """
    name = file.name
    data, problem = _utf8_lines(file.path.read_bytes(), name, encoding)
    if problem is not None:
        return _failed(name, file_spec, problem)
    data, padding = _without_nul(data, name)
    records = scan(data)
    head = records.first_with_content()
    if head is None:
        msg = f"{name}: the file is empty (no header row). {_REJECTED}"
        return _failed(name, file_spec, rejects.one(name, Code.EMPTY_FILE, msg))
    delimiter = detect_delimiter(records.text(head))
    header = _split_one(records.text(head), delimiter)
    layout = map_columns(name, header, file_spec, int(records.first_lines[head]))
    if positional and not _reads_as_header(header, file_spec):
        head -= 1  # the first record is data; records before it are blank
        positions = map_columns(name, list(positional), file_spec, 1)
        layout = replace(positions, warnings=(), headerless=True)
    if rejects.has_fatal(layout.rejects):
        return _failed(name, file_spec, layout.rejects, layout.warnings, delimiter)
    rows = _read_fast(name, records, head, delimiter, layout)
    if rows is None:
        rows = _read_exact(name, records, head, delimiter, layout)
    del records, data  # the buffer and the scanner's arrays: freed before tidying copies columns
    return ParsedFile(
        name=name,
        file_spec=file_spec.name,
        frame=_tidy(rows.frame, layout, rows.spaced),
        rejects=rows.rejects,
        warnings=(*padding, *layout.warnings),
        delimiter=delimiter,
        rows=rows.seen,
    )


def _without_nul(data: bytes, name: str) -> tuple[bytes, tuple[str, ...]]:
    """NUL bytes removed: some exports pad fixed-width fields with them. A NUL is never
    part of a value, so a cell of NULs is empty (and fails ``required``), and no NUL
    reaches a report."""
    if b"\x00" not in data:
        return data, ()
    found = data.count(b"\x00")
    note = f"{name}: {found:,} NUL byte(s) removed (padding, never part of a value)"
    return data.replace(b"\x00", b""), (note,)


def _reads_as_header(fields: Sequence[str], file_spec: FileSpec) -> bool:
    names = HeaderNames(file_spec)
    return all(names.column(f) is not None for f in fields)


def _utf8_lines(raw: bytes, name: str, encoding: str) -> tuple[bytes, pl.DataFrame | None]:
    """The bytes as UTF-8 with LF endings, or the reject saying why they cannot be."""
    how = "export the file as UTF-8 (in PowerSchool: Character Set UTF-8)"
    if raw.startswith(_UTF16_BOMS) or _looks_utf16(raw[:256]):
        msg = f"{name}: the file is UTF-16, not UTF-8; {how}. {_REJECTED}"
        return b"", rejects.one(name, Code.NOT_UTF8, msg, line=1)
    if raw.startswith(_UTF8_BOM):  # a UTF-8 byte-order mark settles it, whatever was agreed
        raw, encoding = raw.removeprefix(_UTF8_BOM), "utf-8"
    try:
        utf8 = _check_utf8(raw) if _is_utf8(encoding) else raw.decode(encoding).encode("utf-8")
    except UnicodeDecodeError as exc:
        line = line_of_offset(raw, exc.start)
        byte = raw[exc.start]
        label = "UTF-8" if _is_utf8(encoding) else f"{encoding} (this district's setting)"
        msg = f"{name} line {line}: byte 0x{byte:02X} is not valid {label}; {how}. {_REJECTED}"
        return b"", rejects.one(name, Code.NOT_UTF8, msg, line=line, value=f"0x{byte:02X}")
    except LookupError:
        msg = f"{name}: unknown character set {encoding!r}; {how}. {_REJECTED}"
        return b"", rejects.one(name, Code.NOT_UTF8, msg)
    return normalise_newlines(utf8), None


def _check_utf8(raw: bytes) -> bytes:
    """``raw``, once it is known to decode as UTF-8; raises as ``raw.decode()`` would.

    The text is decoded a chunk at a time and dropped: only validity matters. Each
    chunk ends just after a newline, where a decoder of the whole buffer stands
    between characters too, so the first bad byte found is the same.
    """
    if raw.isascii():
        return raw
    view, start = memoryview(raw), 0
    while start < len(raw):
        stop = raw.find(b"\n", start + _CHUNK) + 1 or len(raw)
        try:
            str(view[start:stop], "utf-8")
        except UnicodeDecodeError as exc:
            where = (start + exc.start, start + exc.end)
            raise UnicodeDecodeError("utf-8", raw, *where, exc.reason) from None
        start = stop
    return raw


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: ASCII text where every other byte is NUL."""
    return len(head) >= 8 and head.count(0) * 3 >= len(head)


def _is_utf8(encoding: str) -> bool:
    return encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig")


def _split_one(text: str, delimiter: str) -> list[str]:
    """The fields of one record (the header), quotes resolved."""
    lines = io.StringIO(text, newline="")
    return next(csv.reader(lines, delimiter=delimiter, skipinitialspace=True), [])


def _failed(
    name: str,
    file_spec: FileSpec,
    problems: pl.DataFrame,
    warnings: tuple[str, ...] = (),
    delimiter: str = ",",
) -> ParsedFile:
    frame = pl.DataFrame(schema={LINE: pl.Int64()})
    return ParsedFile(name, file_spec.name, frame, problems, warnings, delimiter)


def _field_count_rejects(
    name: str, records: Records, bad: Ints, found: Ints, layout: Layout
) -> pl.DataFrame:
    """One ``field_count`` reject per ragged record, built without a Python loop."""
    if not len(bad):
        return rejects.empty()
    frame = pl.DataFrame({"line": records.first_lines[bad], "found": found})
    return _field_count_frame(name, frame, records.excerpts(bad), layout)


def _field_count_frame(
    name: str, frame: pl.DataFrame, values: pl.Series, layout: Layout
) -> pl.DataFrame:
    """Reject rows from ``line`` and ``found`` columns (and the raw values)."""
    width = len(layout.header)
    rest = "the row was rejected, the other rows load."
    message = pl.format(
        f"{name} line {{}}: expected {width} fields as in the header, found {{}}; {rest}",
        "line",
        "found",
    )
    if layout.headerless:  # the width is the district's column list: say so, and how to fix it
        longer = pl.format(
            f"{name} line {{}}: the row has {{}} fields but this district's column list for"
            f" this headerless file names only {width}: the list is short. List every column"
            " of the file in order, '-' for one not read (roster district set --headerless"
            f" FILE=COLUMN,...); {rest}",
            "line",
            "found",
        )
        message = (
            pl.when(pl.col("found") > width)
            .then(longer)
            .otherwise(
                pl.format(
                    f"{name} line {{}}: expected {width} fields as in this district's column list"
                    f" for this headerless file, found {{}}; {rest}",
                    "line",
                    "found",
                )
            )
        )
    return frame.select(
        file=pl.lit(name),
        line=pl.col("line").cast(pl.Int64),
        column=pl.lit(None, dtype=pl.String),
        value=values,
        code=pl.lit(str(Code.FIELD_COUNT)),
        message=message,
    )


def _read_fast(
    name: str, records: Records, head: int, delimiter: str, layout: Layout
) -> _Rows | None:
    """Scanner boundaries + one polars read; None when polars disagrees with the scanner."""
    kept = records.has_content(delimiter)
    kept[: head + 1] = False  # the header and the blank records before it
    counts = records.field_counts(delimiter)
    width = len(layout.header)
    ragged = kept & (counts != width)
    if ragged.any() and (records.last_lines[ragged] > records.first_lines[ragged]).any():
        return None  # a stray quote probably joined lines; the csv module reads it literally
    good = kept & ~ragged
    bad = np.flatnonzero(ragged)
    problems = _field_count_rejects(name, records, bad, counts[bad], layout)
    lines = pl.DataFrame({LINE: records.first_lines[good]})
    if layout.columns:  # polars cannot read zero columns; there is nothing to read then
        frame = _polars_read(records.select(good), delimiter, layout, lines.height)
        if frame is None:
            return None
        lines = lines.hstack(frame)
    return _Rows(lines, problems, int(kept.sum()), records.has_spaces())


def _polars_read(
    buffer: bytes, delimiter: str, layout: Layout, expected: int
) -> pl.DataFrame | None:
    if expected == 0:
        return pl.DataFrame(schema=dict.fromkeys(layout.columns.values(), pl.String()))
    positional = [f"_{i}" for i in range(len(layout.header))]
    try:
        frame = pl.read_csv(
            buffer,
            has_header=False,
            new_columns=positional,
            columns=sorted(layout.columns),
            separator=delimiter,
            quote_char='"',
            infer_schema=False,
            eol_char="\n",
            raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, OSError):
        # OSError: polars sniffs compression from the first bytes, and a buffer that
        # starts like a zlib stream ("x^,...") fails to inflate; the literal path reads it.
        return None
    if frame.height != expected:
        return None
    return frame.rename({f"_{i}": c for i, c in layout.columns.items()})


def _read_exact(name: str, records: Records, head: int, delimiter: str, layout: Layout) -> _Rows:
    """The slow, literal path: the stdlib csv module, one record at a time."""
    width, wanted = len(layout.header), sorted(layout.columns)
    values: list[list[str]] = [[] for _ in wanted]
    lines: list[int] = []
    bad: dict[str, list[object]] = {"line": [], "found": [], "value": []}
    for line, fields in _literal_records(records, head, delimiter):
        if len(fields) != width:
            bad["line"].append(line)
            bad["found"].append(len(fields))
            bad["value"].append(delimiter.join(fields)[:200])
            continue
        lines.append(line)
        for column, index in zip(values, wanted, strict=True):
            column.append(fields[index])
    texts = {layout.columns[i]: v for i, v in zip(wanted, values, strict=True)}
    schema = {LINE: pl.Int64(), **dict.fromkeys(texts, pl.String())}
    frame = pl.DataFrame({LINE: lines, **texts}, schema=schema)
    found = pl.DataFrame({"line": bad["line"], "found": bad["found"]}, schema=_COUNTS)
    excerpts = pl.Series("value", bad["value"], dtype=pl.String)
    problems = _field_count_frame(name, found, excerpts, layout)
    return _Rows(frame, problems, len(lines) + len(bad["line"]))


def _literal_records(
    records: Records, head: int, delimiter: str
) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of each non-blank record after the header."""
    start = records.offset_after(head) if head >= 0 else 0
    text = records.buf[start:].decode("utf-8")
    # One quoted field may be the whole rest of the file; the default limit is 128 KiB.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True, strict=False
    )
    base, before = (int(records.last_lines[head]) if head >= 0 else 0), 0
    for fields in reader:
        line, before = base + before + 1, reader.line_num
        if any(f.strip(_BLANK) for f in fields):
            yield line, fields


def _tidy(frame: pl.DataFrame, layout: Layout, spaced: bool) -> pl.DataFrame:
    """LINE first, spec order, values trimmed, empty strings null.

    Each step only runs where it changes something: columns are copied when trimmed
    or nulled, and a large file's columns are large.
    """
    names = layout.ordered
    if spaced:
        frame = frame.with_columns(pl.col(c).str.strip_chars() for c in names)
    empty = {c for c in names if (frame[c] == "").any()}
    return frame.select(
        pl.col(LINE).cast(pl.Int64),
        *[pl.when(pl.col(c) != "").then(pl.col(c)) if c in empty else pl.col(c) for c in names],
    )
