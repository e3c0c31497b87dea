"""compile_schema: a FileSpec's row rules as a pandera polars schema, failures named by code."""

from __future__ import annotations

import polars as pl
import pytest
from pandera.errors import SchemaErrors

from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.schemas import compile_schema
from roster_pipeline.contracts.specs import load_spec


def _failures(file: str, frame: pl.DataFrame) -> list[tuple[str, int, str, str | None]]:
    """(column, row index, code, value) of every failing cell, codes read from check names."""
    compiled = compile_schema(load_spec().file(file))
    with pytest.raises(SchemaErrors) as caught:
        compiled.validate(frame, lazy=True)
    out = []
    for r in caught.value.failure_cases.to_dicts():
        checks = compiled.columns[r["column"]].checks
        code = Code.REQUIRED if r["check_number"] is None else Code(checks[r["check_number"]].name)
        out.append((r["column"], r["index"], str(code), r["failure_case"]))
    return sorted(out)


def _users(**columns: list[str | None]) -> pl.DataFrame:
    base: dict[str, list[str | None]] = {
        "district_user_id": ["S1"],
        "first_name": ["Ada"],
        "last_name": ["Lovelace"],
        "role": ["Student"],
        "email": ["ada@example.org"],
        "grade_level": ["7"],
        "school_id": [None],
    }
    base.update(columns)
    return pl.DataFrame(base, schema=dict.fromkeys(base, pl.String))


def test_valid_rows_pass_and_nulls_in_optional_columns_are_fine() -> None:
    frame = _users(email=[None], role=["teacher"])
    assert compile_schema(load_spec().file("users")).validate(frame).height == 1


def test_each_rule_fails_under_its_own_code() -> None:
    frame = _users(
        district_user_id=["a b"],
        first_name=[None],
        last_name=["x" * 101],
        role=["Admin"],
        email=["not-an-email"],
    )
    assert _failures("users", frame) == [
        ("district_user_id", 0, "pattern", "a b"),
        ("email", 0, "pattern", "not-an-email"),
        ("first_name", 0, "required", None),
        ("last_name", 0, "too_long", "x" * 101),
        ("role", 0, "not_allowed", "Admin"),
    ]


@pytest.mark.parametrize("value", ["9.00001E+08", "1.23E+5", "12e+10"])
def test_spreadsheet_number_replaces_the_pattern_failure(value: str) -> None:
    frame = pl.DataFrame({"class_id": ["C1", value], "student_id": [value, "S1"]})
    assert _failures("enrollments", frame) == [
        ("class_id", 1, "spreadsheet_number", value),
        ("student_id", 0, "spreadsheet_number", value),
    ]


def test_id_like_values_that_are_not_spreadsheet_numbers_pass() -> None:
    frame = pl.DataFrame({"class_id": ["1.5E-3", "E1", "900001"], "student_id": ["a", "b", "c"]})
    schema = compile_schema(load_spec().file("enrollments"))
    assert schema.validate(frame).height == 3
