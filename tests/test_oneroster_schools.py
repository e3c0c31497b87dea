"""A OneRoster user's school: 1.1 takes the first of orgSourcedIds that is a school;
1.2 takes the org of the role that gives the user's role (primary first, among several
primary roles the one at primaryOrgSourcedId), and rejects a primaryOrgSourcedId
none of the user's roles is at. Both fill users.school_id, as roster-csv does."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from tests.helpers import Roster, as_json


def _copy(samples: Path, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(samples / "oneroster" / name, folder)
    return folder


def _edit(path: Path, rows: dict[str, dict[str, str]], added: list[dict[str, str]]) -> None:
    """Rewrite a CSV: ``rows`` changes cells of the rows keyed by sourcedId."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        body = [{**r, **rows.get(r["sourcedId"], {})} for r in reader]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows([*body, *added])


def _schools(roster: Roster, district: str) -> dict[str, str]:
    exported = roster("export", district, "users")
    assert exported.exit_code == 0, exported.output
    return {u["sourcedId"]: u["school"] for u in csv.DictReader(io.StringIO(exported.stdout))}


def _role(user: str, role_id: str, kind: str, role: str, org: str) -> dict[str, str]:
    return {"sourcedId": role_id, "status": "", "dateLastModified": "", "userSourcedId": user,
            "roleType": kind, "role": role, "beginDate": "", "endDate": "",
            "orgSourcedId": org, "userProfileSourcedId": ""}  # fmt: skip


