"""`roster` end to end on the samples: process, batches, report, export, check."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from roster_pipeline.cli.exits import ExitCode
from tests.helpers import Roster, as_json, process_json


def _counts(data: dict[str, object], table: str) -> tuple[int, ...]:
    counts = data["counts"]
    assert isinstance(counts, dict)
    c = counts[table]
    return (c["added"], c["updated"], c["deleted"], c["unchanged"], c["rejected"])


def test_first_load_then_next_night(roster: Roster, samples: Path) -> None:
    assert roster("district", "add", "lincoln").exit_code == 0
    first = process_json(roster, samples / "good.zip")
    assert first["status"] == "loaded"
    assert first["rejects"] == 0
    assert _counts(first, "users") == (12, 0, 0, 0, 0)
    assert _counts(first, "enrollments") == (9, 0, 0, 0, 0)
    assert {f["name"]: f["rows"] for f in first["files"]} == {  # type: ignore[attr-defined]
        "schools.csv": 2, "users.csv": 12, "classes.csv": 4, "enrollments.csv": 9,
    }  # fmt: skip
    second = process_json(roster, samples / "next-night")
    assert second["status"] == "loaded"
    assert _counts(second, "users") == (1, 1, 0, 11, 0)
    assert _counts(second, "enrollments") == (2, 0, 0, 9, 0)
    assert _counts(second, "classes") == (0, 0, 0, 4, 0)
    exported = roster("export", "lincoln", "users").stdout
    rows = {r["district_user_id"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert len(rows) == 13
    assert rows["000421"]["last_name"] == "Brown-Ellis"  # updated, leading zeros kept
    assert rows["000423"]["last_name"] == "Smith, Jr."


def test_same_content_again_is_a_duplicate_and_changes_nothing(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln")
    process_json(roster, samples / "good.zip")
    again = process_json(roster, samples / "good")  # same bytes, loose this time
    assert again["status"] == "duplicate"
    listing = as_json(roster("batches", "--json"))
    assert [b["status"] for b in listing] == ["duplicate", "loaded"]


def test_mass_delete_is_held_exit_3(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    process_json(roster, samples / "next-night")
    held = process_json(roster, samples / "good.zip", code=3)
    assert held["status"] == "held"
    exported = roster("export", "lincoln", "enrollments", "--format", "json")
    assert len(as_json(exported)) == 11  # nothing applied


def test_bad_batch_loads_good_rows_and_reports_every_reject(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    roster("district", "set", "lincoln", "--max-reject-pct", "100")  # most rows are bad here
    data = process_json(roster, samples / "bad")
    assert data["status"] == "loaded_with_rejects"
    report = as_json(roster("report", str(data["batch_id"]), "--format", "json"))
    codes = {r["code"] for r in report["rejects"]}
    assert codes >= {
        "field_count", "required", "pattern", "spreadsheet_number", "not_allowed",
        "too_long", "duplicate_key", "reference_missing", "reference_rejected",
        "reference_mismatch",
    }  # fmt: skip
    users = {
        r["district_user_id"]
        for r in as_json(roster("export", "lincoln", "users", "--format", "json"))
    }
    assert "T1001" in users
    assert "000425" not in users  # duplicate key: no copy guessed
    assert Path(str(data["report"])).is_file()


def test_rejected_batch_exit_1_keeps_loaded_data(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    process_json(roster, samples / "good.zip")
    broken = tmp_path / "users.csv"
    broken.write_bytes(b"district_user_id,first_name,last_name\nT1,Ann,Lee\n")
    data = process_json(roster, broken, code=1)
    assert data["status"] == "rejected"
    report = as_json(roster("report", str(data["batch_id"]), "--format", "json"))
    assert report["rejects"][0]["code"] == "missing_column"
    assert "role" in report["rejects"][0]["message"]
    assert len(as_json(roster("export", "lincoln", "users", "--format", "json"))) == 12


def test_check_loads_nothing(roster: Roster, samples: Path) -> None:
    result = roster("check", samples / "bad", "--json")
    assert result.exit_code == 3  # most rows rejected: a batch like this would be held
    assert as_json(result)["status"] == "held"
    assert as_json(result)["rejects"]
    assert roster("batches", "--json").stdout.strip() == "[]"


def test_unknown_district_is_a_clean_error(roster: Roster, samples: Path) -> None:
    result = roster("process", samples / "good.zip", "--district", "nowhere")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "nowhere" in result.output
    assert "Traceback" not in result.output


def test_powerschool_flavour_loads(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    data = process_json(roster, samples / "powerschool")
    assert data["status"] == "loaded", data
    users = as_json(roster("export", "lincoln", "users", "--format", "json"))
    assert {u["role"] for u in users} == {"Teacher", "Student"}
    assert {u["district_user_id"] for u in users} == {"T2001", "002001", "002002"}


def test_spec_show_lists_every_column(roster: Roster) -> None:
    text = roster("spec", "show").stdout
    for column in ("district_user_id", "teacher_id", "student_id", "school_name"):
        assert column in text
