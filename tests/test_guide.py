"""The onboarding guide: generated from the spec and the account, readable as Markdown and HTML."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.contracts.dialects import CsvDialect
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import available_specs, load_spec
from roster_pipeline.render.guide import GuideInput, guide_html, onboarding_guide
from roster_pipeline.store import open_store
from sftp_server.passwords import verify
from tests.browser import Rendered, dump_dom, screenshot
from tests.helpers import Roster, as_json

NASTY = "<script>alert(1)</script>"


def _connection(**extra: object) -> dict[str, object]:
    return {
        "district": "lincoln",
        "name": "Lincoln USD",
        "host": "sftp.example.com",
        "port": 2222,
        "username": "lincoln",
        "authentication": ["password", "publickey"],
        "host_key_fingerprints": [
            {"algorithm": "ssh-ed25519", "fingerprint": "SHA256:abc+/def"},
            {"algorithm": "ssh-rsa", "fingerprint": "SHA256:xyz_123"},
        ],
        **extra,
    }


def _sections(text: str) -> dict[str, str]:
    """Each '### file' section of the specification, by file name."""
    parts = re.split(r"^### (\S+) \((?:required|optional)\)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("spec_name", available_specs())
def test_every_file_and_column_of_the_spec_is_in_the_guide(spec_name: str) -> None:
    spec = load_spec(spec_name)
    text = onboarding_guide(GuideInput(_connection(), spec, CsvDialect()))
    sections = _sections(text)
    assert set(sections) == {f.name for f in spec.files}
    for f in spec.files:
        section = sections[f.name]
        for pattern in f.match:
            assert f"`{pattern}`" in section
        for column in f.columns:
            need = "required" if column.required else "optional"
            need = "not sent" if f.not_sent(column) else need  # taken from other columns
            assert re.search(rf"^\| `{re.escape(column.name)}` \| {need} \|", section, re.M), (
                f"{f.name}.{column.name} missing from its section"
            )
        for value in (v for c in f.columns for v in c.values):
            assert value in section
        for c in f.columns:
            if c.references:
                assert f"must name a row of {c.references.file}.{c.references.column}" in section
        key = ", ".join(f"`{k}`" for k in f.key)
        assert f"identified by {key}" in section


def test_guide_states_connection_encoding_prefixes_zip_and_codes() -> None:
    text = onboarding_guide(GuideInput(_connection(), load_spec(), CsvDialect()))
    for line in (
        "| Host | sftp.example.com |",
        "| Port | 2222 |",
        "| Username | lincoln |",
        "| Authentication | password, public key (SSH key pair) |",
        "| ssh-ed25519 | `SHA256:abc+/def` |",
        "| ssh-rsa | `SHA256:xyz_123` |",
        "- Encoding **UTF-8** (a byte-order mark is fine).",
    ):
        assert line in text
    assert "sent to you separately" in text
    for phrase in ("Remote Connection Manager", "Test Connection", "Data Export Manager",
                   "AutoSend", "Include column titles", "about 3:00", "`CC.ID`", "one zip",
                   "roster check FOLDER_OR_ZIP --district lincoln"):  # fmt: skip
        assert phrase in text
    for code in Code:
        assert f"| `{code}` |" in text


def test_guide_follows_the_district_dialect() -> None:
    dialect = CsvDialect(
        "cp1252",
        {"users.district_user_id": ("Student_Number",)},
        {"enrollments": ("class_id", "-", "student_id")},
    )
    text = onboarding_guide(GuideInput(_connection(), dialect.apply(load_spec()), dialect))
    assert "character set **cp1252**" in text
    assert "also accepted as: Student_Number" in text
    assert "enrollments export is set up without column titles" in text
    assert "`class_id`, `-`, `student_id`" in text


def test_html_guide_is_escaped_and_self_contained_in_chromium(tmp_path: Path) -> None:
    connection = _connection(name=f"Lincoln {NASTY} | *bold* [x](http://evil)")
    text = onboarding_guide(GuideInput(connection, load_spec(), CsvDialect()))
    page = guide_html(text, "Roster onboarding")
    for outside in ("<script", "href=", "<link", "src=", "@import"):
        assert outside not in page
    assert "default-src 'none'" in page
    path = tmp_path / "guide.html"
    path.write_text(page, encoding="utf-8")
    seen = Rendered(dump_dom(path, tmp_path / "profile"))
    assert "script" not in seen.tags
    assert "a" not in seen.tags  # no link came from the district name
    assert f"Sending your roster to us: Lincoln {NASTY} | *bold* [x](http://evil)" in seen.text
    assert "table" in seen.tags
    assert "Host sftp.example.com" in seen.text
    assert "district_user_id required unique;" in seen.text
    shot = screenshot(path, tmp_path / "profile", "guide.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_guide_has_every_host_key_and_writes_html(roster: Roster, tmp_path: Path) -> None:
    roster("district", "add", "lincoln", "--name", "Lincoln USD")
    markdown = roster("district", "guide", "lincoln")
    assert markdown.exit_code == 0
    shown = as_json(roster("hostkey", "fingerprints", "--json"))
    assert len(shown) == 3
    for key in shown:
        assert f"| {key['algorithm']} | `{key['fingerprint']}` |" in markdown.stdout
    target = tmp_path / "guide.html"
    written = roster("district", "guide", "lincoln", "--format", "html", "-o", target)
    assert written.exit_code == 0
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "<h1>Sending your roster to us: Lincoln USD</h1>" in page


def test_include_password_rotates_and_says_so(roster: Roster, store_url: str) -> None:
    old = as_json(roster("district", "add", "lincoln", "--json"))["password"]
    result = roster("district", "guide", "lincoln", "--include-password", "--yes")
    assert result.exit_code == 0
    found = re.search(r"^\| Password \| `([^`]+)` \(new: the previous", result.stdout, re.M)
    assert found is not None
    new = found.group(1)
    assert "the old one no longer works" in result.stderr
    store = open_store(store_url)
    stored = store.district("lincoln").password_hash
    store.close()
    assert verify(stored, new)
    assert not verify(stored, old)
    assert old not in result.stdout


def test_include_password_on_a_key_only_account_is_refused(roster: Roster, store_url: str) -> None:
    roster("district", "add", "lincoln")
    store = open_store(store_url)
    store.put_district(
        replace(store.district("lincoln"), password_hash="", public_keys=("ssh-ed25519 AAAA x",))
    )
    store.close()
    result = roster("district", "guide", "lincoln", "--include-password", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "logs in with a key only" in result.output


def _autosend(text: str) -> dict[str, list[tuple[str, str]]]:
    """Section 3's tables: file pattern -> (column title, PowerSchool field) rows."""
    found: dict[str, list[tuple[str, str]]] = {}
    parts = re.split(r"^### (\S+?)(?: \(optional\))?: table (\S+)$", text, flags=re.MULTILINE)
    for pattern, table, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        rows = re.findall(r"^\| `([^`]+)` \| (.+) \|$", body.split("##", 1)[0], re.MULTILINE)
        found[f"{pattern} {table}"] = rows
    return found


