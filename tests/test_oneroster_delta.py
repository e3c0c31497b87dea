"""OneRoster bulk and delta nights, teacher enrollments, lenient unloaded columns.

The sets are team-written (samples/oneroster/good, delta, quirks); the delta
property compares nights of generated users with a plain reference model.
"""

from __future__ import annotations

import csv
import io
import itertools
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster_pipeline.config import load_settings
from roster_pipeline.districts import add_district, export
from roster_pipeline.home import Home
from roster_pipeline.pipeline import process
from tests.helpers import Roster, as_json

SPEC = "oneroster-1.1"


def _report(roster: Roster, source: Path) -> dict[str, object]:
    done = as_json(roster("process", source, "--district", "lincoln", "--json"))
    report = as_json(roster("report", done["batch_id"], "--format", "json"))
    return {**done, **report}


def _rows(roster: Roster, table: str) -> list[dict[str, str]]:
    result = roster("export", "lincoln", table)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def _links(roster: Roster) -> set[tuple[str, str, str]]:
    """The loaded teacher links: (class, teacher, primary)."""
    rows = _rows(roster, "class_teachers")
    return {(t["class_id"], t["user_id"], t["is_primary"]) for t in rows}


def _warnings(report: Mapping[str, object]) -> str:
    found = report["warnings"]
    assert isinstance(found, list)
    return "\n".join(found)


@pytest.fixture
def lincoln(roster: Roster) -> Roster:
    assert roster("district", "add", "lincoln", "--spec", SPEC).exit_code == 0
    return roster


def test_a_delta_night_changes_only_what_it_lists(lincoln: Roster, samples: Path) -> None:
    lincoln("process", samples / "oneroster" / "good", "--district", "lincoln")
    night = _report(lincoln, samples / "oneroster" / "delta")
    # The explicit deletes count against the holds: 1 of 6 users is past 10%.
    assert night["status"] == "held"
    assert night["mode"] == "delta"
    assert "users: 1 of 6 loaded rows (16.7%) would be deleted" in str(night["message"])
    assert "(delta: rows the delta files do not list stay as they are)" in str(night["message"])
    page = Path(str(night["report"])).read_text(encoding="utf-8")
    assert "<dt>Applied as</dt><dd>delta: the rows listed changed, the others kept</dd>" in page
    counts = night["counts"]
    assert isinstance(counts, dict)
    assert counts["users"] == {"added": 2, "updated": 1, "deleted": 1, "unchanged": 0,
                               "rejected": 0, "left_out": 0}  # fmt: skip
    assert counts["enrollments"]["deleted"] == 1
    assert counts["class_teachers"]["added"] == 1
    warnings = _warnings(night)
    assert "manifest.csv marks enrollments, users delta" in warnings
    assert "users.csv (delta): 1 row(s) marked for deletion" in warnings
    approved = lincoln("batch", "approve", str(night["batch_id"]))
    assert approved.exit_code == 0, approved.output
    users = {u["sourcedId"]: u for u in _rows(lincoln, "users")}
    assert set(users) == {"usr-t1001", "usr-t1002", "usr-t1003", "usr-000417", "usr-000418",
                          "usr-000419", "usr-000421"}  # fmt: skip
    assert users["usr-000418"]["email"] == "jmunoz@students.lincoln.k12.example"
    pairs = {(e["classSourcedId"], e["userSourcedId"]) for e in _rows(lincoln, "enrollments")}
    assert pairs == {("cls-hr3a", "usr-000417"), ("cls-hr3a", "usr-000418"),
                     ("cls-math7-1", "usr-000419"), ("cls-math7-1", "usr-000421"),
                     ("cls-sci7-1", "usr-000419")}  # fmt: skip
    links = _links(lincoln)
    assert ("cls-math7-1", "usr-t1003", "false") in links
    assert ("cls-math7-1", "usr-t1002", "true") in links  # the primary teacher stays
    assert len(_rows(lincoln, "orgs")) == 2  # absent files change nothing


def test_a_delta_deleting_what_was_never_loaded_is_a_warning(
    lincoln: Roster, samples: Path, tmp_path: Path
) -> None:
    lincoln("process", samples / "oneroster" / "good", "--district", "lincoln")
    night = tmp_path / "delta"
    shutil.copytree(samples / "oneroster" / "delta", night)
    stamp = "2026-09-14T18:02:11.000Z"
    with (night / "users.csv").open("a", encoding="utf-8") as users:
        for n in (1, 2, 3):
            users.write(f"usr-99900{n},tobedeleted,{stamp},true,org-school-200,student,"
                        f"99900{n},,Gone,Pupil,,99900{n},,,,,07,\n")  # fmt: skip
    with (night / "enrollments.csv").open("a", encoding="utf-8") as enrollments:
        enrollments.write(f"enr-99,tobedeleted,{stamp},cls-math7-1,org-school-200,"
                          "usr-999001,student,false,,\n")  # fmt: skip
    report = _report(lincoln, night)
    assert report["rejects"] == []
    counts = report["counts"]
    assert isinstance(counts, dict)
    assert counts["users"]["deleted"] == 1  # usr-000420, the one loaded
    warnings = _warnings(report)
    assert (
        "users.csv (delta): 3 tobedeleted row(s) name users never loaded"
        " (e.g. usr-999001, usr-999002, usr-999003): nothing to delete"
    ) in warnings
    assert (
        "enrollments.csv (delta): 1 tobedeleted row(s) name enrollments never loaded"
        " (e.g. cls-math7-1/usr-999001): nothing to delete"
    ) in warnings
    # The delta as sent (one loaded user marked) names nothing never loaded.
    assert "never loaded" not in _warnings(_report(lincoln, samples / "oneroster" / "delta"))


