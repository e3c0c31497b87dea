"""validate: row rules and set rules of the roster spec, failures as exact reject rows."""

from __future__ import annotations

import io
from collections.abc import Sequence

import polars as pl
import pytest
from pandera.config import config_context

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.stages.parse import LINE, ParsedFile
from roster_pipeline.stages.validate import Validated, validate

SPEC = load_spec()

USERS = """district_user_id,first_name,last_name,role,school_id
T1,Grace,Hopper,Teacher,
S1,Ada,Lovelace,Student,
S2,Alan,Turing,Student,
"""
CLASSES = """class_id,class_name,school_id,course_id,teacher_id
C1,Algebra,H1,MATH1,T1
C2,Poetry,H1,ENG1,T1
"""
ENROLLMENTS = """class_id,student_id
C1,S1
C1,S2
C2,S1
"""

Row = tuple[str, int | None, str | None, str | None, str]


class FrameLoaded:
    """The Loaded seam backed by plain frames: what the store would answer."""

    def __init__(self, **tables: str) -> None:
        self.tables = {name: _csv(text) for name, text in tables.items()}

    def rows(self, table: str, columns: Sequence[str]) -> pl.DataFrame | None:
        frame = self.tables.get(table)
        return None if frame is None else frame.select(columns)


NOTHING = FrameLoaded()


def _csv(text: str) -> pl.DataFrame:
    """Text columns, empty fields null: what parse hands over, minus the line numbers."""
    return pl.read_csv(io.StringIO(text), infer_schema=False)


def _parsed(name: str, text: str, parse_rejects: pl.DataFrame | None = None) -> ParsedFile:
    frame = _csv(text)
    frame = frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE))
    file_spec = SPEC.match(name)
    assert file_spec is not None
    return ParsedFile(
        name=name,
        file_spec=file_spec.name,
        frame=frame,
        rejects=rejects.empty() if parse_rejects is None else parse_rejects,
    )


def _run(loaded: FrameLoaded = NOTHING, /, **texts: str) -> Validated:
    """Validate a batch of files given as ``users=..., classes=...`` (sent as <name>.csv)."""
    return validate([_parsed(f"{n}.csv", t) for n, t in texts.items()], SPEC, loaded)


def _batch(**changes: str) -> dict[str, str]:
    return {"users": USERS, "classes": CLASSES, "enrollments": ENROLLMENTS, **changes}


def _rows(result: Validated) -> list[Row]:
    cols = ["file", "line", "column", "value", "code"]
    return sorted(result.rejects.select(cols).rows(), key=repr)


def _message(result: Validated, line: int, column: str) -> str:
    hit = result.rejects.filter((pl.col("line") == line) & (pl.col("column") == column))
    assert hit.height == 1
    return str(hit["message"][0])


def test_valid_batch_has_no_rejects_and_every_spec_column() -> None:
    result = _run(**_batch())
    assert result.rejects.height == 0
    assert not result.fatal
    users = result.files["users"]
    assert users.frame.columns == [*SPEC.file("users").column_names, LINE]
    assert users.frame["email"].dtype == pl.String
    assert users.frame["email"].null_count() == 3
    assert (users.rows, users.rejected, users.rejected_keys.height) == (3, 0, 0)
    assert result.files["enrollments"].frame[LINE].to_list() == [2, 3, 4]


def test_required_value_missing() -> None:
    result = _run(**_batch(users=USERS + "S3,,Hamilton,Student,\n"))
    assert _rows(result) == [("users.csv", 5, "first_name", None, "required")]
    assert _message(result, 5, "first_name") == "users.csv line 5: first_name is required"
    assert result.files["users"].frame["district_user_id"].to_list() == ["T1", "S1", "S2"]
    assert (result.files["users"].rows, result.files["users"].rejected) == (4, 1)


def test_row_rules_run_whatever_pandera_is_configured_to_do() -> None:
    with config_context(validation_enabled=False, validation_depth="SCHEMA_ONLY"):
        result = _run(**_batch(users=USERS + "S3,,Hamilton,Student,\n"))
    assert _rows(result) == [("users.csv", 5, "first_name", None, "required")]


