"""OneRoster 1.2: the spec follows the 1.2.1 binding, a 1.2 set loads what its 1.1 twin
loads, roles decide each user's role, userProfiles' passwords never reach the archive.

The column lists below are written out from the 1.2.1 CSV binding independently of
specs/oneroster-1.2.yaml, so the spec is checked against them.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.redact import blanked
from tests.helpers import Roster, as_json

SPEC = "oneroster-1.2"

USERS_12 = [
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
    "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
    "agentSourcedIds", "grades", "password", "userMasterIdentifier", "preferredGivenName",
    "preferredMiddleName", "preferredFamilyName", "primaryOrgSourcedId", "pronouns",
]  # fmt: skip
ROLES_12 = [
    "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
    "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId",
]  # fmt: skip
PROFILES_12 = [
    "sourcedId", "status", "dateLastModified", "userSourcedId", "profileType", "vendorId",
    "applicationId", "description", "credentialType", "username", "password",
]  # fmt: skip
ROLE_VOCABULARY = {
    "aide", "counselor", "districtAdministrator", "guardian", "parent", "principal", "proctor",
    "relative", "siteAdministrator", "student", "systemAdministrator", "teacher",
}  # fmt: skip


def test_spec_follows_the_1_2_binding() -> None:
    spec = load_spec(SPEC)
    users = spec.file("users")
    # role and school are not users.csv columns in 1.2: they are looked up in roles.csv
    # (one row gives both), after the rest.
    assert list(users.column_names) == [*USERS_12, "role", "school"]
    assert users.lookup is not None
    assert (users.lookup.file, users.lookup.on) == ("roles", "userSourcedId")
    assert dict(users.lookup.columns) == {"role": "role", "school": "orgSourcedId"}
    assert dict(users.lookup.prefer) == {"roleType": "primary"}
    assert dict(users.lookup.match) == {"orgSourcedId": "primaryOrgSourcedId"}
    assert users.column("school").target == "school_id"
    assert {c.name for c in users.columns if c.required} == {
        "sourcedId", "enabledUser", "username", "givenName", "familyName",
    }  # fmt: skip
    roles = spec.file("roles")
    assert list(roles.column_names) == ROLES_12
    assert {c.name for c in roles.columns if c.required} >= {
        "userSourcedId", "roleType", "role", "orgSourcedId",
    }  # fmt: skip
    assert set(roles.column("role").values) == ROLE_VOCABULARY
    assert set(roles.column("roleType").values) == {"primary", "secondary"}
    profiles = spec.file("userProfiles")
    assert list(profiles.column_names) == PROFILES_12
    assert not profiles.load
    assert not profiles.required
    assert profiles.secret_columns == ("password",)
    assert spec.manifest is not None
    assert spec.manifest.version == "1.2"
    assert users.blank_in_bulk == ("status", "dateLastModified")


def _loaded(roster: Roster, district: str, table: str) -> set[tuple[tuple[str, str], ...]]:
    result = roster("export", district, table)
    assert result.exit_code == 0, result.output
    return {tuple(sorted(r.items())) for r in csv.DictReader(io.StringIO(result.stdout))}


def test_a_1_2_set_loads_what_its_1_1_twin_loads(roster: Roster, samples: Path) -> None:
    roster("district", "add", "eleven", "--spec", "oneroster-1.1")
    roster("district", "add", "twelve", "--spec", SPEC)
    one = as_json(roster("process", samples / "oneroster" / "good", "--district", "eleven",
                         "--json"))  # fmt: skip
    two = as_json(roster("process", samples / "oneroster" / "v1.2.zip", "--district", "twelve",
                         "--json"))  # fmt: skip
    assert (one["status"], two["status"]) == ("loaded", "loaded")
    assert one["counts"] == two["counts"]
    for table in ("orgs", "users", "classes", "enrollments", "class_teachers"):
        assert _loaded(roster, "eleven", table) == _loaded(roster, "twelve", table), table
    # Schools too: 1.1's first school of orgSourcedIds is 1.2's primary role's org.
    schools = {
        name: {
            u["sourcedId"]: u["school"]
            for u in csv.DictReader(io.StringIO(roster("export", name, "users").stdout))
        }
        for name in ("eleven", "twelve")
    }
    assert schools["eleven"] == schools["twelve"]
    assert schools["twelve"]["usr-t1002"] == "org-school-200"
    assert all(schools["twelve"].values())


def _set_12(samples: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "set12"
    shutil.copytree(samples / "oneroster" / "v1.2", folder)
    return folder


def test_the_primary_role_decides_and_a_user_without_roles_is_not_loaded(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    folder = _set_12(samples, tmp_path)
    roles = (folder / "roles.csv").read_text(encoding="utf-8").splitlines()
    # usr-000420: a student whose secondary role is teacher stays a student;
    # usr-000419's roles are gone: not loaded, and its enrollments are rejected.
    roles = [r for r in roles if ",usr-000419," not in r]
    roles.append("rol-90,,,usr-000420,secondary,teacher,,,org-school-200,")
    (folder / "roles.csv").write_text("\n".join(roles) + "\n", encoding="utf-8")
    roster("district", "add", "lincoln", "--spec", SPEC)
    roster("district", "set", "lincoln", "--max-reject-pct", "100")
    done = as_json(roster("process", folder, "--district", "lincoln", "--json"))
    users = {u["sourcedId"]: u["role"] for u in csv.DictReader(
        io.StringIO(roster("export", "lincoln", "users").stdout))}  # fmt: skip
    assert users["usr-000420"] == "Student"
    assert "usr-000419" not in users
    report = as_json(roster("report", done["batch_id"], "--format", "json"))
    assert (
        "users.csv: 1 row(s) have no row in roles to give their role and school"
        " (e.g. usr-000419): they are not loaded, and rows naming them are rejected"
    ) in report["warnings"]
    assert {(r["line"], r["code"]) for r in report["rejects"]} == {
        (6, "reference_mismatch"), (9, "reference_mismatch"),
    }  # fmt: skip
    assert report["rejects"][0]["message"].startswith(
        "enrollments.csv line 6: userSourcedId 'usr-000419' has no role in users.csv, but this"
        " row has role 'student'"
    )


def test_a_teacher_enrolled_as_a_student_is_a_mismatch_in_1_2(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    folder = _set_12(samples, tmp_path)
    with (folder / "enrollments.csv").open("a", encoding="utf-8") as f:
        f.write("enr-20,,,cls-hr3a,org-school-100,usr-t1002,student,false,,\n")
    roster("district", "add", "lincoln", "--spec", SPEC)
    done = as_json(roster("process", folder, "--district", "lincoln", "--json"))
    report = as_json(roster("report", done["batch_id"], "--format", "json"))
    assert [(r["line"], r["code"]) for r in report["rejects"]] == [(10, "reference_mismatch")]
    assert "'usr-t1002' has role 'teacher' in users.csv" in report["rejects"][0]["message"]


def test_a_filled_status_in_a_bulk_file_is_a_warning(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    folder = _set_12(samples, tmp_path)
    users = (folder / "users.csv").read_text(encoding="utf-8")
    (folder / "users.csv").write_text(users.replace("usr-000417,,,", "usr-000417,active,,"),
                                      encoding="utf-8")  # fmt: skip
    roster("district", "add", "lincoln", "--spec", SPEC)
    done = as_json(roster("process", folder, "--district", "lincoln", "--json"))
    assert done["status"] == "loaded"
    report = as_json(roster("report", done["batch_id"], "--format", "json"))
    assert (
        "users.csv: 1 row(s) fill status or dateLastModified, which a bulk file leaves blank;"
        " the rows were read as sent"
    ) in report["warnings"]


@pytest.mark.parametrize("sent", ["v1.2", "v1.2.zip"])
def test_user_profile_passwords_never_reach_the_archive(
    roster: Roster, samples: Path, tmp_path: Path, sent: str
) -> None:
    source = tmp_path / sent
    (shutil.copytree if sent == "v1.2" else shutil.copy)(samples / "oneroster" / sent, source)
    roster("district", "add", "lincoln", "--spec", SPEC)
    done = as_json(roster("process", source, "--district", "lincoln", "--json"))
    assert done["status"] == "loaded"
    archived = tmp_path / "home" / "archive" / str(done["batch_id"]) / "raw"
    found = b""
    for path in archived.rglob("*"):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                found += b"".join(z.read(n) for n in z.namelist())
                assert z.testzip() is None
        elif path.is_file():
            found += path.read_bytes()
    assert b"Gradebook login" in found  # the profile itself is kept
    assert b"Secret-Gradebook-1" not in found
    # What the district sent is not touched.
    sent_bytes = (source / "userProfiles.csv").read_bytes() if source.is_dir() else b""
    assert sent == "v1.2.zip" or b"Secret-Gradebook-1" in sent_bytes


def test_blanking_keeps_everything_else() -> None:
    sent = b'\xef\xbb\xbfsourcedId,Password,x\r\np1,s3cr"et,\xc3\xa9\r\np2,,\xff\r\n'
    kept = b"\xef\xbb\xbfsourcedId,Password,x\r\np1,,\xc3\xa9\r\np2,,\xff\r\n"
    assert blanked(sent, ["password"]) == kept
    assert blanked(b"a,b\n1,2\n", ["password"]) == b"a,b\n1,2\n"


def test_a_1_2_delta_without_roles_keeps_each_users_loaded_role(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", SPEC)
    roster("process", samples / "oneroster" / "v1.2.zip", "--district", "lincoln")
    night = tmp_path / "delta12"
    night.mkdir()
    manifest = (samples / "oneroster" / "v1.2" / "manifest.csv").read_text(encoding="utf-8")
    # users.csv as a delta; every other file absent.
    lines = [
        "file.users,delta" if line.startswith("file.users,") else line.replace(",bulk", ",absent")
        for line in manifest.splitlines()
    ]
    (night / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    header = ",".join(USERS_12)
    teacher = (
        "usr-t1001,active,2026-09-14T18:02:11.000Z,true,malvarez,,Maria,Alvarez-Reyes,,T1001,"
        "malvarez@lincoln.k12.example,,,,,,,,,,org-school-100,"
    )
    (night / "users.csv").write_text(f"{header}\n{teacher}\n", encoding="utf-8")
    done = as_json(roster("process", night, "--district", "lincoln", "--json"))
    assert (done["status"], done["mode"]) == ("loaded", "delta")
    assert done["counts"]["users"]["updated"] == 1
    users = {u["sourcedId"]: u for u in csv.DictReader(
        io.StringIO(roster("export", "lincoln", "users").stdout))}  # fmt: skip
    assert users["usr-t1001"]["role"] == "Teacher"
    assert users["usr-t1001"]["familyName"] == "Alvarez-Reyes"
    assert len(users) == 6  # rows the delta does not list stay


@pytest.mark.parametrize("spec", ["oneroster-1.1", SPEC])
def test_users_passwords_are_secret_in_both_versions(tmp_path: Path, spec: str) -> None:
    from roster_pipeline.redact import redact

    users = tmp_path / "users.csv"
    header = "sourcedId,givenName,password\n"
    users.write_text(header + "usr-1,Ann,hunter2\n", encoding="utf-8")
    other = tmp_path / "orgs.csv"
    other.write_text("sourcedId,password\norg-1,kept\n", encoding="utf-8")
    assert redact([tmp_path], load_spec(spec)) == ["users.csv"]
    assert users.read_text(encoding="utf-8") == header + "usr-1,Ann,\n"
    assert "kept" in other.read_text(encoding="utf-8")  # orgs has no secret column
