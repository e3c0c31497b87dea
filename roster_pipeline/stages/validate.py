"""Validate: apply the spec's rules to parsed files; failures become rejects.

Contract (stage 3 of pipeline.py):

``validate(parsed, spec, loaded) -> Validated``

Row rules come from the pandera polars schema that ``schemas.compile_schema``
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

A file whose parse rejects are fatal contributes no rows and is left out of
``Validated.files`` (the batch is rejected anyway); references into it are not
checked, so its referrers are not buried under consequential rejects. ``Loaded``
returning None or an empty frame both mean "nothing loaded".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.schemas import compile_schema
from roster_pipeline.contracts.specs import FORMATS, ColumnSpec, FileSpec, Reference, Spec
from roster_pipeline.stages.parse import LINE, ParsedFile
from roster_pipeline.stages.set_rules import Target, duplicate_keys, references, reject_rows


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
    """Row rules then set rules for every file of the batch, in the spec's load order."""
    sent = _by_spec_file(parsed)
    batch = _Batch(spec, sent, _Memo(loaded))
    found: list[pl.DataFrame] = [p.rejects for p in parsed]
    files: dict[str, ValidFile] = {}
    for file_spec in spec.load_order():
        received = sent.get(file_spec.name)
        if received is None:
            found.append(batch.missing_file(file_spec))
        elif not rejects.has_fatal(received.rejects):
            checked = batch.check(received, file_spec)
            files[file_spec.name] = checked.valid_file
            found.append(checked.rejects)
    return Validated(files=files, rejects=rejects.concat(found))


def _by_spec_file(parsed: Sequence[ParsedFile]) -> dict[str, ParsedFile]:
    """The first file per spec file: unpack already rejects a second one (ambiguous_file)."""
    sent: dict[str, ParsedFile] = {}
    for p in parsed:
        sent.setdefault(p.file_spec, p)
    return sent