def test_1_1_school_is_the_first_listed_org_that_is_a_school(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    folder = _copy(samples, tmp_path, "good")
    _edit(
        folder / "users.csv",
        {
            "usr-t1001": {"orgSourcedIds": "org-district-1,org-school-200"},
            "usr-000418": {"orgSourcedIds": "org-district-1"},
        },
        [],
    )
    roster("district", "add", "lincoln", "--spec", "oneroster-1.1")
    done = as_json(roster("process", folder, "--district", "lincoln", "--json"))
    assert (done["status"], done["rejects"]) == ("loaded", 0)
    assert _schools(roster, "lincoln") == {
        "usr-t1001": "org-school-200",  # the district listed first is passed over
        "usr-t1002": "org-school-200",  # "org-school-200,org-school-100": the first
        "usr-000417": "org-school-100",
        "usr-000418": "",  # no school listed: loaded without one
        "usr-000419": "org-school-200",
        "usr-000420": "org-school-200",
    }


def test_1_2_among_several_primary_roles_primary_org_decides(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    folder = _copy(samples, tmp_path, "v1.2")
    _edit(
        folder / "users.csv",
        {"usr-t1001": {"primaryOrgSourcedId": "org-school-200"},
         "usr-000417": {"primaryOrgSourcedId": ""}},
        [],
    )  # fmt: skip
    _edit(
        folder / "roles.csv",
        {},
        [
            # usr-t1001: primary at 100 (listed first) and at 200, primaryOrgSourcedId 200.
            _role("usr-t1001", "rol-91", "primary", "teacher", "org-school-200"),
            # usr-000417: two primary roles, no primaryOrgSourcedId: the first listed.
            _role("usr-000417", "rol-92", "primary", "student", "org-school-200"),
            # usr-000418: a secondary role at primaryOrgSourcedId does not beat a primary one.
            _role("usr-000418", "rol-93", "secondary", "student", "org-school-200"),
        ],
    )
    _edit(folder / "users.csv", {"usr-000418": {"primaryOrgSourcedId": "org-school-200"}}, [])
    roster("district", "add", "lincoln", "--spec", "oneroster-1.2")
    done = as_json(roster("process", folder, "--district", "lincoln", "--json"))
    assert (done["status"], done["rejects"]) == ("loaded", 0)
    schools = _schools(roster, "lincoln")
    assert schools["usr-t1001"] == "org-school-200"
    assert schools["usr-000417"] == "org-school-100"
    assert schools["usr-000418"] == "org-school-100"
    assert schools["usr-t1002"] == "org-school-200"  # primary at 200, secondary at 100


def test_1_2_a_primary_org_none_of_the_roles_is_at_rejects_the_user(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    folder = _copy(samples, tmp_path, "v1.2")
    _edit(folder / "users.csv", {"usr-000418": {"primaryOrgSourcedId": "org-school-200"}}, [])
    roster("district", "add", "lincoln", "--spec", "oneroster-1.2")
    roster("district", "set", "lincoln", "--max-reject-pct", "100")
    done = as_json(roster("process", folder, "--district", "lincoln", "--json"))
    assert done["status"] == "loaded_with_rejects"
    report = as_json(roster("report", done["batch_id"], "--format", "json"))
    user = [r for r in report["rejects"] if r["file"] == "users.csv"]
    assert [(r["line"], r["column"], r["code"]) for r in user] == [
        (6, "primaryOrgSourcedId", "reference_mismatch")
    ]
    assert user[0]["message"] == (
        "users.csv line 6: primaryOrgSourcedId 'org-school-200' is not the orgSourcedId of"
        " any of usr-000418's rows in the roles file (org-school-100); the row is rejected:"
        " correct primaryOrgSourcedId, or send the roles row at it"
    )
    assert "usr-000418" not in _schools(roster, "lincoln")
    # Its enrollment follows it: rejected as naming a rejected user.
    assert {r["code"] for r in report["rejects"] if r["file"] == "enrollments.csv"} == {
        "reference_rejected"
    }


def test_1_2_a_primary_role_at_the_district_gives_no_school(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    folder = _copy(samples, tmp_path, "v1.2")
    _edit(folder / "roles.csv", {"rol-1": {"orgSourcedId": "org-district-1"}},
          [_role("usr-t1001", "rol-94", "secondary", "teacher", "org-school-100")])  # fmt: skip
    roster("district", "add", "lincoln", "--spec", "oneroster-1.2")
    done = as_json(roster("process", folder, "--district", "lincoln", "--json"))
    assert (done["status"], done["rejects"]) == ("loaded", 0)
    schools = _schools(roster, "lincoln")
    assert schools["usr-t1001"] == ""  # the primary role decides; its org is no school
    assert schools["usr-000417"] == "org-school-100"


def test_1_1_delta_without_orgs_picks_among_the_loaded_schools(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", "oneroster-1.1")
    roster("district", "set", "lincoln", "--max-delete-pct", "100")
    roster("process", samples / "oneroster" / "good", "--district", "lincoln")
    night = _copy(samples, tmp_path, "delta")  # orgs absent: the loaded schools decide
    _edit(
        night / "users.csv",
        {"usr-000418": {"orgSourcedIds": "org-district-1,org-school-200"},
         "usr-000421": {"orgSourcedIds": "org-district-1"}},
        [],
    )  # fmt: skip
    done = as_json(roster("process", night, "--district", "lincoln", "--json"))
    assert (done["status"], done["rejects"]) == ("loaded", 0)
    schools = _schools(roster, "lincoln")
    assert schools["usr-000418"] == "org-school-200"  # the district is no loaded school
    assert schools["usr-000421"] == ""
    assert schools["usr-t1003"] == "org-school-200"
    assert schools["usr-000417"] == "org-school-100"  # not listed tonight: kept


def test_1_2_a_roles_delta_does_not_judge_primary_org_on_the_roles_it_lists(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", "oneroster-1.2")
    roster("process", samples / "oneroster" / "v1.2.zip", "--district", "lincoln")
    night = _copy(samples, tmp_path, "v1.2")
    manifest = (night / "manifest.csv").read_text(encoding="utf-8")
    modes = {"file.users,bulk": "file.users,delta", "file.roles,bulk": "file.roles,delta"}
    for bulk in ("academicSessions", "classes", "courses", "enrollments", "orgs", "userProfiles"):
        modes[f"file.{bulk},bulk"] = f"file.{bulk},absent"
    for old, new in modes.items():
        manifest = manifest.replace(old, new)
    (night / "manifest.csv").write_text(manifest, encoding="utf-8")
    for absent in ("academicSessions", "classes", "courses", "enrollments", "orgs",
                   "userProfiles"):  # fmt: skip
        (night / f"{absent}.csv").unlink()
    users = (night / "users.csv").read_text(encoding="utf-8").splitlines()
    # usr-t1002 (primary at 200, loaded) gets a new e-mail and, tonight, a role at 100 only.
    changed = [users[2].replace("joconnor@", "james.oconnor@")]
    (night / "users.csv").write_text("\n".join([users[0], *changed]) + "\n", encoding="utf-8")
    (night / "roles.csv").write_text(
        "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,"
        "orgSourcedId,userProfileSourcedId\n"
        "rol-2,,,usr-t1002,primary,teacher,,,org-school-200,\n",
        encoding="utf-8",
    )
    done = as_json(roster("process", night, "--district", "lincoln", "--json"))
    assert (done["status"], done["rejects"]) == ("loaded", 0), done
    assert _schools(roster, "lincoln")["usr-t1002"] == "org-school-200"
    # The same user row against a roles delta naming another org only: not judged.
    (night / "roles.csv").write_text(
        "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,"
        "orgSourcedId,userProfileSourcedId\n"
        "rol-3,,,usr-t1002,primary,teacher,,,org-school-100,\n",
        encoding="utf-8",
    )
    again = as_json(roster("process", night, "--district", "lincoln", "--json"))
    assert again["rejects"] == 0, again