def test_the_powerschool_guide_names_a_table_per_autosend_and_a_field_per_column() -> None:
    text = onboarding_guide(GuideInput(_connection(), load_spec("powerschool"), CsvDialect()))
    tables = _autosend(text)
    assert list(tables) == [
        "schools\\*.csv Schools", "students\\*.csv Students", "teachers\\*.csv Teachers",
        "sections\\*.csv Sections", "cc\\*.csv CC", "sectionteacher\\*.csv SectionTeacher",
    ]  # fmt: skip
    assert ("StudentID", "CC.StudentID") in tables["cc\\*.csv CC"]
    assert ("Course_Name", "\\[Courses\\]Course_Name") in tables["sections\\*.csv Sections"]
    assert "one AutoSend per table" in text


def test_the_roster_csv_guide_maps_each_column_to_a_powerschool_field() -> None:
    text = onboarding_guide(GuideInput(_connection(), load_spec("roster-csv"), CsvDialect()))
    tables = _autosend(text)
    assert ("district_user_id", "Students.Student_Number") in tables["students\\*.csv Students"]
    assert ("district_user_id", "Teachers.TeacherNumber") in tables["teachers\\*.csv Teachers"]
    assert ("student_id", "\\[Students\\]Student_Number") in tables["enrollments\\*.csv CC"]
    assert "Not from one PowerSchool table (users\\*.csv)" in text


def test_the_clever_guide_lays_out_the_files_instead_of_powerschool_tables() -> None:
    text = onboarding_guide(GuideInput(_connection(), load_spec("clever"), CsvDialect()))
    assert _autosend(text) == {}
    assert "## 3. Your export: Clever SFTP CSV" in text
    assert "| sections\\*.csv | `School_id`, `Section_id`, `Teacher_id`" in text


@pytest.mark.parametrize(
    ("spec_name", "taken"), [("oneroster-1.1", ["school"]), ("oneroster-1.2", ["role", "school"])]
)
def test_a_oneroster_guide_asks_for_no_column_taken_from_elsewhere(
    spec_name: str, taken: list[str]
) -> None:
    spec = load_spec(spec_name)
    text = onboarding_guide(GuideInput(_connection(), spec, CsvDialect()))
    users = next(line for line in text.splitlines() if line.startswith("| users.csv |"))
    for column in taken:
        assert f"`{column}`" not in users
        assert re.search(rf"^\| `{column}` \| not sent \|", text, re.M)
    assert "`givenName`" in users
