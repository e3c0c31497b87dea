"""The hand-written baseline: pandas + pandera + to_sql, doing the same checks.

    python benchmarks/pandas_pipeline.py CSV_FOLDER DB_FILE

Reads the four CSVs as text, validates rows with a pandera (pandas) schema per
file (required, id pattern, allowed role, max lengths), rejects duplicate keys
and unresolved references, and writes the valid rows with DataFrame.to_sql into
SQLite tables with the same primary keys. What a competent team writes first.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

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


def valid_rows(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        SCHEMAS[name].validate(frame, lazy=True)
        bad: set[int] = set()
    except pa.errors.SchemaErrors as exc:
        bad = set(exc.failure_cases["index"].dropna().astype(int))
    frame = frame[~frame.index.isin(bad)]
    return frame[~frame.duplicated(KEYS[name], keep=False)]


def main() -> None:
    folder, db = Path(sys.argv[1]), sys.argv[2]
    read = {"dtype": str, "keep_default_na": False, "na_values": [""]}
    t = {n: valid_rows(n, pd.read_csv(folder / f"{n}.csv", **read)) for n in KEYS}  # type: ignore[arg-type]
    schools = set(t["schools"]["school_id"])
    users = t["users"][t["users"]["school_id"].isna() | t["users"]["school_id"].isin(schools)]
    teachers = set(users.loc[users["role"] == "Teacher", "district_user_id"])
    students = set(users.loc[users["role"] == "Student", "district_user_id"])
    classes = t["classes"][
        t["classes"]["teacher_id"].isin(teachers) & t["classes"]["school_id"].isin(schools)
    ]
    enr = t["enrollments"]
    enr = enr[enr["class_id"].isin(set(classes["class_id"])) & enr["student_id"].isin(students)]
    con = sqlite3.connect(db)
    ddl = {
        "schools": "school_id TEXT PRIMARY KEY, school_name TEXT",
        "users": "district_user_id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, role TEXT,"
        " email TEXT, grade_level TEXT, school_id TEXT",
        "classes": "class_id TEXT PRIMARY KEY, class_name TEXT, school_id TEXT, course_id TEXT,"
        " teacher_id TEXT",
        "enrollments": "class_id TEXT, student_id TEXT, PRIMARY KEY (class_id, student_id)",
    }
    for name, frame in {
        "schools": t["schools"],
        "users": users,
        "classes": classes,
        "enrollments": enr,
    }.items():
        con.execute(f"CREATE TABLE {name} ({ddl[name]})")
        frame.to_sql(name, con, if_exists="append", index=False, chunksize=50_000)
    con.commit()
    con.close()


if __name__ == "__main__":
    main()
