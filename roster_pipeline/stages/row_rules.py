"""Row rules: the pandera schema compiled from a FileSpec runs every rule of a file
in one vectorised pass; its failure cases become rejects with stable codes."""

from __future__ import annotations

from collections.abc import Mapping

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.schemas import compile_schema
from roster_pipeline.contracts.specs import FORMATS, ColumnSpec, FileSpec
from roster_pipeline.stages.parse import LINE
from roster_pipeline.stages.set_rules import reject_rows

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


def row_rejects(frame: pl.DataFrame, file_spec: FileSpec, file: str) -> pl.DataFrame:
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
