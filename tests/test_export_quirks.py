"""Parser gaps found on real exports: NULs, prefixed aliases, float-mangled IDs, short
headerless lists, conflicting aliases, and files that belong to another contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.stages.parse import ParsedFile, parse
from roster_pipeline.stages.unpack import ReceivedFile
from roster_pipeline.store import open_store
from tests.helpers import Roster, as_json, process_json

HEADER = "district_user_id,first_name,last_name,role,school_id\n"


def _parse(tmp_path: Path, data: bytes, positional: tuple[str, ...] = ()) -> ParsedFile:
    path = tmp_path / "users.csv"
    path.write_bytes(data)
    spec = load_spec()
    return parse(
        ReceivedFile("users.csv", path, "users", 0, ""), spec.file("users"), "utf-8", positional
    )


def _rejects(roster: Roster, batch_id: object) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = as_json(roster("report", str(batch_id), "--format", "json"))[
        "rejects"
    ]
    return rows


def test_nul_bytes_are_padding_never_a_value_and_never_reach_a_report(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    roster("district", "set", "lincoln", "--max-reject-pct", "100")
    sent = tmp_path / "nul"
    shutil.copytree(samples / "good", sent)
    users = (sent / "users.csv").read_bytes()
    users = users.replace(b"T1001,Maria,", b"T1001," + b"\x00" * 25 + b",")
    users = users.replace(b"Liam", b"Li\x00\x00am")
    (sent / "users.csv").write_bytes(users)
    result = process_json(roster, sent)
    found = _rejects(roster, result["batch_id"])
    assert [(r["line"], r["column"], r["code"]) for r in found if r["file"] == "users.csv"] == [
        (2, "first_name", "required")
    ]
    names = {u["district_user_id"]: u["first_name"] for u in as_json(
        roster("export", "lincoln", "users", "--format", "json"))}  # fmt: skip
    assert names["000418"] == "Liam"
    archive = Path(str(result["report"])).parent
    for report in archive.glob("report.*"):
        assert "\x00" not in report.read_text(encoding="utf-8")
        assert "\\u0000" not in report.read_text(encoding="utf-8")
    warnings = json.loads((archive / "report.json").read_text())["warnings"]
    assert "users.csv: 27 NUL byte(s) removed (padding, never part of a value)" in warnings


def test_an_alias_written_with_its_prefix_picks_exactly_that_column(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    alias = "users.school_id=XTBL_TESTS.DISTRICT_CODE"
    assert roster("district", "set", "lincoln", "--alias", alias).exit_code == 0
    sent = tmp_path / "prefixed"
    shutil.copytree(samples / "good", sent)
    lines = (sent / "users.csv").read_text(encoding="utf-8").splitlines()
    head = lines[0].replace(",school_id", ",XTBL_TEST_ADMIN.DISTRICT_CODE,XTBL_TESTS.DISTRICT_CODE")
    rows = [line.rsplit(",", 1)[0] + ",999," + line.rsplit(",", 1)[1] for line in lines[1:]]
    (sent / "users.csv").write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    result = process_json(roster, sent)
    assert result["status"] == "loaded"
    schools = {
        u["school_id"] for u in as_json(roster("export", "lincoln", "users", "--format", "json"))
    }
    assert schools == {"100", "200"}


def test_ids_a_spreadsheet_turned_into_floats_get_the_spreadsheet_code(tmp_path: Path) -> None:
    from roster_pipeline.stages.validate import validate

    parsed = _parse(tmp_path, (HEADER + "805703.0,Ann,Lee,Student,242.0\n").encode())
    validated = validate([parsed], load_spec(), _Nothing())
    found = validated.rejects.filter(validated.rejects["file"] == "users.csv")
    assert sorted(zip(found["column"], found["code"], strict=True)) == [
        ("district_user_id", "spreadsheet_number"), ("school_id", "spreadsheet_number"),
    ]  # fmt: skip


class _Nothing:
    def rows(self, table: str, columns: object) -> None:
        return None


def test_a_short_headerless_column_list_says_so_and_how_to_fix_it(tmp_path: Path) -> None:
    positional = ("district_user_id", "first_name", "last_name", "role")
    parsed = _parse(tmp_path, b"u1,Ann,Lee,Student,100,extra\n", positional)
    (message,) = parsed.rejects["message"].to_list()
    assert "the row has 6 fields but this district's column list" in message
    assert "names only 4: the list is short" in message
    assert "'-' for one not read" in message


def test_conflicting_aliases_are_refused_at_district_set(roster: Roster, store_url: str) -> None:
    roster("district", "add", "lincoln")
    both = roster(
        "district", "set", "lincoln",
        "--alias", "users.first_name=Name", "--alias", "users.last_name=Name",
    )  # fmt: skip
    assert both.exit_code != 0
    assert "'Name' is given to both users.first_name and users.last_name" in both.output
    taken = roster("district", "set", "lincoln", "--alias", "users.first_name=last_name")
    assert taken.exit_code != 0
    assert "it already means users.last_name" in taken.output
    store = open_store(store_url)
    assert "aliases" not in store.district("lincoln").settings  # nothing was saved
    store.close()


def test_files_of_another_contract_are_named_in_the_batch_message(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln")
    oneroster = process_json(roster, samples / "oneroster" / "good.zip", code=1)
    message = as_json(roster("batches", "--json"))[0]["message"]
    assert oneroster["status"] == "rejected"
    assert "this is a OneRoster 1.1 set, but the district's contract is `roster-csv`" in message
    assert "move it to `oneroster-1.1`" in message
    roster("district", "add", "maple", "--spec", "clever")
    result = roster("process", samples / "powerschool-tables", "--district", "maple", "--json")
    assert as_json(result)["status"] == "rejected"
    message = as_json(roster("batches", "--district", "maple", "--json"))[0]["message"]
    assert "look like the `powerschool` contract" in message


def test_a_multi_valued_cell_has_each_of_its_values_checked(tmp_path: Path) -> None:
    from roster_pipeline.stages.validate import validate

    spec_file = tmp_path / "grades.yaml"
    spec_file.write_text(
        "name: grades\nfiles:\n  users:\n    key: [id]\n    columns:\n"
        "      id: {required: true, format: id}\n"
        "      grades: {separator: ',', values: ['09', '10', '11', '12', K]}\n",
        encoding="utf-8",
    )
    spec = load_spec(str(spec_file))
    path = tmp_path / "users.csv"
    path.write_text('id,grades\nu1,"09,10"\nu2,"k, 12"\nu3,"10,13"\nu4,10\n', encoding="utf-8")
    parsed = parse(ReceivedFile("users.csv", path, "users", 0, ""), spec.file("users"))
    validated = validate([parsed], spec, _Nothing())
    found = validated.rejects
    assert list(zip(found["line"], found["code"], found["value"], strict=True)) == [
        (4, "not_allowed", "10,13")
    ]
    assert validated.files["users"].frame["grades"].to_list() == ["09,10", "k, 12", "10"]
