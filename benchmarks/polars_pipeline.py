"""The peer on our own stack: polars + pandera (polars) + ADBC, doing the same checks.

    python benchmarks/polars_pipeline.py CSV_FOLDER DB_FILE

What a Python team would write today with the libraries roster-pipeline uses:
``polars.read_csv`` with every column as text, a pandera (polars) schema per file
with the same row rules as ``pandas_pipeline.py`` (required, id pattern, allowed
role, max lengths), duplicate keys and unresolved references dropped with polars
expressions, and ``DataFrame.write_database`` through ADBC into SQLite tables with
the same primary keys. No line numbers, no reject report, no change log, no diff
against what is loaded: the floor of a pipeline that checks anything at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc
import pandera.polars as pa
import polars as pl

ID = r"^[A-Za-z0-9._-]{1,64}$"


def _id(required: bool = True) -> pa.Column:
    return pa.Column(str, pa.Check.str_matches(ID), nullable=not required)


def _text(max_length: int, required: bool = True) -> pa.Column:
    return pa.Column(str, pa.Check.str_length(max_value=max_length), nullable=not required)


SCHEMAS = {
    "schools": pa.DataFrameSchema({"school_id": _id(), "school_name": _text(200)}),
    "users": pa.DataFrameSchema({
        "district_user_id": _id(), "first_name": _text(100), "last_name": _text(100),
        "role": pa.Column(str, pa.Check.isin(["Teacher", "Student"])),
        "email": _text(254, False), "grade_level": _text(16, False), "school_id": _id(False),
    }),
    "classes": pa.DataFrameSchema({
        "class_id": _id(), "class_name": _text(200), "school_id": _id(),
        "course_id": _id(), "teacher_id": _id(),
    }),
    "enrollments": pa.DataFrameSchema({"class_id": _id(), "student_id": _id()}),
}  # fmt: skip
KEYS = {"schools": ["school_id"], "users": ["district_user_id"], "classes": ["class_id"],
        "enrollments": ["class_id", "student_id"]}  # fmt: skip
DDL = {
    "schools": "school_id TEXT PRIMARY KEY, school_name TEXT",
    "users": "district_user_id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, role TEXT,"
    " email TEXT, grade_level TEXT, school_id TEXT",
    "classes": "class_id TEXT PRIMARY KEY, class_name TEXT, school_id TEXT, course_id TEXT,"
    " teacher_id TEXT",
    "enrollments": "class_id TEXT, student_id TEXT, PRIMARY KEY (class_id, student_id)",
}


def valid_rows(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows passing every row rule, then rows whose key no other row shares."""
    try:
        SCHEMAS[name].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        bad = exc.failure_cases["index"].drop_nulls().cast(pl.UInt32)
        frame = frame.with_row_index("_row").filter(~pl.col("_row").is_in(bad)).drop("_row")
    return frame.filter(~pl.struct(KEYS[name]).is_duplicated())


def main() -> None:
    folder, db = Path(sys.argv[1]), sys.argv[2]
    t = {n: valid_rows(n, pl.read_csv(folder / f"{n}.csv", infer_schema=False)) for n in KEYS}
    schools = t["schools"]["school_id"].implode()
    users = t["users"].filter(pl.col("school_id").is_null() | pl.col("school_id").is_in(schools))
    role = pl.col("role")
    teachers = users.filter(role == "Teacher")["district_user_id"].implode()
    students = users.filter(role == "Student")["district_user_id"].implode()
    classes = t["classes"].filter(
        pl.col("teacher_id").is_in(teachers) & pl.col("school_id").is_in(schools)
    )
    class_ids = classes["class_id"].implode()
    enrollments = t["enrollments"].filter(
        pl.col("class_id").is_in(class_ids) & pl.col("student_id").is_in(students)
    )
    valid = {"schools": t["schools"], "users": users, "classes": classes}
    valid["enrollments"] = enrollments
    with adbc.connect(db) as con:
        with con.cursor() as cur:
            for name in KEYS:
                cur.execute(f"CREATE TABLE {name} ({DDL[name]})")
        con.commit()
        for name, frame in valid.items():
            frame.write_database(name, con, if_table_exists="append", engine="adbc")
        con.commit()


if __name__ == "__main__":
    main()
