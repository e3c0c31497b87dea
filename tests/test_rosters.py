"""The roster model holds real rosters: users from several files, every teacher of a class.

Driven through the CLI on the default contract (roster-csv) with files written here:
students and teachers sent apart, co-teachers, and the rejects each new mismatch gets.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from roster_pipeline.store import open_store
from tests.helpers import Roster, as_json, process_json

STUDENTS = "district_user_id,first_name,last_name,grade_level,school_id\n"


def _batch(folder: Path, samples: Path, **files: str) -> Path:
    """The good sample without users.csv, plus ``files`` (name without .csv -> text)."""
    folder.mkdir()
    for name in ("schools", "classes", "enrollments"):
        shutil.copy(samples / "good" / f"{name}.csv", folder / f"{name}.csv")
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def _users(samples: Path, role: str) -> str:
    """The good sample's users of ``role``, as a students or teachers file."""
    with (samples / "good" / "users.csv").open(encoding="utf-8", newline="") as f:
        picked = [u for u in csv.DictReader(f) if u["role"] == role]
    fields = ["district_user_id", "first_name", "last_name"]
    fields += ["grade_level", "school_id"] if role == "Student" else ["email", "school_id"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(picked)
    return out.getvalue()


def _export(roster: Roster, table: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = as_json(roster("export", "lincoln", table, "--format", "json"))
    return rows


def test_students_and_teachers_files_load_as_users_with_their_roles(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    sent = _batch(
        tmp_path / "split",
        samples,
        users_students=_users(samples, "Student"),
        users_teachers=_users(samples, "Teacher"),
    )
    first = process_json(roster, sent)
    assert first["status"] == "loaded"
    users = {u["district_user_id"]: u for u in _export(roster, "users")}
    assert len(users) == 12
    assert users["T1001"]["role"] == "Teacher"
    assert users["000417"]["role"] == "Student"
    assert users["000417"]["grade_level"] == "3"


def test_a_students_file_alone_replaces_students_and_keeps_teachers(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    roster("district", "set", "lincoln", "--max-delete-pct", "100")
    process_json(roster, samples / "good")
    students = _users(samples, "Student").splitlines()
    tonight = tmp_path / "students-only"
    tonight.mkdir()
    (tonight / "students.csv").write_text("\n".join(students[:-1]) + "\n", encoding="utf-8")
    night = process_json(roster, tonight)
    assert night["status"] == "loaded"
    counts = night["counts"]["users"]  # type: ignore[index]
    assert (counts["deleted"], counts["unchanged"]) == (1, 8)
    roles = [u["role"] for u in _export(roster, "users")]
    assert roles.count("Teacher") == 3


def test_every_teacher_of_every_class_is_exported_and_logged(
    roster: Roster, samples: Path, tmp_path: Path, store_url: str
) -> None:
    roster("district", "add", "lincoln")
    sent = tmp_path / "co"
    shutil.copytree(samples / "good", sent)
    (sent / "class_teachers.csv").write_text(
        "class_id,teacher_id\nS200-MATH7,T1003\nS200-MATH7,T1002\nS200-SCI8,T1002\n",
        encoding="utf-8",
    )
    result = process_json(roster, sent)
    assert result["status"] == "loaded"
    links = {
        (r["class_id"], r["user_id"]): r["is_primary"] for r in _export(roster, "class_teachers")
    }
    assert links == {
        ("S100-3A", "T1001"): "true", ("S100-4A", "T1001"): "true",
        ("S200-MATH7", "T1002"): "true", ("S200-MATH7", "T1003"): "false",
        ("S200-SCI8", "T1003"): "true", ("S200-SCI8", "T1002"): "false",
    }  # fmt: skip
    report = as_json(roster("report", result["batch_id"], "--format", "json"))
    assert any("already" in w for w in report["warnings"])
    store = open_store(store_url)
    changes = store.changes(str(result["batch_id"]))
    store.close()
    assert changes.filter(table="class_teachers").height == 6


def test_new_mismatches_are_row_rejects_and_the_other_rows_load(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    students = _users(samples, "Student").replace(STUDENTS, STUDENTS.rstrip() + ",role\n")
    students = "\n".join(
        line + ("," if i else "") + ("Teacher" if i == 1 else "Student" if i else "")
        for i, line in enumerate(students.splitlines())
    )
    teachers = _users(samples, "Teacher") + "000418,Sam,Twin,stwin@lincoln.k12.example,100\n"
    sent = _batch(
        tmp_path / "bad",
        samples,
        students=students + "\n",
        teachers=teachers,
        class_teachers="class_id,teacher_id\nS100-3A,000419\n",
    )
    roster("district", "set", "lincoln", "--max-reject-pct", "100")  # a sample of bad rows
    result = process_json(roster, sent)
    assert result["status"] == "loaded_with_rejects"
    found = {
        (r["file"], r["line"], r["column"], r["code"])
        for r in as_json(roster("report", result["batch_id"], "--format", "json"))["rejects"]
    }
    assert ("students.csv", 2, "role", "not_allowed") in found
    assert ("teachers.csv", 5, "district_user_id", "duplicate_key") in found
    assert ("students.csv", 3, "district_user_id", "duplicate_key") in found
    assert ("class_teachers.csv", 2, "teacher_id", "reference_mismatch") in found
    assert len(_export(roster, "users")) == 10


def test_a_first_load_with_too_many_rejected_rows_is_held_with_that_reason(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    sent = tmp_path / "half"
    shutil.copytree(samples / "good", sent)
    users = (sent / "users.csv").read_text(encoding="utf-8").splitlines()
    damaged = [u.replace(",Student,", ",Pupil,") if i % 2 else u for i, u in enumerate(users)]
    (sent / "users.csv").write_text("\n".join(damaged) + "\n", encoding="utf-8")
    held = process_json(roster, sent, code=3)
    assert held["status"] == "held"
    listing = as_json(roster("batches", "--json"))
    assert (
        "users: 4 of 12 rows sent (33.3%) were rejected; the limit is 20%" in listing[0]["message"]
    )
    assert _export(roster, "users") == []
    roster("district", "set", "lincoln", "--max-reject-pct", "50")
    again = process_json(roster, sent)
    assert again["status"] == "loaded_with_rejects"


def test_a_classes_file_alone_keeps_its_own_teacher_links_and_the_co_teachers(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    """classes.csv made the primary links it sends again: they are not another
    file's rows clashing with tonight's (every class was rejected that way)."""
    roster("district", "add", "lincoln")
    # One lead teacher replaced is 1 of 5 links deleted: over the default threshold.
    roster("district", "set", "lincoln", "--max-delete-pct", "100")
    first = tmp_path / "first"
    shutil.copytree(samples / "good", first)
    (first / "class_teachers.csv").write_text("class_id,teacher_id\nS200-MATH7,T1003\n")
    assert process_json(roster, first)["status"] == "loaded"
    tonight = tmp_path / "classes-only"
    tonight.mkdir()
    lines = (samples / "good" / "classes.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("Grade 3 Homeroom", "Grade 3 Homeroom (Room 12)")
    lines[2] = lines[2].replace("T1001", "T1002")  # S100-4A has a new lead teacher
    (tonight / "classes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    night = process_json(roster, tonight)
    assert night["status"] == "loaded", night
    assert night["counts"]["classes"]["updated"] == 2  # type: ignore[index]
    assert night["counts"]["classes"]["rejected"] == 0  # type: ignore[index]
    links = {
        (r["class_id"], r["user_id"]): r["is_primary"] for r in _export(roster, "class_teachers")
    }
    assert links == {
        ("S100-3A", "T1001"): "true", ("S100-4A", "T1002"): "true",
        ("S200-MATH7", "T1002"): "true", ("S200-MATH7", "T1003"): "false",
        ("S200-SCI8", "T1003"): "true",
    }  # fmt: skip