def test_pattern() -> None:
    result = _run(**_batch(users=USERS + "S 3,Margaret,Hamilton,Student,\n"))
    assert _rows(result) == [("users.csv", 5, "district_user_id", "S 3", "pattern")]
    assert _message(result, 5, "district_user_id") == (
        "users.csv line 5: district_user_id 'S 3' must be 1 to 64 letters, digits, '.', '_' or '-'"
    )


def test_spreadsheet_number_instead_of_pattern() -> None:
    result = _run(**_batch(enrollments=ENROLLMENTS + "C2,9.00001E+08\n"))
    assert _rows(result) == [
        ("enrollments.csv", 5, "student_id", "9.00001E+08", "spreadsheet_number")
    ]
    message = _message(result, 5, "student_id")
    assert "spreadsheet" in message
    assert "re-export it from the SIS without opening it in Excel" in message


def test_role_not_allowed_and_canonical_spelling_stored() -> None:
    users = USERS.replace("T1,Grace,Hopper,Teacher", "T1,Grace,Hopper,tEACHER")
    result = _run(**_batch(users=users + "A1,Ann,Admin,Admin,\n"))
    assert _rows(result) == [("users.csv", 5, "role", "Admin", "not_allowed")]
    assert _message(result, 5, "role") == (
        "users.csv line 5: role 'Admin' is not allowed (allowed: Teacher, Student)"
    )
    assert result.files["users"].frame["role"].to_list() == ["Teacher", "Student", "Student"]


def test_too_long() -> None:
    result = _run(**_batch(users=USERS + f"S3,{'x' * 101},Hamilton,Student,\n"))
    assert _rows(result) == [("users.csv", 5, "first_name", "x" * 101, "too_long")]
    assert _message(result, 5, "first_name") == (
        "users.csv line 5: first_name is 101 characters long; at most 100 are allowed"
    )


def test_one_reject_per_failing_cell_one_rejected_row() -> None:
    result = _run(**_batch(users=USERS + "S3,,,Pupil,\n"))
    assert _rows(result) == [
        ("users.csv", 5, "first_name", None, "required"),
        ("users.csv", 5, "last_name", None, "required"),
        ("users.csv", 5, "role", "Pupil", "not_allowed"),
    ]
    assert result.files["users"].rejected == 1


def test_duplicate_key_rejects_every_copy() -> None:
    users = USERS + "S1,Ada,Byron,Student,\n"
    result = _run(**_batch(users=users, enrollments="class_id,student_id\nC1,S2\n"))
    assert _rows(result) == [
        ("users.csv", 3, "district_user_id", "S1", "duplicate_key"),
        ("users.csv", 5, "district_user_id", "S1", "duplicate_key"),
    ]
    assert _message(result, 5, "district_user_id") == (
        "users.csv line 5: district_user_id 'S1' appears on lines 3, 5"
    )
    # Every copy, with its line: a reject names the key of the row it kept out.
    assert result.files["users"].rejected_keys.rows() == [(3, "S1"), (5, "S1")]


def test_composite_duplicate_key_rejects_all_copies() -> None:
    result = _run(**_batch(enrollments=ENROLLMENTS + "C1,S1\nC2,S2\nC1,S1\n"))
    key = "class_id, student_id"
    assert _rows(result) == [
        ("enrollments.csv", line, key, "C1, S1", "duplicate_key") for line in (2, 5, 7)
    ]
    assert _message(result, 7, key) == (
        "enrollments.csv line 7: class_id 'C1' with student_id 'S1' appears on lines 2, 5, 7"
    )
    assert result.files["enrollments"].frame[LINE].to_list() == [3, 4, 6]


def test_spreadsheet_numbers_are_not_compared_as_duplicate_keys() -> None:
    # Excel folds distinct IDs into one rounded number: "same key" would be false.
    users = USERS + "9.00001E+08,Ann,One,Student,\n9.00001E+08,Bob,Two,Student,\n"
    result = _run(**_batch(users=users))
    assert _rows(result) == [
        ("users.csv", line, "district_user_id", "9.00001E+08", "spreadsheet_number")
        for line in (5, 6)
    ]
    assert result.files["users"].rejected_keys.height == 0


