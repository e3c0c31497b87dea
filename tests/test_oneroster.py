"""OneRoster 1.1 CSV as a second contract: the spec follows the binding, loads the roster tables.

The binding's column lists below are written out from the OneRoster 1.1 CSV
specification, independently of specs/oneroster-1.1.yaml, so the spec is
checked against them rather than against itself.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
import yaml

from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.errors import SpecError
from tests.helpers import Roster, as_json

SPEC = "oneroster-1.1"

#: file -> (columns in binding order, the required ones)
BINDING: dict[str, tuple[list[str], set[str]]] = {
    "manifest": (["propertyName", "value"], {"propertyName", "value"}),
    "orgs": (
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "name",
            "type",
            "identifier",
            "parentSourcedId",
        ],
        {"sourcedId", "name", "type"},
    ),
    "academicSessions": (
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "type",
            "startDate",
            "endDate",
            "parentSourcedId",
            "schoolYear",
        ],
        {"sourcedId", "title", "type", "startDate", "endDate", "schoolYear"},
    ),
    "courses": (
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "schoolYearSourcedId",
            "title",
            "courseCode",
            "grades",
            "orgSourcedId",
            "subjects",
            "subjectCodes",
        ],
        {"sourcedId", "title", "orgSourcedId"},
    ),
    "classes": (
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "grades",
            "courseSourcedId",
            "classCode",
            "classType",
            "location",
            "schoolSourcedId",
            "termSourcedIds",
            "subjects",
            "subjectCodes",
            "periods",
        ],
        {"sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"},
    ),
    "enrollments": (
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "classSourcedId",
            "schoolSourcedId",
            "userSourcedId",
            "role",
            "primary",
            "beginDate",
            "endDate",
        ],
        {"sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"},
    ),
    "users": (
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "enabledUser",
            "orgSourcedIds",
            "role",
            "username",
            "userIds",
            "givenName",
            "familyName",
            "middleName",
            "identifier",
            "email",
            "sms",
            "phone",
            "agentSourcedIds",
            "grades",
            "password",
        ],
        {
            "sourcedId",
            "enabledUser",
            "orgSourcedIds",
            "role",
            "username",
            "givenName",
            "familyName",
        },
    ),
}
ROLES = {"administrator", "aide", "guardian", "parent", "proctor", "relative", "student",
         "teacher"}  # fmt: skip


def test_spec_follows_the_binding() -> None:
    spec = load_spec(SPEC)
    assert {f.name for f in spec.files} == set(BINDING)
    for f in spec.files:
        columns, required = BINDING[f.name]
        # school is not a users.csv column: it is picked from orgSourcedIds, after the rest.
        derived = ["school"] if f.name == "users" else []
        assert list(f.column_names) == [*columns, *derived], f.name
        assert {c.name for c in f.columns if c.required} == required, f.name
        assert f.match == (f"{f.name}.csv",)
        assert f.ordered
    users = spec.file("users")
    assert set(users.column("role").values) == ROLES
    assert set(spec.file("enrollments").column("role").values) == {
        "administrator", "proctor", "student", "teacher",
    }  # fmt: skip
    refs = {
        (f.name, c.name): (c.references.file, c.references.column)
        for f in spec.files
        for c in f.columns
        if c.references
    }
    assert refs == {
        ("courses", "schoolYearSourcedId"): ("academicSessions", "sourcedId"),
        ("courses", "orgSourcedId"): ("orgs", "sourcedId"),
        ("classes", "courseSourcedId"): ("courses", "sourcedId"),
        ("classes", "schoolSourcedId"): ("orgs", "sourcedId"),
        ("enrollments", "classSourcedId"): ("classes", "sourcedId"),
        ("enrollments", "schoolSourcedId"): ("orgs", "sourcedId"),
        ("enrollments", "userSourcedId"): ("users", "sourcedId"),
        ("users", "school"): ("orgs", "sourcedId"),
    }
    assert users.column("school").first_of == "orgSourcedIds"
    assert users.column("school").target == "school_id"


def _exported(roster: Roster, table: str) -> list[dict[str, str]]:
    result = roster("export", "lincoln", table)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_good_zip_loads_the_roster_tables(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln", "--spec", SPEC)
    done = as_json(
        roster("process", samples / "oneroster" / "good.zip", "--district", "lincoln", "--json")
    )
    assert done["status"] == "loaded"
    assert done["rejects"] == 0
    added = {t: c["added"] for t, c in done["counts"].items()}
    assert added == {
        "schools": 2, "users": 6, "classes": 3, "enrollments": 5, "class_teachers": 3,
    }  # fmt: skip
    users = {u["sourcedId"]: u for u in _exported(roster, "users")}
    assert set(users) == {
        "usr-t1001",
        "usr-t1002",
        *(f"usr-00041{i}" for i in (7, 8, 9)),
        "usr-000420",
    }
    assert users["usr-t1001"]["role"] == "Teacher"  # the roster tables' vocabulary
    assert users["usr-000418"]["givenName"] == "José"
    assert users["usr-000418"]["grades"] == "03"  # leading zero kept
    schools = _exported(roster, "orgs")
    assert [s["name"] for s in schools] == ["Lincoln Elementary", "Lincoln Middle School"]
    pairs = {(e["classSourcedId"], e["userSourcedId"]) for e in _exported(roster, "enrollments")}
    assert ("cls-hr3a", "usr-t1001") not in pairs  # teachers' enrollments are not loaded
    assert ("cls-math7-1", "usr-000420") in pairs
    refused = roster("export", "lincoln", "courses")
    assert refused.exit_code == ExitCode.USAGE
    assert "checked but not loaded" in refused.output


def test_loose_files_equal_the_zip_and_the_next_night_deletes(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", SPEC)
    roster("process", samples / "oneroster" / "good.zip", "--district", "lincoln")
    again = as_json(
        roster("process", samples / "oneroster" / "good", "--district", "lincoln", "--json")
    )
    assert again["status"] == "duplicate"
    night = tmp_path / "night"
    shutil.copytree(samples / "oneroster" / "good", night)
    for name in ("users.csv", "enrollments.csv"):
        lines = (night / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (night / name).write_text(
            "".join(line for line in lines if "usr-000420" not in line), encoding="utf-8"
        )
    done = as_json(roster("process", night, "--district", "lincoln", "--json"))
    assert done["status"] == "held"  # 1 of 6 users deleted is past the 10% limit
    assert done["counts"]["users"]["deleted"] == 1
    assert done["counts"]["enrollments"]["deleted"] == 1
    assert done["counts"]["schools"]["unchanged"] == 2  # orgs.csv was identical: skipped
    assert set(done["counts"]) == {"schools", "users", "classes", "enrollments", "class_teachers"}


def test_check_and_guide_work_from_the_spec(roster: Roster, samples: Path) -> None:
    checked = roster("check", samples / "oneroster" / "good.zip", "--spec", SPEC, "--json")
    assert checked.exit_code == 0
    assert as_json(checked)["rejects"] == []
    roster("district", "add", "lincoln", "--spec", SPEC)
    guide = roster("district", "guide", "lincoln").stdout
    assert "## 5. The file specification: OneRoster 1.1 CSV (bulk and delta)" in guide
    assert "Loaded into the users table (rows whose role is teacher or student)" in guide
    assert "The columns must come in the order listed." in guide
    shown = roster("spec", "show", SPEC).stdout
    assert "## enrollments (required)" in shown


def _spec_with(tmp_path: Path, change: dict[str, object]) -> Path:
    raw = yaml.safe_load((Path(load_spec(SPEC).source or "")).read_text(encoding="utf-8"))
    raw["files"]["users"].update(change)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"load_where": {"rank": ["x"]}}, "unknown key 'rank'"),
        ({"load_rows": True}, "unknown key 'load_rows'"),
        ({"columns": {"sourcedId": {"load": False}}}, "key columns must be loaded"),
        ({"columns": {"sourcedId": {"load_as": ["x"]}}}, "expected a mapping"),
    ],
)
def test_loading_vocabulary_is_closed_and_checked(
    tmp_path: Path, change: dict[str, object], says: str
) -> None:
    with pytest.raises(SpecError, match=says):
        load_spec(str(_spec_with(tmp_path, change)))
