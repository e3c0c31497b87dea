"""The spec reader: the shipped contract loads; the vocabulary is closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from roster_pipeline.contracts.specs import available_specs, load_spec
from roster_pipeline.errors import SpecError


def test_default_spec_loads_in_reference_order() -> None:
    spec = load_spec()
    assert [f.name for f in spec.load_order()] == [
        "schools", "users", "students", "teachers", "classes", "enrollments", "class_teachers",
    ]  # fmt: skip
    teacher = spec.file("classes").column("teacher_id").references
    assert teacher is not None
    assert (teacher.file, teacher.column, dict(teacher.where)) == (
        "users", "district_user_id", {"role": "Teacher"},
    )  # fmt: skip
    assert "roster-csv" in available_specs()


@pytest.mark.parametrize(
    "name", ["users.csv", "USERS.CSV", "users_20261122.csv", "export/Users.txt"]
)
def test_file_names_match_case_insensitively(name: str) -> None:
    spec = load_spec()
    match = spec.match(name)
    assert match is not None
    assert match.name == "users"


def test_unmatched_name() -> None:
    assert load_spec().match("staff.csv") is None


@pytest.mark.parametrize(
    ("name", "file"),
    [("users_students.csv", "students"), ("USERS_TEACHERS_2026.csv", "teachers"),
     ("users.csv", "users"), ("students.csv", "students")],
)  # fmt: skip
def test_the_most_specific_pattern_wins(name: str, file: str) -> None:
    match = load_spec().match(name)
    assert match is not None
    assert match.name == file


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: x\nfiles:\n  users:\n    key: [id]\n    columns:\n      id: {requird: true}\n",
    )
    with pytest.raises(SpecError, match=r"bad.yaml: files.users.columns.id: unknown key 'requird'"):
        load_spec(str(path))


def test_reference_to_unknown_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: x\nfiles:\n  a:\n    key: [id]\n    columns:\n      id: {references: b.id}\n",
    )
    with pytest.raises(SpecError, match=r"b.id is not a column"):
        load_spec(str(path))


_PICKING = """name: x
files:
  orgs:
    key: [id]
    columns:
      id: {}
  users:
    key: [id]
    columns:
      id: {}
      orgs: {}
      school: {first_of: %s, references: orgs.id}
"""


def test_first_of_names_a_column_of_the_file(tmp_path: Path) -> None:
    assert (
        load_spec(str(_write(tmp_path, _PICKING % "orgs"))).file("users").column("school").first_of
        == "orgs"
    )
    with pytest.raises(SpecError, match=r"files.users.columns.school.first_of: name a column"):
        load_spec(str(_write(tmp_path, _PICKING % "nothing")))


def test_a_lookup_match_names_columns_of_both_files(tmp_path: Path) -> None:
    text = (
        "name: x\nfiles:\n  roles:\n    key: [id]\n    columns:\n      id: {}\n"
        "      user: {}\n      org: {}\n  users:\n    key: [id]\n"
        "    lookup: {file: roles, by: user, columns: {school: org}, match: {org: %s}}\n"
        "    columns:\n      id: {}\n      primary: {}\n      school: {}\n"
    )
    users = load_spec(str(_write(tmp_path, text % "primary"))).file("users")
    assert users.lookup is not None
    assert dict(users.lookup.match) == {"org": "primary"}
    with pytest.raises(SpecError, match=r"files.users.lookup.match: names no column"):
        load_spec(str(_write(tmp_path, text % "nothing")))


def test_unknown_spec_lists_known() -> None:
    with pytest.raises(SpecError, match="roster-csv"):
        load_spec("nope")
