"""`roster pull` and `roster district source|test|plugin` against the PowerSchool emulator.

Real HTTP on loopback, the real CLI, both database engines. Each of PowerSchool's
quirks is switched on in the emulator; each fault ends in one message naming the
district and what happens next, with no batch formed and nothing applied.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
import pytest
from click.testing import CliRunner

from roster_pipeline.cli import main
from roster_pipeline.config import load_settings
from roster_pipeline.home import Home
from roster_pipeline.sources import QUERIES
from tests.helpers import SAMPLES, Roster, as_json, pulled_from
from tests.powerschool_emulator import PERMISSION, Emulator, split_users

NIGHTS = {name: SAMPLES / name for name in ("good", "next-night")}
TABLES = ("schools", "users", "classes", "enrollments")
NS = "{http://plugin.powerschool.pearson.com}"


def night(name: str) -> dict[str, pl.DataFrame]:
    frames = {t: pl.read_csv(NIGHTS[name] / f"{t}.csv", infer_schema=False) for t in TABLES}
    return split_users(frames)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    server = Emulator(night("good"), max_page_size=3)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pulled(roster: Roster, emulator: Emulator) -> Roster:
    """The district lincoln, pulled from the emulator."""
    assert roster("district", "add", "lincoln").exit_code == 0
    done = pulled_from(roster, "lincoln", emulator.url, emulator.client_id, emulator.client_secret)
    assert done.exit_code == 0, done.output
    return roster


@pytest.fixture
def home(tmp_path: Path, store_url: str) -> Callable[[], Home]:
    """Opens the home the `roster` fixture's CLI runs on."""
    return lambda: Home(load_settings(env={}, home=tmp_path / "home", database_url=store_url))


def pull_json(roster: Roster, code: int = 0) -> dict[str, object]:
    result = roster("pull", "lincoln", "--json")
    assert result.exit_code == code, result.output
    data: dict[str, object] = as_json(result)
    return data


def batch_count(roster: Roster) -> int:
    return len(as_json(roster("batches", "--json")))


