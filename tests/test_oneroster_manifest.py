"""OneRoster as sent: the manifest decides the version and each file's mode.

Every batch goes through `roster process` on both engines; the sets are the
team-written ones under samples/oneroster/ or the good set with one file changed.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from tests.helpers import Roster, as_json

SPEC = "oneroster-1.1"


def _night(samples: Path, tmp_path: Path, name: str = "night") -> Path:
    """A copy of the good bulk set to change."""
    night = tmp_path / name
    shutil.copytree(samples / "oneroster" / "good", night)
    return night


def _set_manifest(folder: Path, **changes: str | None) -> None:
    """Change (None: drop) manifest properties, ``file_users`` standing for
    ``file.users``; properties not there yet are appended."""
    path = folder / "manifest.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    named = {k.replace("_", ".", 1): v for k, v in changes.items()}
    kept = [[r[0], named.get(r[0], r[1])] for r in rows if named.get(r[0], "") is not None]
    have = {r[0] for r in rows}
    kept += [[n, v] for n, v in named.items() if n not in have and v is not None]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(kept)
    path.write_text(out.getvalue(), encoding="utf-8")


def _process(roster: Roster, source: Path, district: str = "lincoln") -> dict[str, object]:
    """Process ``source``; the batch's full report (rejects included) as JSON."""
    done = as_json(roster("process", source, "--district", district, "--json"))
    report = as_json(roster("report", done["batch_id"], "--format", "json"))
    assert isinstance(report, dict)
    return {**done, **report}


def _codes(report: dict[str, object]) -> list[str]:
    found = report["rejects"]
    assert isinstance(found, list)
    return [r["code"] for r in found]


def _exported(roster: Roster, table: str) -> list[dict[str, str]]:
    result = roster("export", "lincoln", table)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.fixture
def lincoln(roster: Roster) -> Roster:
    """A OneRoster 1.1 district."""
    assert roster("district", "add", "lincoln", "--spec", SPEC).exit_code == 0
    return roster


def test_a_1_2_set_to_a_1_1_district_names_the_version_and_the_contract(
    lincoln: Roster, samples: Path, tmp_path: Path
) -> None:
    night = _night(samples, tmp_path)
    _set_manifest(night, oneroster_version="1.2")
    report = _process(lincoln, night)
    assert report["status"] == "rejected"
    assert _codes(report) == ["wrong_contract"]
    message = str(report["message"])
    assert "manifest.csv: this is a OneRoster 1.2 set" in message
    assert "the district's contract is `oneroster-1.1`" in message
    assert "move it to `oneroster-1.2`" in message
    assert "courses.csv" not in message  # no longer a headline about a missing file


def test_a_1_0_set_without_manifest_is_named(lincoln: Roster, samples: Path) -> None:
    report = _process(lincoln, samples / "oneroster" / "v1.0")
    assert report["status"] == "rejected"
    assert _codes(report) == ["wrong_contract"]
    assert "OneRoster 1.0, which no contract reads" in str(report["message"])


def test_a_manifest_saying_1_0_is_named(lincoln: Roster, samples: Path, tmp_path: Path) -> None:
    night = _night(samples, tmp_path)
    _set_manifest(night, oneroster_version="1.0")
    report = _process(lincoln, night)
    assert _codes(report) == ["wrong_contract"]
    assert "this is a OneRoster 1.0 set" in str(report["message"])
    assert "no contract reads OneRoster 1.0" in str(report["message"])


@pytest.mark.parametrize(
    "case",
    [
        ("name,value\noneroster.version,1.1\n", 1, "the header must be propertyName,value"),
        ("propertyName,value\noneroster.version,1.1\nfile.users,full\n", 3,
         "file.users is 'full'; a file's mode is bulk, delta or absent"),
        ("propertyName,value\noneroster.version,1.1\noneroster.version,1.1\n", 3,
         "oneroster.version is given twice (first on line 2)"),
        ("propertyName,value\noneroster.version,1.1,extra\n", 2,
         "expected propertyName,value, found 3 field(s)"),
    ],
)  # fmt: skip
def test_a_malformed_manifest_rejects_the_batch_naming_its_line(
    lincoln: Roster, samples: Path, tmp_path: Path, case: tuple[str, int, str]
) -> None:
    text, line, says = case
    night = _night(samples, tmp_path)
    (night / "manifest.csv").write_text(text, encoding="utf-8")
    report = _process(lincoln, night)
    assert report["status"] == "rejected"
    rejects = report["rejects"]
    assert isinstance(rejects, list)
    assert [(r["code"], r["file"], r["line"]) for r in rejects] == [
        ("bad_manifest", "manifest.csv", line)
    ]
    assert f"manifest.csv line {line}: the manifest cannot be read: {says}" in rejects[0]["message"]
    assert "data loaded before stays loaded" in rejects[0]["message"]


def test_absent_files_are_not_required_and_the_report_says_so(
    lincoln: Roster, samples: Path, tmp_path: Path
) -> None:
    night = _night(samples, tmp_path)
    (night / "courses.csv").unlink()
    _set_manifest(night, file_courses="absent", source_colour="blue")
    report = _process(lincoln, night)
    assert report["status"] == "loaded", report["rejects"]
    warnings = "\n".join(map(str, report["warnings"]))  # type: ignore[call-overload]
    assert "manifest.csv marks courses absent: not sent, not required" in warnings
    assert "unknown property 'source.colour' (ignored)" in warnings
    assert "loaded yet" not in warnings


def test_a_bulk_file_not_sent_that_is_never_loaded_says_so(
    lincoln: Roster, samples: Path, tmp_path: Path
) -> None:
    night = _night(samples, tmp_path)
    (night / "courses.csv").unlink()
    report = _process(lincoln, night)
    assert report["status"] == "rejected"
    message = str(report["message"])
    assert "courses.csv: no file matching courses.csv was sent" in message
    assert "never loads them, so an earlier batch cannot stand in" in message
    assert "loaded yet" not in message


def test_a_file_marked_absent_but_sent_is_not_read(
    lincoln: Roster, samples: Path, tmp_path: Path
) -> None:
    lincoln("process", samples / "oneroster" / "good", "--district", "lincoln")
    night = _night(samples, tmp_path)
    (night / "users.csv").write_text("garbage\n", encoding="utf-8")
    classes = (night / "classes.csv").read_text(encoding="utf-8")
    (night / "classes.csv").write_text(classes.replace("Math 7 Period 2", "Math 7 P2"), "utf-8")
    _set_manifest(night, file_users="absent")
    report = _process(lincoln, night)
    assert report["status"] == "loaded"
    assert report["counts"]["classes"]["updated"] == 1  # type: ignore[index]
    assert "users" not in report["counts"]  # type: ignore[operator]
    warnings = "\n".join(map(str, report["warnings"]))  # type: ignore[call-overload]
    assert "manifest.csv marks users's file absent, but users was sent: it was not read" in warnings
    assert len(_exported(lincoln, "users")) == 6  # the loaded users stay


def test_a_oneroster_zip_to_a_roster_csv_district_is_the_wrong_contract(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln")
    report = _process(roster, samples / "oneroster" / "good.zip")
    assert _codes(report) == ["wrong_contract"]
    assert "move it to `oneroster-1.1`" in str(report["message"])