def test_many_copies_list_ten_lines_and_count_the_rest() -> None:
    result = _run(**_batch(enrollments=ENROLLMENTS + "C2,S2\n" * 12))
    assert result.rejects["code"].to_list() == ["duplicate_key"] * 12
    assert _message(result, 14, "class_id, student_id") == (
        "enrollments.csv line 14: class_id 'C2' with student_id 'S2' appears on lines "
        "5, 6, 7, 8, 9, 10, 11, 12, 13, 14 and 2 more"
    )


def test_reference_missing_in_batch() -> None:
    result = _run(**_batch(enrollments=ENROLLMENTS + "C1,S9\n"))
    assert _rows(result) == [("enrollments.csv", 5, "student_id", "S9", "reference_missing")]
    assert _message(result, 5, "student_id") == (
        "enrollments.csv line 5: student_id 'S9' matches no district_user_id in users.csv"
    )


def test_reference_to_rejected_row() -> None:
    users = USERS.replace("S2,Alan,Turing,Student", "S2,,Turing,Student")
    result = _run(**_batch(users=users))
    assert _rows(result) == [
        ("enrollments.csv", 3, "student_id", "S2", "reference_rejected"),
        ("users.csv", 4, "first_name", None, "required"),
    ]
    assert _message(result, 3, "student_id") == (
        "enrollments.csv line 3: student_id 'S2' refers to users.csv line 4, which was rejected"
    )


def test_reference_mismatch_where_compared_case_insensitively() -> None:
    classes = CLASSES + "C3,Logic,H1,PHIL1,S1\n"
    result = _run(**_batch(classes=classes, users=USERS.replace("Teacher", "teacher")))
    assert _rows(result) == [("classes.csv", 4, "teacher_id", "S1", "reference_mismatch")]
    assert _message(result, 4, "teacher_id") == (
        "classes.csv line 4: teacher_id 'S1' is a Student, not a Teacher"
    )


def test_rejected_class_cascades_to_its_enrollments() -> None:
    classes = CLASSES.replace("C2,Poetry", f"C2,{'P' * 201}")
    result = _run(**_batch(classes=classes))
    assert _rows(result) == [
        ("classes.csv", 3, "class_name", "P" * 201, "too_long"),
        ("enrollments.csv", 4, "class_id", "C2", "reference_rejected"),
    ]
    assert result.files["enrollments"].frame[LINE].to_list() == [2, 3]
    assert result.files["classes"].rejected_keys.rows() == [(3, "C2")]


def test_reference_not_checked_when_the_cell_failed_a_row_rule() -> None:
    result = _run(**_batch(enrollments=ENROLLMENTS + "C1,S 9\n"))
    assert _rows(result) == [("enrollments.csv", 5, "student_id", "S 9", "pattern")]
    assert result.files["enrollments"].rejected_keys.height == 0


def test_enrollments_alone_resolve_against_loaded_users_and_classes() -> None:
    loaded = FrameLoaded(
        users=USERS.replace("S2,Alan,Turing,Student", "S2,Alan,Turing,student"),
        classes=CLASSES,
    )
    enrollments = "class_id,student_id\nC1,S2\nC1,T1\nC9,S1\n"
    result = _run(loaded, enrollments=enrollments)
    assert _rows(result) == [
        ("enrollments.csv", 3, "student_id", "T1", "reference_mismatch"),
        ("enrollments.csv", 4, "class_id", "C9", "reference_missing"),
    ]
    assert _message(result, 4, "class_id") == (
        "enrollments.csv line 4: class_id 'C9' matches no class_id in the loaded classes "
        "(no classes file in this batch)"
    )
    assert set(result.files) == {"enrollments"}
    assert result.files["enrollments"].frame.rows() == [("C1", "S2", 2)]


def test_loaded_value_repeated_resolves_when_any_copy_satisfies_where() -> None:
    loaded = FrameLoaded(users="district_user_id,role\nT1,Student\nT1,Teacher\n", classes=CLASSES)
    result = _run(loaded, classes=CLASSES, enrollments="class_id,student_id\n")
    assert result.rejects.height == 0


def test_batch_file_wins_over_loaded_table() -> None:
    loaded = FrameLoaded(users="district_user_id,role\nS9,Student\n")
    result = _run(loaded, **_batch(enrollments=ENROLLMENTS + "C1,S9\n"))
    assert _rows(result) == [("enrollments.csv", 5, "student_id", "S9", "reference_missing")]