def exported(roster: Roster, slug: str, table: str) -> list[dict[str, str]]:
    result = roster("export", slug, table, "--format", "json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str]] = as_json(result)
    return rows


# --- the source and its secret -------------------------------------------------


def test_the_secret_is_stored_encrypted_and_never_shown(
    pulled: Roster, emulator: Emulator, tmp_path: Path, home: Callable[[], Home]
) -> None:
    shown = pulled("district", "show", "lincoln", "--json")
    assert emulator.client_secret not in shown.output
    assert as_json(shown)["source"]["client_secret"] == "set"
    key = tmp_path / "home" / "secrets.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with home() as opened:
        dumped = json.dumps([d.settings for d in opened.store.districts()])
    assert emulator.client_id in dumped
    assert emulator.client_secret not in dumped


def test_a_source_off_this_machine_must_be_https(roster: Roster) -> None:
    assert roster("district", "add", "lincoln").exit_code == 0
    result = roster("district", "source", "lincoln", "powerschool-api", "--url",
                    "http://ps.example.org", "--client-id", "x")  # fmt: skip
    assert result.exit_code == 2
    assert "is not https" in result.output


def test_pulling_a_district_that_sends_over_sftp_says_how_to_set_a_source(
    roster: Roster,
) -> None:
    assert roster("district", "add", "lincoln").exit_code == 0
    result = roster("pull", "lincoln")
    assert result.exit_code == 2
    assert "roster district source lincoln powerschool-api" in result.output


# --- full pulls --------------------------------------------------------------------


def test_a_pull_and_the_next_night_look_exactly_like_the_same_files_sent_over_sftp(
    pulled: Roster, emulator: Emulator
) -> None:
    assert pulled("district", "add", "sftp-twin").exit_code == 0
    first = pull_json(pulled)
    assert first["status"] == "loaded"
    pulled("process", NIGHTS["good"], "--district", "sftp-twin")
    report = pulled("report", str(first["batch_id"]), "--format", "json")
    assert as_json(report)["warnings"] == []  # a clean pull warns of nothing
    emulator.tables = night("next-night")
    second = pull_json(pulled)
    assert second["status"] in {"loaded", "held"}
    twin = pulled("process", NIGHTS["next-night"], "--district", "sftp-twin", "--json")
    assert as_json(twin)["status"] == second["status"]
    assert _counts(second) == _counts(as_json(twin))
    for table in ("schools", "users", "classes", "enrollments", "class_teachers"):
        assert exported(pulled, "lincoln", table) == exported(pulled, "sftp-twin", table)


def _counts(data: object) -> dict[str, object]:
    """Changes per roster table (a pulled batch has students and teachers files). Not the
    unchanged rows: a teachers file identical to the last one is skipped and its rows
    are not counted in with the students file's."""
    assert isinstance(data, dict)
    found: dict[str, dict[str, int]] = {}
    for name, c in data["counts"].items():
        table = "users" if name in {"students", "teachers"} else name
        into = found.setdefault(table, {})
        for k, v in c.items():
            if k != "unchanged":
                into[k] = into.get(k, 0) + v
    return dict(found)


def test_records_as_objects_and_under_tables_pull_the_same_roster(
    pulled: Roster, emulator: Emulator
) -> None:
    assert pulled("district", "add", "sftp-twin").exit_code == 0
    pulled("process", NIGHTS["good"], "--district", "sftp-twin")
    emulator.single_as_object = emulator.nested_tables = True
    emulator.max_page_size = 1  # every page one record: each sent as an object
    assert pull_json(pulled)["status"] == "loaded"
    for table in ("schools", "users", "classes", "enrollments"):
        assert exported(pulled, "lincoln", table) == exported(pulled, "sftp-twin", table)


def test_ids_sent_as_numbers_are_loaded_as_text(pulled: Roster, emulator: Emulator) -> None:
    emulator.ids_as_numbers = True  # "000417" arrives as 417, as a number field would
    assert pull_json(pulled)["status"] == "loaded"
    users = {u["district_user_id"]: u for u in exported(pulled, "lincoln", "users")}
    assert users["417"]["school_id"] == "100"
    assert users["T1001"]["role"] == "Teacher"
    enrolled = {e["student_id"] for e in exported(pulled, "lincoln", "enrollments")}
    assert "417" in enrolled


def test_pages_are_no_larger_than_the_plugins_maximum(pulled: Roster, emulator: Emulator) -> None:
    pull_json(pulled)
    pages = [p for m, p, s in emulator.log if p.startswith("/ws/schema/query/")
             and not p.endswith("/count") and s == 200]  # fmt: skip
    sizes = {q.file: emulator.tables[q.file].height for q in QUERIES}
    assert len(pages) == sum(-(-n // 3) for n in sizes.values())


def test_at_most_the_districts_connections_are_in_flight(
    pulled: Roster, emulator: Emulator
) -> None:
    emulator.max_page_size = 1
    assert pulled("system", "set", "connections_per_district", "2").exit_code == 0
    pull_json(pulled)
    assert 1 <= emulator.most_in_flight <= 2


# --- tokens --------------------------------------------------------------------------


def test_a_token_expiring_mid_pull_is_renewed_once(pulled: Roster, emulator: Emulator) -> None:
    emulator.expire_after = 6
    assert pull_json(pulled)["status"] == "loaded"
    assert [s for _, p, s in emulator.log if p == "/oauth/access_token"] == [200, 200]
    assert [s for _, _, s in emulator.log].count(401) == 1


def test_the_cached_token_is_reused_by_the_next_pull(pulled: Roster, emulator: Emulator) -> None:
    pull_json(pulled)
    pull_json(pulled)  # identical: a duplicate batch, and no new token
    assert [p for _, p, _ in emulator.log].count("/oauth/access_token") == 1


def test_credentials_refused_fail_clearly_and_form_no_batch(
    pulled: Roster, emulator: Emulator
) -> None:
    emulator.plugin_enabled = False
    result = pulled("pull", "lincoln")
    assert result.exit_code == 5
    assert "district lincoln" in result.output
    assert "refused the client ID and secret" in result.output
    assert "Nothing was applied" in result.output
    assert batch_count(pulled) == 0
    events = as_json(pulled("events", "--district", "lincoln", "--json"))
    assert [e["code"] for e in events] == ["pull_failed"]


def test_a_plugin_disabled_after_the_token_was_issued_is_named(
    pulled: Roster, emulator: Emulator
) -> None:
    pull_json(pulled)
    emulator.plugin_enabled = False  # the token stays cached, but PowerSchool refuses it
    result = pulled("pull", "lincoln")
    assert result.exit_code == 5
    assert "plugin may be disabled" in result.output
    assert batch_count(pulled) == 1


# --- throttling and faults -----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_a_throttled_pull_waits_as_asked_and_completes(
    pulled: Roster, emulator: Emulator, status: int
) -> None:
    emulator.throttle_next, emulator.throttle_status = 2, status
    assert pull_json(pulled)["status"] == "loaded"
    assert [s for _, _, s in emulator.log].count(status) == 2


def test_a_throttle_that_never_lets_up_fails_naming_the_request(
    pulled: Roster, emulator: Emulator
) -> None:
    emulator.throttle_next, emulator.throttle_wait = 100, 0
    result = pulled("pull", "lincoln")
    assert result.exit_code == 5
    assert "HTTP 429" in result.output
    assert "GET /ws/v1/metadata" in result.output
    assert batch_count(pulled) == 0


def test_a_connection_dropped_mid_page_is_retried(pulled: Roster, emulator: Emulator) -> None:
    emulator.drop_next, emulator.drop_path = 1, "enrollments"
    assert pull_json(pulled)["status"] == "loaded"
    assert len(exported(pulled, "lincoln", "enrollments")) == 9


def test_connections_dropped_again_and_again_form_no_batch(
    pulled: Roster, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.drop_next, emulator.drop_path = 100, "enrollments"
    result = pulled("pull", "lincoln")
    assert result.exit_code == 5
    assert "lost its connection after 3 tries" in result.output
    assert "enrollments" in result.output
    assert batch_count(pulled) == 0
    assert list((tmp_path / "home" / "work").iterdir()) == []  # nothing half-written kept


def test_a_server_killed_mid_pull_leaves_the_loaded_roster_as_it_was(
    pulled: Roster, emulator: Emulator
) -> None:
    pull_json(pulled)
    before = exported(pulled, "lincoln", "users")
    emulator.tables = night("next-night")
    emulator.kill_after = emulator.api_requests + 8
    result = pulled("pull", "lincoln")
    assert result.exit_code == 5
    assert "check that the PowerSchool server is up" in result.output
    assert batch_count(pulled) == 1
    assert exported(pulled, "lincoln", "users") == before


def test_server_errors_are_retried_and_secrets_never_shown(
    pulled: Roster, emulator: Emulator
) -> None:
    emulator.fail_next, emulator.echo_secret = 100, True
    result = pulled("pull", "lincoln")
    assert result.exit_code == 5
    assert "HTTP 500" in result.output
    assert emulator.client_secret not in result.output
    assert not any(t in result.output for t in emulator.tokens)
    assert "***" in result.output


def test_a_count_that_changes_during_the_pull_forms_no_batch(
    pulled: Roster, emulator: Emulator
) -> None:
    emulator.count_drift = "students"
    result = pulled("pull", "lincoln")
    assert result.exit_code == 5
    assert "changed in PowerSchool during the pull" in result.output
    assert batch_count(pulled) == 0


# --- field access and the plugin ----------------------------------------------------------


def test_district_test_names_the_fields_the_plugin_was_not_granted(
    pulled: Roster, emulator: Emulator
) -> None:
    emulator.denied_fields = {"TEACHERS.EMAIL_ADDR"}
    result = pulled("district", "test", "lincoln", "--json")
    assert result.exit_code == 5
    checks = {c["check"]: c for c in as_json(result)}
    assert checks["token"]["ok"]
    assert checks["students"]["ok"]
    assert "9 record(s)" in checks["students"]["detail"]
    assert not checks["teachers"]["ok"]
    assert PERMISSION in checks["teachers"]["detail"]
    assert "TEACHERS.EMAIL_ADDR" in checks["teachers"]["detail"]
    assert "approve" in checks["teachers"]["detail"]
    assert "page size 3" in checks["metadata"]["detail"]
    assert "24.7.0.0" in checks["metadata"]["detail"]
    pulled_anyway = pulled("pull", "lincoln")
    assert pulled_anyway.exit_code == 5
    assert batch_count(pulled) == 0


def test_a_plugin_without_the_queries_says_to_install_the_current_one(
    pulled: Roster, emulator: Emulator
) -> None:
    emulator.missing_queries = {q.name for q in QUERIES}
    result = pulled("pull", "lincoln")
    assert result.exit_code == 5
    assert "HTTP 404" in result.output
    assert "roster district plugin" in result.output


def test_the_plugin_zip_requests_view_only_access_to_every_field_the_queries_read(
    pulled: Roster, tmp_path: Path
) -> None:
    target = tmp_path / "plugin.zip"
    result = pulled("district", "plugin", "lincoln", "-o", target,
                    "--contact-email", "rostering@vendor.example")  # fmt: skip
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(io.BytesIO(target.read_bytes())) as z:
        assert sorted(z.namelist()) == ["plugin.xml", "queries_root/roster.named_queries.xml"]
        plugin = ElementTree.fromstring(z.read("plugin.xml"))
        queries = ElementTree.fromstring(z.read("queries_root/roster.named_queries.xml"))
    assert plugin.get("version") == "1.0.0"
    assert plugin.find(f"{NS}oauth") is not None
    contact = plugin.find(f"{NS}publisher/{NS}contact")
    assert contact is not None
    assert contact.get("email") == "rostering@vendor.example"
    fields = plugin.findall(f"{NS}access_request/{NS}field")
    assert {f.get("access") for f in fields} == {"ViewOnly"}
    granted = {f"{f.get('table')}.{f.get('field')}" for f in fields}
    assert granted == {f for q in QUERIES for f in q.fields}
    assert [q.get("name") for q in queries] == [q.name for q in QUERIES]
    again = pulled("district", "plugin", "lincoln", "-o", target, "--contact-email", "a@b.example")
    assert "version 1.0.0" in again.output  # the same fields: the same version


def test_a_changed_field_list_steps_the_plugin_version_up(
    pulled: Roster, tmp_path: Path, home: Callable[[], Home]
) -> None:
    target = tmp_path / "plugin.zip"
    pulled("district", "plugin", "lincoln", "-o", target, "--contact-email", "a@b.example")
    with home() as opened:
        record = opened.store.district("lincoln")
        source = record.settings["source"]
        assert isinstance(source, dict)
        older = {**source, "plugin_fingerprint": "an older field list"}
        opened.store.put_district(replace(record, settings={"source": older}))
    result = pulled("district", "plugin", "lincoln", "-o", target, "--contact-email", "a@b.example")
    assert "version 1.1.0" in result.output


def test_a_contact_email_longer_than_powerschool_allows_is_refused(
    pulled: Roster, tmp_path: Path
) -> None:
    target = tmp_path / "plugin.zip"
    email = "roster-support-team@a-long-vendor-name.example"
    result = pulled("district", "plugin", "lincoln", "-o", target, "--contact-email", email)
    assert result.exit_code == 2
    assert "must have 1 to 40 characters" in result.output
    assert not target.exists()


def test_the_guide_of_an_api_district_walks_through_the_plugin(pulled: Roster) -> None:
    result = pulled("district", "guide", "lincoln")
    assert result.exit_code == 0, result.output
    text = result.output
    steps = ("Plugin Management Configuration", "**Enable**", "data access request",
             "Data Provider Configuration", "Client Secret", "`TEACHERS.EMAIL_ADDR`")  # fmt: skip
    for step in steps:
        assert step in text, step
    assert "Remote Connection Manager" not in text
    assert "WARNING" not in text  # no SFTP address is given to a district we pull from


def test_system_test_checks_each_district_we_pull_from(pulled: Roster, emulator: Emulator) -> None:
    def pull_check() -> dict[str, str]:
        found = as_json(pulled("system", "test", "--json"))
        checks = found["checks"] if isinstance(found, dict) else found
        (check,) = [c for c in checks if c["name"] == "district pull sources"]
        return dict(check)

    assert pull_check()["result"] == "ok"
    emulator.denied_fields = {"STUDENTS.LAST_NAME"}
    failed = pull_check()
    assert failed["result"] == "fail"
    assert failed["detail"].startswith("lincoln: students:")


def test_a_restored_backup_still_reads_the_client_secret(
    pulled: Roster, emulator: Emulator, tmp_path: Path, store_url: str
) -> None:
    assert pulled("backup", tmp_path / "backup").exit_code == 0
    assert stat.S_IMODE((tmp_path / "backup" / "secrets.key").stat().st_mode) == 0o600
    if not store_url.startswith("sqlite"):
        return  # a PostgreSQL home's database comes back with pg_restore, not from here
    restored = ["--home", str(tmp_path / "restored")]
    done = CliRunner().invoke(main, [*restored, "restore", str(tmp_path / "backup")])
    assert done.exit_code == 0, done.output
    again = CliRunner().invoke(main, [*restored, "pull", "lincoln", "--json"])
    assert again.exit_code == 0, again.output
    assert as_json(again)["status"] == "loaded"


def test_over_tls_an_unknown_certificate_is_refused_and_the_districts_ca_trusted(
    roster: Roster, tmp_path: Path
) -> None:
    server = Emulator(night("good"))
    server.start(tls=tmp_path / "tls")
    try:
        assert server.url.startswith("https://")
        assert roster("district", "add", "lincoln").exit_code == 0
        given = pulled_from(roster, "lincoln", server.url, server.client_id, server.client_secret)
        assert given.exit_code == 0, given.output
        refused = roster("pull", "lincoln")
        assert refused.exit_code == 5
        assert "TLS certificate" in refused.output
        assert "--ca-file" in refused.output
        ca = tmp_path / "tls" / "ca.pem"
        trusted = roster("district", "source", "lincoln", "powerschool-api", "--ca-file", ca)
        assert trusted.exit_code == 0, trusted.output
        assert pull_json(roster)["status"] == "loaded"
    finally:
        server.stop()


def test_keeping_to_the_districts_minimum_interval_avoids_every_rejection(
    pulled: Roster, emulator: Emulator
) -> None:
    emulator.min_interval = 0.05  # PowerSchool's "minimum time interval between API requests"
    paced = pulled("district", "source", "lincoln", "powerschool-api", "--min-interval-ms", "100")
    assert paced.exit_code == 0, paced.output
    assert pull_json(pulled)["status"] == "loaded"
    assert 429 not in {s for _, _, s in emulator.log}


def test_a_lost_secrets_key_fails_the_pull_naming_the_file(pulled: Roster, tmp_path: Path) -> None:
    (tmp_path / "home" / "secrets.key").unlink()
    result = pulled("pull", "lincoln")
    assert result.exit_code == 2
    assert "district lincoln" in result.output
    assert "secrets.key is missing" in result.output
    assert "Nothing was applied" in result.output
    events = as_json(pulled("events", "--district", "lincoln", "--json"))
    assert [e["code"] for e in events] == ["pull_failed"]