class _Memo:
    """Asks the store once per table and columns; an empty answer counts as nothing loaded."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.answers: dict[tuple[str, tuple[str, ...]], pl.DataFrame | None] = {}

    def rows(self, table: str, columns: Sequence[str]) -> pl.DataFrame | None:
        key = (table, tuple(columns))
        if key not in self.answers:
            rows = self.loaded.rows(table, list(columns))
            self.answers[key] = rows if rows is not None and rows.height else None
        return self.answers[key]


@dataclass(frozen=True)
class _Checked:
    valid_file: ValidFile
    rejects: pl.DataFrame
    target: Target  # what references into this file resolve against


class _Batch:
    """The files validated so far, as targets for the references of the next ones."""

    def __init__(self, spec: Spec, sent: Mapping[str, ParsedFile], loaded: _Memo) -> None:
        self.spec = spec
        self.sent = sent
        self.loaded = loaded
        self.checked: dict[str, _Checked] = {}

    def missing_file(self, file_spec: FileSpec) -> pl.DataFrame:
        if not file_spec.required or self.loaded_rows(file_spec, file_spec.key) is not None:
            return rejects.empty()
        expected = file_spec.match[0].replace("*", "")
        message = (
            f"{expected}: no file matching {' or '.join(file_spec.match)} was sent and no "
            f"{file_spec.table} are loaded yet. {rejects.BATCH_REJECTED}."
        )
        return rejects.one(expected, Code.MISSING_FILE, message)

    def check(self, received: ParsedFile, file_spec: FileSpec) -> _Checked:
        frame = _conform(received.frame, file_spec)
        row = _row_rejects(frame, file_spec, received.name)
        frame = _canonical(frame, file_spec)
        # A key that failed a row rule is not compared, nor trusted to name a loaded row.
        malformed = row.filter(pl.col("column").is_in(list(file_spec.key)))["line"]
        found = [row, duplicate_keys(frame, file_spec.key, received.name, malformed)]
        for column in file_spec.columns:
            if column.unique and (column.name,) != file_spec.key:
                bad = row.filter(pl.col("column") == column.name)["line"]
                found.append(duplicate_keys(frame, (column.name,), received.name, bad))
        for column in file_spec.columns:
            target = self.target(column.references)
            if target is not None:
                skip = row.filter(pl.col("column") == column.name)["line"]
                found.append(references(frame, skip, received.name, column, target))
        file_rejects = rejects.concat(found)
        checked = _assemble(received, file_spec, frame, file_rejects, malformed)
        self.checked[file_spec.name] = checked
        return checked

    def target(self, ref: Reference | None) -> Target | None:
        """None when the reference cannot be checked: the table is unknown or was unusable."""
        if ref is None:
            return None
        if ref.file in self.checked:
            return self.checked[ref.file].target
        if ref.file in self.sent:  # sent but fatally rejected: the batch is rejected anyway
            return None
        file_spec = self.spec.file(ref.file)
        rows = self.loaded_rows(file_spec, (ref.column, *ref.where))
        if rows is None:  # unknown: optional (schools) is fine, required is missing_file
            return None
        label = f"the loaded {file_spec.table} (no {ref.file} file in this batch)"
        return Target(label, rows.cast(pl.String), pl.DataFrame())

    def loaded_rows(self, file_spec: FileSpec, columns: Sequence[str]) -> pl.DataFrame | None:
        """Loaded values of the file's ``columns``, under the spec's names; None when
        nothing is loaded or the table does not keep them (a file that is not loaded)."""
        loaded = {c.name: c.target for c in file_spec.loaded_columns}
        if not all(c in loaded for c in columns):
            return None
        rows = self.loaded.rows(file_spec.table, [loaded[c] for c in columns])
        if rows is None:
            return None
        return rows.rename({loaded[c]: c for c in columns if loaded[c] != c})


def _conform(frame: pl.DataFrame, file_spec: FileSpec) -> pl.DataFrame:
    """Every spec column as String (absent ones all null) + LINE, nothing else."""
    present = set(frame.columns)
    columns = [
        pl.col(c).cast(pl.String) if c in present else pl.lit(None, pl.String).alias(c)
        for c in file_spec.column_names
    ]
    return frame.select(*columns, pl.col(LINE).cast(pl.Int64))


def _canonical(frame: pl.DataFrame, file_spec: FileSpec) -> pl.DataFrame:
    """Allowed values in the spec's spelling (``teacher`` -> ``Teacher``); others unchanged.

    A column already spelled so throughout, the usual case, is not rewritten.
    """
    spelled = []
    for column in file_spec.columns:
        spelling = {v.lower(): v for v in column.values}
        if spelling and not frame[column.name].is_in(list(spelling.values())).all():
            lowered = pl.col(column.name).str.to_lowercase()
            spelled.append(lowered.replace_strict(spelling, default=pl.col(column.name)))
    return frame.with_columns(spelled) if spelled else frame


def _assemble(
    received: ParsedFile,
    file_spec: FileSpec,
    frame: pl.DataFrame,
    file_rejects: pl.DataFrame,
    malformed: pl.Series,
) -> _Checked:
    bad_lines = file_rejects["line"].unique()
    is_bad = frame[LINE].is_in(bad_lines.implode())
    valid, rejected = frame.filter(~is_bad), frame.filter(is_bad)
    rejected_keys = (
        rejected.filter(~pl.col(LINE).is_in(malformed.implode()))
        .select(file_spec.key)
        .drop_nulls()
        .unique(maintain_order=True)
    )
    parse_lines = received.rejects["line"].drop_nulls().unique()
    rows = received.rows or frame.height + parse_lines.len()
    valid_file = ValidFile(
        name=received.name,
        file_spec=file_spec.name,
        frame=valid,
        rejected_keys=rejected_keys,
        rows=rows,
        rejected=pl.concat([bad_lines, parse_lines]).n_unique(),
    )
    return _Checked(valid_file, file_rejects, Target(received.name, valid, rejected))


# -- row rules: the pandera schema evaluates them; its failure cases become rejects

_NOT_NULL = -1  # stands for pandera's 'not_nullable', which has no check number

_TEMPLATES: Mapping[Code, str] = {
    Code.REQUIRED: "{name} is required",
    Code.PATTERN: "{name} '{{value}}' must be {rule}",
    Code.SPREADSHEET_NUMBER: (
        "{name} '{{value}}' is a number as a spreadsheet writes it: the file was probably "
        "opened and saved by a spreadsheet, which turned the ID into a number; re-export it "
        "from the SIS without opening it in Excel"
    ),
    Code.NOT_ALLOWED: "{name} '{{value}}' is not allowed (allowed: {allowed})",
    Code.TOO_LONG: "{name} is {{length}} characters long; at most {max_length} are allowed",
}


def _row_rejects(frame: pl.DataFrame, file_spec: FileSpec, file: str) -> pl.DataFrame:
    schema = compile_schema(file_spec)
    # Rows are the point here: a PANDERA_VALIDATION_* setting must not switch checks off.
    full = config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA)
    try:
        with full:
            schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases: pl.DataFrame = exc.failure_cases
    else:
        return rejects.empty()
    number = pl.when(pl.col("check") == "not_nullable").then(_NOT_NULL)
    cases = cases.with_columns(number.otherwise(pl.col("check_number")).alias("check_number"))
    hits = cases.join(_codes(schema, file_spec), on=["column", "check_number"], how="left")
    if hits["code"].null_count():
        unknown = hits.filter(pl.col("code").is_null()).row(0, named=True)
        raise RuntimeError(f"pandera reported a failure the schema does not declare: {unknown}")
    hits = hits.with_columns(frame[LINE].gather(hits["index"]).alias(LINE))
    value = pl.col("failure_case")
    body = (
        pl.col("template")
        .str.replace("{value}", value.fill_null(""), literal=True)
        .str.replace("{length}", value.str.len_chars().cast(pl.String).fill_null(""), literal=True)
    )
    return reject_rows(
        hits, file, column=pl.col("column"), value=value, code=pl.col("code"), body=body
    )


def _codes(schema: pa.DataFrameSchema, file_spec: FileSpec) -> pl.DataFrame:
    """(column, check_number) -> reject code and message template, from the check names."""
    rows: list[tuple[str, int, str, str]] = []
    for column in file_spec.columns:
        checks = schema.columns[column.name].checks
        numbered = [(_NOT_NULL, Code.REQUIRED)] + [(i, Code(c.name)) for i, c in enumerate(checks)]
        rows += [(column.name, n, str(code), _template(column, code)) for n, code in numbered]
    names = ["column", "check_number", "code", "template"]
    types = [pl.String(), pl.Int32(), pl.String(), pl.String()]
    return pl.DataFrame(rows, schema=list(zip(names, types, strict=True)), orient="row")


def _template(column: ColumnSpec, code: Code) -> str:
    described = FORMATS[column.format][1] if column.format and not column.pattern else None
    return _TEMPLATES[code].format(
        name=column.name,
        rule=described or f"a value matching {column.regex}",
        allowed=", ".join(column.values),
        max_length=column.max_length,
    )
