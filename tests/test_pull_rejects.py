"""A pulled batch's rejects are named by query, record and key, never by the files
we wrote for it: in the text, HTML, CSV and JSON reports, `roster report`, the
console's batch and reject pages, its CSV download and its JSON API.

The roster comes from the PowerSchool emulator over real HTTP, with one student
record PowerSchool sends without a first name (the third of its query).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from roster_pipeline.config import Settings, load_settings
from roster_pipeline.home import Home
from roster_pipeline.sources import QUERY_PREFIX
from tests.helpers import SAMPLES, Roster, as_json, pulled_from
from tests.powerschool_emulator import Emulator, split_users
from tests.web_helpers import console_as_viewer

QUERY = f"{QUERY_PREFIX}students"
TABLES = ("schools", "users", "classes", "enrollments")


def _tables() -> dict[str, pl.DataFrame]:
    frames = {t: pl.read_csv(SAMPLES / "good" / f"{t}.csv", infer_schema=False) for t in TABLES}
    tables = split_users(frames)
    students = tables["students"]
    # The third record PowerSchool sends has no first name: line 4 of students.csv.
    tables["students"] = students.with_columns(
        first_name=pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("")).otherwise("first_name")
    )
    return tables


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    server = Emulator(_tables(), max_page_size=2)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bad_key(emulator: Emulator) -> str:
    return str(emulator.tables["students"]["district_user_id"][2])


@pytest.fixture
def batch_id(roster: Roster, emulator: Emulator) -> str:
    """lincoln pulled from the emulator: loaded, one student rejected."""
    assert roster("district", "add", "lincoln").exit_code == 0
    done = pulled_from(roster, "lincoln", emulator.url, emulator.client_id, emulator.client_secret)
    assert done.exit_code == 0, done.output
    pulled = roster("pull", "lincoln", "--json")
    assert pulled.exit_code == 0, pulled.output
    data = as_json(pulled)
    assert data["status"] == "loaded_with_rejects", data
    return str(data["batch_id"])


def _required(rejects: list[Any]) -> Any:
    """The student's own reject (its enrollment is rejected too, as naming it)."""
    (found,) = [r for r in rejects if r["code"] == "required"]
    return found


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return load_settings(env={}, home=tmp_path / "home", database_url=store_url)


def test_the_text_report_names_query_record_and_key(
    roster: Roster, batch_id: str, bad_key: str
) -> None:
    text = roster("report", batch_id).output
    assert f"query {QUERY}, record 3, key {bad_key} [first_name] required: first_name is" in text
    assert "students.csv line" not in text.split("reject(s):")[1]


def test_the_csv_report_has_query_record_and_key_columns(
    roster: Roster, batch_id: str, bad_key: str
) -> None:
    text = roster("report", batch_id, "--format", "csv").output
    row = _required(list(csv.DictReader(io.StringIO(text))))
    assert (row["query"], row["record"], row["key"]) == (QUERY, "3", bad_key)
    assert (row["column"], row["message"]) == ("first_name", "first_name is required")
    assert not {"file", "line"} & set(row)


def test_the_json_report_adds_query_and_record_to_file_and_line(
    roster: Roster, batch_id: str, bad_key: str
) -> None:
    reject = _required(as_json(roster("report", batch_id, "--format", "json"))["rejects"])
    assert (reject["file"], reject["line"]) == ("students.csv", 4)  # kept: nothing breaks
    assert (reject["query"], reject["record"], reject["key"]) == (QUERY, 3, bad_key)


def test_the_report_files_written_with_the_batch_say_the_same(
    settings: Settings, batch_id: str, bad_key: str
) -> None:
    with Home(settings) as home:
        folder = Path(home.store.batch(batch_id).report_path).parent
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert f"<td class='f'>{QUERY}</td><td>3</td><td>{bad_key}</td><td>first_name" in page
    assert "<th>query</th><th>record</th><th>key</th>" in page
    assert "students.csv</td>" not in page.split("Rejects by reason")[1]
    row = _required(
        list(csv.DictReader(io.StringIO((folder / "rejects.csv").read_text("utf-8-sig"))))
    )
    assert (row["query"], row["record"], row["key"]) == (QUERY, "3", bad_key)
    reject = _required(json.loads((folder / "report.json").read_text(encoding="utf-8"))["rejects"])
    assert (reject["query"], reject["record"], reject["key"]) == (QUERY, 3, bad_key)


def test_the_console_pages_csv_and_api_name_query_record_and_key(
    settings: Settings, batch_id: str, bad_key: str
) -> None:
    with console_as_viewer(settings) as client:
        batch_page = client.get(f"/batches/{batch_id}").text
        assert f"<td>query {QUERY}</td>" in batch_page
        rejects = client.get(f"/batches/{batch_id}/rejects").text
        assert f'<td class="where">query {QUERY}, record 3, key {bad_key}</td>' in rejects
        assert "students.csv</td>" not in rejects
        download = client.get(f"/batches/{batch_id}/rejects.csv").content.decode("utf-8-sig")
        row = _required(list(csv.DictReader(io.StringIO(download))))
        assert (row["query"], row["record"], row["key"]) == (QUERY, "3", bad_key)
        api = _required(client.get(f"/api/batches/{batch_id}/rejects").json()["rows"])
    assert (api["file"], api["line"]) == ("students.csv", 4)  # kept for existing clients
    assert (api["query"], api["record"], api["key"]) == (QUERY, 3, bad_key)
    assert api["where"] == f"query {QUERY}, record 3, key {bad_key}"


def test_the_keys_timeline_names_query_record_and_key(
    roster: Roster, settings: Settings, emulator: Emulator, batch_id: str, bad_key: str
) -> None:
    bad = emulator.tables["students"]
    named = pl.when(pl.col("first_name") == "").then(pl.lit("Ann")).otherwise("first_name")
    emulator.tables["students"] = bad.with_columns(first_name=named)
    assert roster("pull", "lincoln").exit_code == 0  # the student loaded ...
    emulator.tables["students"] = bad
    assert roster("pull", "lincoln").exit_code == 0  # ... then sent without a first name
    where = f"query {QUERY}, record 3, key {bad_key}"
    text = roster("history", "lincoln", bad_key, "--table", "users").output
    assert f"its row rejected, the version loaded before stays: {where} first_name" in text
    assert "students.csv line" not in text
    data = as_json(roster("history", "lincoln", bad_key, "--table", "users", "--json"))
    own = [(r["where"], r["message"]) for r in data["rejects"] if r["kept_loaded"]]
    assert own == [(where, "first_name is required")] * 2  # the first pull's and the last's
    with console_as_viewer(settings) as client:
        page = client.get(f"/districts/lincoln/history/users/{bad_key}").text
    assert f"<td>{where}</td>" in page


def test_an_uploaded_batch_still_names_file_and_line(roster: Roster) -> None:
    assert roster("district", "add", "lincoln").exit_code == 0
    done = as_json(roster("process", str(SAMPLES / "bad"), "--district", "lincoln", "--json"))
    text = roster("report", str(done["batch_id"])).output
    assert "users.csv line " in text
    assert "query " not in text
    header = roster("report", str(done["batch_id"]), "--format", "csv").output.splitlines()[0]
    assert header == "file,line,column,value,code,message"