def test_a_class_in_a_delta_names_a_school_loaded_before_not_in_tonights_orgs(
    lincoln: Roster, samples: Path, tmp_path: Path
) -> None:
    """Orgs are loaded as schools only where type is school, so a loaded school is an
    org of type school even though the table does not keep the type."""
    lincoln("process", samples / "oneroster" / "good", "--district", "lincoln")
    night = tmp_path / "delta"
    night.mkdir()
    absent = "academicSessions categories classResources courses courseResources demographics"
    absent += " enrollments lineItems resources results users"
    manifest = [
        "propertyName,value", "manifest.version,1.0", "oneroster.version,1.1",
        "file.classes,delta", "file.orgs,delta", *(f"file.{f},absent" for f in absent.split()),
    ]  # fmt: skip
    (night / "manifest.csv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    stamp = "2026-09-14T18:02:11.000Z"
    (night / "orgs.csv").write_text(
        "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
        f"org-school-200,active,{stamp},Lincoln Middle,school,200,org-district-1\n",
        encoding="utf-8",
    )
    header = (
        "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,"
        "location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
    )
    rows = [f"cls-hr3a,active,{stamp},Homeroom 3A,03,crs-hr3,HR3-A,homeroom,Room 12,{org},"
            "as-2027,Homeroom,,1\n" for org in ("org-school-100", "org-district-1")]  # fmt: skip
    (night / "classes.csv").write_text(header + rows[0], encoding="utf-8")
    report = _report(lincoln, night)
    assert report["rejects"] == []
    assert report["counts"]["classes"]["updated"] == 1  # type: ignore[index]
    # The district org was never loaded as a school: naming it stays a reject.
    (night / "classes.csv").write_text(header + rows[1], encoding="utf-8")
    rejected = _report(lincoln, night)["rejects"]
    assert isinstance(rejected, list)
    assert [(r["column"], r["code"]) for r in rejected] == [
        ("schoolSourcedId", "reference_missing")
    ]


def test_a_delta_on_a_first_load_adds_and_holds_nothing(lincoln: Roster, samples: Path) -> None:
    night = _report(lincoln, samples / "oneroster" / "delta")
    # Enrollments name classes nobody loaded: rejected, the users load.
    assert night["mode"] == "delta"
    counts = night["counts"]
    assert isinstance(counts, dict)
    assert counts["users"]["added"] == 3
    assert counts["users"]["deleted"] == 0
    assert {u["sourcedId"] for u in _rows(lincoln, "users")} == {
        "usr-000418", "usr-000421", "usr-t1003",
    }  # fmt: skip


def test_bulk_quirks_are_reported_not_loaded(lincoln: Roster, samples: Path) -> None:
    report = _report(lincoln, samples / "oneroster" / "quirks")
    assert report["status"] == "loaded_with_rejects"
    assert report["mode"] == "bulk"
    rejects = report["rejects"]
    assert isinstance(rejects, list)
    assert {(r["line"], r["column"], r["code"]) for r in rejects} == {
        (11, "userSourcedId", "reference_mismatch"),  # a teacher enrolled as a student
        (12, "userSourcedId", "spreadsheet_number"),  # 2.80001E+11
    }
    warnings = _warnings(report)
    # tobedeleted rows of a bulk file are left out, counted and reported.
    assert "users.csv: 1 row(s) marked for deletion (status is 'tobedeleted') left out" in warnings
    assert "classes.csv: 1 row(s) marked for deletion" in warnings
    follows = "enrollments.csv: 2 row(s) left out: their classSourcedId names a classes row"
    assert follows in warnings
    # A column that is not loaded warns: the user with dateLastModified 2023-05-01 loads.
    assert "users.csv line 7: dateLastModified '2023-05-01' must be a UTC date" in warnings
    users = {u["sourcedId"] for u in _rows(lincoln, "users")}
    assert "usr-000419" in users
    assert "usr-000422" not in users  # marked tobedeleted
    assert {c["sourcedId"] for c in _rows(lincoln, "classes")} == {"cls-hr3a", "cls-math7-1"}
    links = _links(lincoln)
    assert links == {("cls-hr3a", "usr-t1001", "true"), ("cls-math7-1", "usr-t1002", "true"),
                     ("cls-math7-1", "usr-t1001", "false")}  # fmt: skip
    students = {(e["classSourcedId"], e["userSourcedId"]) for e in _rows(lincoln, "enrollments")}
    assert ("cls-hr3a", "usr-t1002") not in students


def test_strict_columns_rejects_rows_on_unloaded_columns(lincoln: Roster, samples: Path) -> None:
    done = lincoln("district", "set", "lincoln", "--strict-columns", "--max-reject-pct", "100")
    assert done.exit_code == 0, done.output
    shown = lincoln("district", "show", "lincoln").output
    assert any(line.split() == ["strict_columns", "on", "(this", "district's", "own)"]
               for line in shown.splitlines())  # fmt: skip
    report = _report(lincoln, samples / "oneroster" / "quirks")
    rejects = report["rejects"]
    assert isinstance(rejects, list)
    assert ("users.csv", 7, "dateLastModified", "pattern") in {
        (r["file"], r["line"], r["column"], r["code"]) for r in rejects
    }
    assert "usr-000419" not in {u["sourcedId"] for u in _rows(lincoln, "users")}


# The delta property: any sequence of bulk and delta nights of users loads the state a
# plain model computes by applying the nights in order.

_USERS_HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)
_IDS = [f"usr-{i}" for i in range(8)]
_PERSON = st.tuples(st.sampled_from(["Ann", "Bo", "Cy"]), st.sampled_from(["teacher", "student"]))
_NIGHT = st.tuples(
    st.sampled_from(["bulk", "delta"]),
    st.dictionaries(st.sampled_from(_IDS), _PERSON, max_size=6),  # rows listed
    st.sets(st.sampled_from(_IDS), max_size=3),  # rows marked tobedeleted
)
_SLUGS = itertools.count()


