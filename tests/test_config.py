"""Settings: one typed model under the flat names roster.toml and ROSTER_* have always used."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from roster_pipeline.config import Settings, load_settings
from roster_pipeline.errors import ConfigError

#: Every key roster.toml and ROSTER_<NAME> accepted before the model was nested.
KEYS = {
    "home", "database_url", "listen_host", "listen_port", "public_host", "legacy_algorithms",
    "max_file_size", "district_quota", "min_free_disk", "max_open_handles", "max_connections",
    "max_connections_per_address", "login_timeout", "idle_timeout", "max_auth_tries",
    "auth_failure_delay", "ban_threshold", "ban_window", "ban_duration", "shutdown_grace",
    "max_unpacked_bytes", "max_compression_ratio", "max_zip_members", "max_delete_pct",
    "max_update_pct", "settle_seconds", "settle_quick_seconds", "expect_every_hours",
    "retention_days", "claim_seconds", "webhook_url",
}  # fmt: skip


def test_every_key_keeps_its_flat_name() -> None:
    assert set(Settings().flat()) >= KEYS


def test_toml_then_environment_then_options(tmp_path: Path) -> None:
    (tmp_path / "roster.toml").write_text(
        "max_delete_pct = 5\nmax_zip_members = 7\nlisten_port = 2022\n"
    )
    env = {"ROSTER_MAX_DELETE_PCT": "6", "ROSTER_LEGACY_ALGORITHMS": "yes"}
    settings = load_settings(env=env, home=tmp_path, listen_port=2200)
    assert settings.holds.max_delete_pct == 6.0  # the environment beats roster.toml
    assert settings.zip.max_members == 7
    assert settings.receiver.listen_port == 2200  # an option beats both
    assert settings.receiver.legacy_algorithms is True


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ROSTER_MAX_DELETE_PCT": "150"}, "max_delete_pct must be between 0 and 100, not 150"),
        ({"ROSTER_SETTLE_SECONDS": "nan"}, "settle_seconds must be between 0 and 604800, not nan"),
        ({"ROSTER_MAX_FILE_SIZE": "-1"}, "max_file_size must be at least 0, not -1"),
        ({"ROSTER_CLAIM_SECONDS": "0"}, "claim_seconds must be more than 0, not 0"),
        ({"ROSTER_LISTEN_PORT": "ssh"}, "listen_port = 'ssh' is not a valid int"),
        ({"ROSTER_LEGACY_ALGORITHMS": "maybe"}, "legacy_algorithms = 'maybe' is not a valid bool"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_naming_its_source(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env, home=tmp_path)
    (source,) = env
    assert str(caught.value) == f"{source}: {says}"


def test_an_unknown_key_in_roster_toml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "roster.toml").write_text("max_delete_percent = 5\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(env={}, home=tmp_path)


def test_a_district_overrides_the_deployment_for_itself_only(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path)
    own = settings.for_district({"max_delete_pct": 2, "retention_days": 7, "encoding": "cp1252"})
    assert (own.holds.max_delete_pct, own.service.retention_days) == (2.0, 7.0)
    assert own.holds.max_update_pct == settings.holds.max_update_pct
    assert settings.holds.max_delete_pct == 10.0  # the deployment's stays
    assert settings.for_district({"aliases": {}}) is settings  # dialect keys are not settings


def test_a_stored_district_value_out_of_range_is_refused(tmp_path: Path) -> None:
    settings = load_settings(env={}, home=tmp_path)
    with pytest.raises(ConfigError, match="max_update_pct must be between 0 and 100, not inf"):
        settings.for_district({"max_update_pct": math.inf})


def test_simultaneous_connections_is_one_knob_the_receiver_obeys() -> None:
    settings = Settings().replaced({"connections_per_district": 3})
    assert settings.receiver_limits.max_sessions_per_account == 3
    # The receiver's own field is not a second setting that could disagree.
    assert "max_sessions_per_account" not in Settings().flat()
    with pytest.raises(KeyError):
        Settings().replaced({"max_sessions_per_account": 9})
