"""PowerSchool dialects per district: encoding, headerless files, column aliases.

Files are real bytes in the district's encoding; the district's settings are
stored on its record and honoured by `roster process` and `roster check`.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.contracts.dialects import CsvDialect, parse_alias, parse_headerless
from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.errors import TerminalError
from roster_pipeline.stages.parse import parse
from roster_pipeline.stages.unpack import ReceivedFile
from roster_pipeline.store import open_store
from tests.helpers import Roster, as_json

USERS = (
    "district_user_id,first_name,last_name,role,school_id\n"
    "T1,José,Muñoz,Teacher,100\n"
    "S1,Zoë,Brontë,Student,100\n"
)


def _batch(folder: Path, users: bytes, samples: Path) -> Path:
    folder.mkdir()
    for name in ("schools.csv", "classes.csv"):
        shutil.copy(samples / "good" / name, folder / name)
    (folder / "classes.csv").write_text(
        "class_id,class_name,school_id,course_id,teacher_id\nC1,Art,100,ART,T1\n"
    )
    (folder / "enrollments.csv").write_text("class_id,student_id\nC1,S1\n")
    (folder / "users.csv").write_bytes(users)
    return folder


def _exported_names(roster: Roster) -> set[tuple[str, str]]:
    rows = csv.DictReader(io.StringIO(roster("export", "lincoln", "users").stdout))
    return {(r["first_name"], r["last_name"]) for r in rows}


@pytest.mark.parametrize("encoding", ["cp1252", "mac_roman"])
def test_opted_in_encoding_decodes_names(
    roster: Roster, store_url: str, samples: Path, tmp_path: Path, encoding: str
) -> None:
    roster("district", "add", "lincoln")
    assert roster("district", "set", "lincoln", "--encoding", encoding).exit_code == 0
    raw = USERS.encode(encoding)
    assert b"Jos\xe9" in raw or b"Jos\x8e" in raw  # really not UTF-8 bytes
    result = roster(
        "process", _batch(tmp_path / "b", raw, samples), "--district", "lincoln", "--json"
    )
    assert as_json(result)["status"] == "loaded", result.stdout
    assert _exported_names(roster) == {("José", "Muñoz"), ("Zoë", "Brontë")}


def test_utf8_district_rejects_cp1252_bytes_naming_the_line(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    batch = _batch(tmp_path / "b", USERS.encode("cp1252"), samples)
    result = roster("process", batch, "--district", "lincoln", "--json")
    assert result.exit_code == 1
    rejects = as_json(roster("report", as_json(result)["batch_id"], "--format", "json"))["rejects"]
    assert [(r["code"], r["line"], r["value"]) for r in rejects] == [("not_utf8", 2, "0xE9")]


def test_utf8_bom_wins_over_the_district_encoding(tmp_path: Path) -> None:
    spec = load_spec()
    path = tmp_path / "users.csv"
    path.write_bytes(b"\xef\xbb\xbf" + USERS.encode("utf-8"))
    parsed = parse(ReceivedFile("users.csv", path, "users", 0, ""), spec.file("users"), "cp1252")
    assert parsed.frame["first_name"].to_list() == ["José", "Zoë"]


def test_headerless_files_read_by_position(
    roster: Roster, store_url: str, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    order = "users=district_user_id,first_name,last_name,role,school_id"
    assert roster("district", "set", "lincoln", "--headerless", order).exit_code == 0
    roster("district", "set", "lincoln", "--max-reject-pct", "50")  # 1 of 3 rows is bad
    body = USERS.split("\n", 1)[1] + "S2,Ann,Lee,Pupil,100\n"
    batch = _batch(tmp_path / "b", body.encode(), samples)
    result = as_json(roster("process", batch, "--district", "lincoln", "--json"))
    assert result["status"] == "loaded_with_rejects"
    report = as_json(roster("report", result["batch_id"], "--format", "json"))
    # No header row: the third data row is physical line 3, as an editor shows it.
    assert [(r["line"], r["code"]) for r in report["rejects"]] == [(3, "not_allowed")]
    assert report["warnings"] == []
    assert _exported_names(roster) == {("José", "Muñoz"), ("Zoë", "Brontë")}


def test_headerless_district_sending_a_header_anyway(tmp_path: Path) -> None:
    spec = load_spec()
    path = tmp_path / "users.csv"
    path.write_text("\n" + USERS)
    order = ("district_user_id", "-", "first_name", "last_name", "role")
    received = ReceivedFile("users.csv", path, "users", 0, "")
    parsed = parse(received, spec.file("users"), "utf-8", order)
    assert parsed.frame["__line__"].to_list() == [3, 4]
    assert parsed.frame["first_name"].to_list() == ["José", "Zoë"]  # by its header, not order


def test_headerless_skips_columns_and_counts_fields(tmp_path: Path) -> None:
    spec = load_spec()
    path = tmp_path / "users.csv"
    path.write_text("\n9,T1,José,Muñoz,teacher\n9,S1,Zoë\n")
    order = ("-", "district_user_id", "first_name", "last_name", "role")
    parsed = parse(
        ReceivedFile("users.csv", path, "users", 0, ""), spec.file("users"), "utf-8", order
    )
    assert parsed.frame.rows() == [(2, "T1", "José", "Muñoz", "teacher")]
    assert parsed.rejects.select("line", "code").rows() == [(3, "field_count")]
    assert parsed.warnings == ()


def test_district_alias_maps_a_powerschool_header(
    roster: Roster, store_url: str, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    set_aliases = roster(
        "district", "set", "lincoln",
        "--alias", "users.district_user_id=Student_Number", "--alias", "users.first_name=First",
    )  # fmt: skip
    assert set_aliases.exit_code == 0
    users = USERS.replace("district_user_id,first_name", "Students.Student_Number,FIRST")
    batch = _batch(tmp_path / "b", users.encode(), samples)
    result = as_json(roster("process", batch, "--district", "lincoln", "--json"))
    assert result["status"] == "loaded"
    assert _exported_names(roster) == {("José", "Muñoz"), ("Zoë", "Brontë")}


def test_check_with_district_honours_its_settings(
    roster: Roster, store_url: str, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    batch = _batch(tmp_path / "b", USERS.replace("first_name", "First").encode("cp1252"), samples)
    plain = roster("check", batch, "--json")
    assert plain.exit_code == 1
    assert [r["code"] for r in as_json(plain)["rejects"]] == ["not_utf8"]
    roster(
        "district", "set", "lincoln", "--encoding", "cp1252", "--alias", "users.first_name=First"
    )
    honoured = roster("check", batch, "--district", "lincoln", "--json")
    assert honoured.exit_code == 0, honoured.stdout
    assert as_json(honoured)["rejects"] == []


def test_unknown_district_for_check_is_a_clean_error(roster: Roster, samples: Path) -> None:
    result = roster("check", samples / "good", "--district", "nowhere")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "nowhere" in result.output
    assert "Traceback" not in result.output


# -- the settings themselves


def test_dialect_round_trips_through_settings() -> None:
    dialect = CsvDialect(
        "cp1252",
        {"users.district_user_id": ("Student_Number",)},
        {"enrollments": ("class_id", "student_id")},
    )
    again = CsvDialect.from_settings(dialect.check(load_spec()).to_settings())
    assert again == dialect
    assert CsvDialect.from_settings({}).to_settings() == {}


def test_applied_aliases_add_to_the_spec_aliases() -> None:
    spec = CsvDialect(aliases={"users.district_user_id": ("Student_Number",)}).apply(load_spec())
    assert spec.file("users").column("district_user_id").aliases[-1] == "Student_Number"
    assert load_spec().file("users").column("district_user_id").aliases == ()


@pytest.mark.parametrize(
    ("dialect", "says"),
    [
        (CsvDialect(encoding="latin-9"), "not supported"),
        (CsvDialect(aliases={"pupils.id": ("X",)}), "'pupils' is not a file"),
        (CsvDialect(aliases={"users.nickname": ("X",)}), "'nickname' is not a column of users"),
        (CsvDialect(aliases={"users.first_name": ("Last Name",)}), "already means users.last_name"),
        (
            CsvDialect(headerless={"users": ("district_user_id", "first_name")}),
            "lacks last_name, role",
        ),
        (
            CsvDialect(headerless={"users": ("district_user_id", "shoe_size")}),
            "shoe_size name no column",
        ),
        (
            CsvDialect(headerless={"enrollments": ("class_id", "student_id", "class_id")}),
            "names class_id twice",
        ),
    ],
)
def test_dialect_check_names_the_problem(dialect: CsvDialect, says: str) -> None:
    with pytest.raises(TerminalError, match=says):
        dialect.check(load_spec())


def test_option_texts_parse() -> None:
    assert parse_alias("users.district_user_id = Student_Number") == (
        "users.district_user_id",
        "Student_Number",
    )
    assert parse_headerless("users=district_user_id, first_name,-") == (
        "users",
        ("district_user_id", "first_name", "-"),
    )
    for bad in ("users=Student_Number", "users.x=", "x"):
        with pytest.raises(TerminalError):
            parse_alias(bad)
    with pytest.raises(TerminalError):
        parse_headerless("users")


def test_data_starting_like_a_zlib_stream_is_read_literally(tmp_path: Path) -> None:
    """polars takes b"x^" for a zlib header; a headerless file can start so."""
    path = tmp_path / "users.csv"
    path.write_text("x^,Ann,Lee,Student\n")
    order = ("district_user_id", "first_name", "last_name", "role")
    parsed = parse(
        ReceivedFile("users.csv", path, "users", 0, ""), load_spec().file("users"), "utf-8", order
    )
    assert parsed.frame.rows() == [(1, "x^", "Ann", "Lee", "Student")]


def test_changed_applies_set_options_as_typed() -> None:
    start = CsvDialect(aliases={"users.first_name": ("First",)}, headerless={"users": ("a",)})
    changed = start.changed(
        encoding="cp1252",
        aliases=["users.district_user_id=Student_Number", "users.first_name=Given"],
        headerless=["enrollments=class_id,student_id"],
        with_header=["users"],
    )
    assert changed == CsvDialect(
        "cp1252",
        {"users.first_name": ("First", "Given"), "users.district_user_id": ("Student_Number",)},
        {"enrollments": ("class_id", "student_id")},
    )
    assert start.changed(clear_aliases=True).aliases == {}
    assert start.changed() == start


def test_district_set_stores_checks_and_shows_the_dialect(roster: Roster, store_url: str) -> None:
    roster("district", "add", "lincoln")
    shown = roster(
        "district", "set", "lincoln", "--encoding", "mac_roman",
        "--alias", "users.district_user_id=Student_Number",
        "--headerless", "enrollments=class_id,-,student_id", "--max-delete-pct", "5",
    )  # fmt: skip
    assert shown.exit_code == 0
    assert '"enrollments": ["class_id", "-", "student_id"]' in shown.stdout
    store = open_store(store_url)
    try:
        settings = dict(store.district("lincoln").settings)
    finally:
        store.close()
    assert settings == {
        "encoding": "mac_roman",
        "aliases": {"users.district_user_id": ["Student_Number"]},
        "headerless": {"enrollments": ["class_id", "-", "student_id"]},
        "max_delete_pct": 5.0,
    }
    for bad, says in (
        (("--alias", "users.nickname=Nick"), "'nickname' is not a column of users"),
        (("--headerless", "users=district_user_id"), "lacks first_name, last_name, role"),
        (("--encoding", "latin-9"), "Invalid value for '--encoding'"),
    ):
        refused = roster("district", "set", "lincoln", *bad)
        assert refused.exit_code in (1, 2)
        assert says in refused.output
    back = roster("district", "set", "lincoln", "--clear-aliases", "--with-header", "enrollments")
    assert back.exit_code == 0
    assert "aliases" not in back.stdout
    assert "headerless" not in back.stdout
    assert 'encoding="mac_roman"' in back.stdout


def test_rows_of_no_break_spaces_are_blank(tmp_path: Path) -> None:
    """Spreadsheets leave U+00A0 in emptied cells; such rows are blank, as ',,,' is."""
    path = tmp_path / "users.csv"
    path.write_text(USERS + ",,,\xa0,\n\u3000\nS2,Ann,Lee,Student,100\n", encoding="utf-8")
    parsed = parse(ReceivedFile("users.csv", path, "users", 0, ""), load_spec().file("users"))
    assert parsed.frame["__line__"].to_list() == [2, 3, 6]
    assert parsed.rejects.height == 0