def _write_night(folder: Path, mode: str, listed: dict[str, tuple[str, str]],
                 marked: set[str]) -> None:  # fmt: skip
    folder.mkdir()
    files = ("academicSessions", "classes", "courses", "enrollments", "orgs")
    manifest = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.1",
                f"file.users,{mode}", *(f"file.{f},absent" for f in files)]  # fmt: skip
    (folder / "manifest.csv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    stamp = "2026-09-14T18:02:11.000Z" if mode == "delta" else ""
    lines = [_USERS_HEADER]
    for uid, (name, role) in listed.items():
        status = "active" if mode == "delta" else ""
        lines.append(f"{uid},{status},{stamp},true,org-1,{role},{uid},,{name},Doe,,,,,,,,")
    gone = "tobedeleted,{stamp},true,org-1,student,{uid},,X,Doe,,,,,,,,"
    lines += [f"{uid},{gone.format(stamp=stamp, uid=uid)}" for uid in marked]
    (folder / "users.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _model(state: dict[str, tuple[str, str]], mode: str, listed: dict[str, tuple[str, str]],
           marked: set[str]) -> dict[str, tuple[str, str]]:  # fmt: skip
    if mode == "bulk":
        return dict(listed)  # a full list; rows marked tobedeleted are left out
    return {k: v for k, v in {**state, **listed}.items() if k not in marked}


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(nights=st.lists(_NIGHT, min_size=1, max_size=4))
def test_nights_load_what_the_reference_model_computes(
    store_url: str, nights: list[tuple[str, dict[str, tuple[str, str]], set[str]]]
) -> None:
    root = Path(tempfile.mkdtemp())
    slug = f"prop{next(_SLUGS)}"
    state: dict[str, tuple[str, str]] = {}
    opened = load_settings(
        home=root / "home", database_url=store_url, max_delete_pct=100.0, max_update_pct=100.0
    )
    with Home(opened) as home:
        home.create()
        add_district(home, slug, spec=SPEC)
        for number, (mode, sent, marked) in enumerate(nights):
            listed = {k: v for k, v in sent.items() if k not in marked}
            _write_night(root / f"night{number}", mode, listed, marked)
            result = process(home, slug, [root / f"night{number}"])
            assert str(result.batch.status) in {"loaded", "duplicate"}, result.rejects
            assert result.batch.mode == mode or str(result.batch.status) == "duplicate"
            state = _model(state, mode, listed, marked)
        loaded = export(home, slug, "users")
    rows = loaded.iter_rows(named=True)
    got = {r["sourcedId"]: (r["givenName"], r["role"].lower()) for r in rows}
    assert got == state


def test_a_user_marked_for_deletion_in_an_unchanged_file_still_takes_their_rows_out(
    lincoln: Roster, samples: Path, tmp_path: Path
) -> None:
    lincoln("district", "set", "lincoln", "--max-reject-pct", "100")
    lincoln("process", samples / "oneroster" / "quirks", "--district", "lincoln")
    night = tmp_path / "night"
    shutil.copytree(samples / "oneroster" / "quirks", night)
    with (night / "enrollments.csv").open("a", encoding="utf-8") as f:
        f.write("enr-12,,,cls-math7-1,org-school-200,usr-000422,student,false,,\n")
    report = _report(lincoln, night)  # users.csv is the one loaded last night
    assert "enrollments.csv: 1 row(s) left out: their userSourcedId names a users row" in (
        _warnings(report)
    )
    rejects = report["rejects"]
    assert isinstance(rejects, list)
    assert "usr-000422" not in {r["value"] for r in rejects}
