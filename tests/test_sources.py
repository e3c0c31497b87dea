"""The pull sources' parts on their own: PowerSchool's shapes, the token, the vault, the
schedule. The client runs against the emulator over real HTTP."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from roster_pipeline.errors import ConfigError, SourceError
from roster_pipeline.service.pulls import due, last_slot
from roster_pipeline.sources import (
    PluginSpec,
    PowerSchoolClient,
    Retries,
    SourceConfig,
    Vault,
    mask,
    next_version,
)
from roster_pipeline.sources.client import check_url, parse_expires_in
from roster_pipeline.sources.plugin import fingerprint
from roster_pipeline.sources.powerschool import as_list, count_of, grade, text, unwrap
from tests.powerschool_emulator import Emulator

FAST = Retries(backoff=0.01, max_wait=0.05)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    schools = pl.DataFrame({"school_id": ["100"], "school_name": ["Lincoln Elementary"]})
    server = Emulator({"schools": schools})
    server.start()
    yield server
    server.stop()


def client(e: Emulator, secret: str | None = None) -> PowerSchoolClient:
    return PowerSchoolClient(e.url, e.client_id, secret or e.client_secret, retries=FAST)


def test_collections_come_as_lists_objects_or_empty_strings() -> None:
    assert as_list([{"a": 1}]) == [{"a": 1}]
    assert as_list({"a": 1}) == [{"a": 1}]
    assert as_list("") == []
    assert as_list(None) == []
    assert unwrap({"schools": {"@expansions": "x", "school": {"id": 1}}}, "schools", "school") == [
        {"id": 1}
    ]
    assert unwrap({"schools": ""}, "schools", "school") == []


def test_counts_and_ids_in_every_shape() -> None:
    assert count_of({"count": 3}) == 3
    assert count_of({"resource": {"count": "423"}}) == 423
    with pytest.raises(SourceError, match="no count"):
        count_of({"resource": {}})
    assert text(3001) == "3001"
    assert text(" TestID ") == "TestID"
    assert text("") == text({}) == text(None) == ""
    assert text(3001.0) == "3001.0"  # left as sent: a spreadsheet_number reject, not a guess
    assert [grade(g) for g in ("-2", "-1", "0", "7", "KG")] == ["PK", "PK", "K", "7", "KG"]


def test_the_double_wrapped_school_list_with_one_school_and_its_resource_count(
    emulator: Emulator,
) -> None:
    c = client(emulator)
    schools = unwrap(c.get("/ws/v1/district/school"), "schools", "school")
    assert len(schools) == 1
    assert as_list(schools[0]["addresses"]) == []
    assert as_list(schools[0]["principal"]) == [{"name": {"first_name": "P"}}]
    assert count_of(c.get("/ws/v1/district/school/count")) == 1


def test_expires_in_arrives_as_text() -> None:
    assert parse_expires_in("1814654") == 1814654.0
    assert parse_expires_in(3600) == 3600.0
    with pytest.raises(SourceError, match="not a number"):
        parse_expires_in("soon")


def test_a_token_refused_twice_fails_naming_the_cause(emulator: Emulator) -> None:
    emulator.reject_tokens = True
    with pytest.raises(SourceError, match="refused twice with a fresh token") as caught:
        client(emulator).get("/ws/v1/metadata")
    assert caught.value.code == "auth_failed"
    assert [p for _, p, _ in emulator.log].count("/oauth/access_token") == 2


def test_wrong_credentials_are_refused_with_the_secret_masked(emulator: Emulator) -> None:
    with pytest.raises(SourceError) as caught:
        client(emulator, "wrong-secret-9876").get("/ws/v1/metadata")
    assert caught.value.code == "auth_failed"
    assert "wrong-secret-9876" not in str(caught.value)


def test_https_is_required_off_this_machine() -> None:
    assert check_url("https://ps.example.org/") == "https://ps.example.org"
    assert check_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert check_url("http://localhost:8000") == "http://localhost:8000"
    with pytest.raises(ConfigError, match="not https"):
        check_url("http://ps.example.org")
    with pytest.raises(ConfigError, match="not an http"):
        check_url("ftp://ps.example.org")


def test_the_vault_keeps_its_key_private_and_refuses_a_missing_key(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    sealed = vault.encrypt("client-secret-1234")
    assert "client-secret-1234" not in sealed
    assert vault.decrypt(sealed) == "client-secret-1234"
    assert stat.S_IMODE((tmp_path / "secrets.key").stat().st_mode) == 0o600
    (tmp_path / "secrets.key").unlink()
    with pytest.raises(ConfigError, match=r"secrets\.key is missing"):
        vault.decrypt(sealed)
    Vault(tmp_path).encrypt("x")  # a new key: the old secret cannot be read with it
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        vault.decrypt(sealed)


def test_mask_hides_every_secret() -> None:
    assert mask("Bearer abcd1234 for s3cret-value", ["abcd1234", "s3cret-value", ""]) == (
        "Bearer *** for ***"
    )


def test_the_plugin_version_steps_up_only_when_the_fields_change() -> None:
    assert next_version(None, None) == "1.0.0"
    assert next_version("1.0.0", fingerprint()) == "1.0.0"
    assert next_version("1.0.0", "older") == "1.1.0"
    assert next_version("2.3", "older") == "2.4.0"
    with pytest.raises(ConfigError, match="digits and dots"):
        PluginSpec("Roster", "Vendor", "a@b.example", "1.0-beta").check()
    with pytest.raises(ConfigError, match="1 to 40 characters"):
        PluginSpec("x" * 41, "Vendor", "a@b.example", "1.0").check()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_nightly_pull_is_due_once_its_local_time_has_passed() -> None:
    nightly = SourceConfig(kind="powerschool-api", pull_at="02:30", timezone="America/Chicago")
    now = _at("2026-12-01T09:00:00+00:00")  # 03:00 in Chicago
    assert last_slot(nightly, now) == _at("2026-12-01T02:30:00-06:00")
    assert due(nightly, None, now)
    assert due(nightly, _at("2026-11-30T02:31:00-06:00"), now)  # last night's: due again
    assert not due(nightly, _at("2026-12-01T02:31:00-06:00"), now)  # tonight's done
    early = _at("2026-12-01T07:00:00+00:00")  # 01:00 in Chicago: yesterday's slot counts
    assert not due(nightly, _at("2026-11-30T02:31:00-06:00"), early)


def test_an_interval_pull_is_due_every_n_hours_and_an_unscheduled_one_never() -> None:
    hourly = SourceConfig(kind="powerschool-api", pull_every_hours=6)
    now = _at("2026-12-01T12:00:00+00:00")
    assert due(hourly, _at("2026-12-01T05:59:00+00:00"), now)
    assert not due(hourly, _at("2026-12-01T06:01:00+00:00"), now)
    assert not due(SourceConfig(kind="powerschool-api"), None, now)
    assert not due(SourceConfig(), None, now)