def test_optional_schools_unknown_is_not_checked() -> None:
    result = _run(**_batch())  # classes name school H1, no schools anywhere
    assert result.rejects.height == 0


def test_optional_schools_sent_is_checked() -> None:
    result = _run(**_batch(schools="school_id,school_name\nH2,High Two\n"))
    assert _rows(result) == [
        ("classes.csv", 2, "school_id", "H1", "reference_missing"),
        ("classes.csv", 3, "school_id", "H1", "reference_missing"),
        ("enrollments.csv", 2, "class_id", "C1", "reference_rejected"),
        ("enrollments.csv", 3, "class_id", "C1", "reference_rejected"),
        ("enrollments.csv", 4, "class_id", "C2", "reference_rejected"),
    ]
    assert _message(result, 2, "school_id") == (
        "classes.csv line 2: school_id 'H1' matches no school_id in schools.csv"
    )


def test_optional_schools_loaded_is_checked() -> None:
    loaded = FrameLoaded(schools="school_id,school_name\nH1,High One\n")
    users = USERS + "S3,Margaret,Hamilton,Student,H7\n"
    result = _run(loaded, **_batch(users=users))
    assert _rows(result) == [("users.csv", 5, "school_id", "H7", "reference_missing")]


def test_missing_required_file_rejects_the_batch() -> None:
    result = _run(users=USERS, enrollments="class_id,student_id\n")
    assert _rows(result) == [("classes.csv", None, None, None, "missing_file")]
    assert result.fatal
    message = str(result.rejects["message"][0])
    assert "classes*.csv or classes*.txt or sections*.csv" in message
    assert "The batch was rejected; the data loaded before stays loaded." in message


def test_required_file_not_sent_but_loaded_is_fine() -> None:
    result = _run(FrameLoaded(classes=CLASSES), users=USERS, enrollments=ENROLLMENTS)
    assert result.rejects.height == 0
    assert set(result.files) == {"users", "enrollments"}


def test_loaded_table_without_rows_counts_as_not_loaded() -> None:
    empty = FrameLoaded(classes="class_id,class_name,school_id,course_id,teacher_id\n")
    result = _run(empty, users=USERS, enrollments=ENROLLMENTS)
    assert _rows(result) == [("classes.csv", None, None, None, "missing_file")]


def test_fatal_parse_rejects_file_contributes_no_rows() -> None:
    fatal = rejects.one("users.csv", Code.MISSING_COLUMN, "users.csv: no role column")
    parsed = [
        _parsed("users.csv", USERS, fatal),
        _parsed("classes.csv", CLASSES),
        _parsed("enrollments.csv", ENROLLMENTS),
    ]
    result = validate(parsed, SPEC, NOTHING)
    assert _rows(result) == [("users.csv", None, None, None, "missing_column")]
    assert result.fatal
    assert set(result.files) == {"classes", "enrollments"}


def test_parse_row_rejects_are_kept_and_counted() -> None:
    field_count = rejects.one(
        "users.csv", Code.FIELD_COUNT, "users.csv line 9: 3 fields, 5 expected", line=9
    )
    users = _parsed("users.csv", USERS + "S3,,Hamilton,Student,\n", field_count)
    users = ParsedFile(users.name, users.file_spec, users.frame, users.rejects, rows=5)
    result = validate(
        [users, _parsed("classes.csv", CLASSES), _parsed("enrollments.csv", ENROLLMENTS)],
        SPEC,
        NOTHING,
    )
    assert _rows(result) == [
        ("users.csv", 5, "first_name", None, "required"),
        ("users.csv", 9, None, None, "field_count"),
    ]
    assert (result.files["users"].rows, result.files["users"].rejected) == (5, 2)


@pytest.mark.parametrize("absent", ["email", "grade_level", "school_id"])
def test_optional_column_absent_is_all_null(absent: str) -> None:
    users = _csv(USERS).drop(absent, strict=False).write_csv()
    frame = _run(**_batch(users=users)).files["users"].frame
    assert frame[absent].dtype == pl.String
    assert frame[absent].null_count() == frame.height == 3
