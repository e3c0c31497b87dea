"""The powerschool and clever contracts on their samples, through the CLI.

The samples are written by the team in each SIS's own layout: PowerSchool tables
with internal-ID links, co-teachers and inactive rows; Clever's five files with
mixed-case headers, ext.* columns and grades as words.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers import Roster, as_json, process_json


def _export(roster: Roster, slug: str, table: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = as_json(roster("export", slug, table, "--format", "json"))
    return rows


def _teachers(roster: Roster, slug: str) -> set[tuple[str, str, str]]:
    return {
        (r["class_id"], r["user_id"], r["is_primary"])
        for r in _export(roster, slug, "class_teachers")
    }


def test_powerschool_tables_load_by_public_numbers_through_internal_ids(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", "powerschool")
    result = process_json(roster, samples / "powerschool-tables")
    assert result["status"] == "loaded"
    counts = result["counts"]
    assert isinstance(counts, dict)
    assert counts["users"]["left_out"] == 3  # two students not enrolled, one inactive teacher
    assert counts["enrollments"]["left_out"] == 2  # a dropped CC row, a CC row of a leaver
    users = {u["district_user_id"]: u for u in _export(roster, "lincoln", "users")}
    assert set(users) == {"002001", "002002", "002003", "002004", "T2001", "T2002", "T2003"}
    assert (users["002001"]["internal_id"], users["002001"]["role"]) == ("4101", "Student")
    assert (users["T2001"]["internal_id"], users["T2001"]["role"]) == ("71", "Teacher")
    enrolled = {(e["class_id"], e["student_id"]) for e in _export(roster, "lincoln", "enrollments")}
    assert enrolled == {
        ("9001", "002001"), ("9001", "002002"), ("9001", "002003"), ("9002", "002002"),
        ("9003", "002004"),
    }  # fmt: skip
    classes = {c["class_id"]: c for c in _export(roster, "lincoln", "classes")}
    assert (classes["9001"]["teacher_id"], classes["9001"]["class_name"]) == ("T2001", "English 10")
    assert _teachers(roster, "lincoln") == {
        ("9001", "T2001", "true"), ("9001", "T2002", "false"), ("9002", "T2002", "true"),
        ("9003", "T2003", "true"), ("9003", "T2001", "false"),
    }  # fmt: skip


def test_powerschool_cc_alone_resolves_students_through_the_loaded_internal_ids(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", "powerschool")
    process_json(roster, samples / "powerschool-tables")
    night = tmp_path / "night"
    night.mkdir()
    cc = (samples / "powerschool-tables" / "cc.txt").read_text(encoding="utf-8")
    # Without tonight's Students file, a leaver's CC row (4105) could not be told from
    # an unknown student: the sample's leaver row is dropped from this night.
    cc = cc.replace("4105\t9002\n", "")
    (night / "cc.txt").write_text(cc + "4104\t9002\n4199\t9002\n", encoding="utf-8")
    result = process_json(roster, night)
    assert result["status"] == "loaded_with_rejects"
    enrolled = {(e["class_id"], e["student_id"]) for e in _export(roster, "lincoln", "enrollments")}
    assert ("9002", "002004") in enrolled
    rejects = as_json(roster("report", result["batch_id"], "--format", "json"))["rejects"]
    assert [(r["line"], r["column"], r["value"], r["code"]) for r in rejects] == [
        (9, "StudentID", "4199", "reference_missing")
    ]
    assert "matches no ID in the loaded users" in rejects[0]["message"]


def test_powerschool_bad_rows_are_rejected_with_their_line_and_the_rest_loads(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", "powerschool")
    roster("district", "set", "lincoln", "--max-reject-pct", "100")  # a sample of bad rows
    result = process_json(roster, samples / "powerschool-tables-bad")
    assert result["status"] == "loaded_with_rejects"
    found = {
        (r["file"], r["line"], r["column"], r["code"])
        for r in as_json(roster("report", result["batch_id"], "--format", "json"))["rejects"]
    }
    assert ("teachers.txt", 4, "TeacherNumber", "duplicate_key") in found
    assert ("students.txt", 5, "Student_Number", "duplicate_key") in found
    assert ("cc.txt", 9, "StudentID", "reference_missing") in found
    assert ("cc.txt", 10, "StudentID", "spreadsheet_number") in found
    assert ("sectionteacher.txt", 7, "TeacherID", "reference_missing") in found
    assert len(_export(roster, "lincoln", "classes")) == 2


def test_clever_files_load_with_co_teachers_and_grades_as_words(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "maple", "--spec", "clever")
    result = roster("process", samples / "clever" / "good", "--district", "maple", "--json")
    assert as_json(result)["status"] == "loaded"
    report = as_json(roster("report", as_json(result)["batch_id"], "--format", "json"))
    assert report["warnings"] == []  # ext.* columns are ignored without a word
    grades: dict[str, str | None] = {
        u["district_user_id"]: u["grade_level"] for u in _export(roster, "maple", "users")
    }
    assert (grades["stu-5001"], grades["stu-5003"], grades["tch-71"]) == ("K", "5", None)
    assert _teachers(roster, "maple") == {
        ("sec-1", "tch-71", "true"), ("sec-1", "tch-72", "false"), ("sec-2", "tch-72", "true"),
        ("sec-3", "tch-73", "true"), ("sec-3", "tch-74", "false"), ("sec-3", "tch-71", "false"),
        ("sec-4", "tch-74", "true"),
    }  # fmt: skip


def test_clever_section_naming_an_unknown_co_teacher_is_rejected_alone(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", "clever")
    roster("district", "set", "lincoln", "--max-reject-pct", "50")  # 1 of 4 sections
    sent = tmp_path / "clever"
    shutil.copytree(samples / "clever" / "good", sent)
    sections = (sent / "sections.csv").read_text(encoding="utf-8")
    (sent / "sections.csv").write_text(
        sections.replace(
            "sec-4,sch-200,Math 8,MA8,8,tch-74,,,", "sec-4,sch-200,Math 8,MA8,8,tch-74,,tch-99,"
        ),
        encoding="utf-8",
    )
    result = process_json(roster, sent)
    rejects = as_json(roster("report", result["batch_id"], "--format", "json"))["rejects"]
    mine = [r for r in rejects if r["file"] == "sections.csv"]
    assert [(r["line"], r["column"], r["value"], r["code"]) for r in mine] == [
        (5, "Teacher_3_id", "tch-99", "reference_missing")
    ]
    assert [r["code"] for r in rejects if r["file"] != "sections.csv"] == ["reference_rejected"]
    assert {c["class_id"] for c in _export(roster, "lincoln", "classes")} == {
        "sec-1",
        "sec-2",
        "sec-3",
    }
