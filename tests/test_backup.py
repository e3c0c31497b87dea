"""`roster backup` / `roster restore`: a restore into an empty home gives the same host key
fingerprints, the same system settings and the same `roster export`."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner, Result

from roster_pipeline.cli import main
from roster_pipeline.cli.exits import ExitCode
from tests.helpers import Roster, as_json, process_json


def _run(home: Path, *args: str | Path) -> Result:
    argv = ["--home", str(home), *(str(a) for a in args)]
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def test_restore_into_an_empty_home_is_the_same_deployment(samples: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _run(home, "init", "--public-host", "sftp.example.org").exit_code == 0
    _run(home, "district", "add", "lincoln")
    process_json(lambda *a, **k: _run(home, *a), samples / "next-night")
    _run(home, "system", "set", "job_frequency", "high")
    (home / "roster.toml").write_text("max_file_size = 1000000\n", encoding="utf-8")
    copy = tmp_path / "backup"
    taken = _run(home, "backup", copy)
    assert taken.exit_code == 0, taken.output
    again = _run(home, "backup", copy)
    assert again.exit_code == ExitCode.USAGE  # never over an earlier backup

    restored = tmp_path / "restored"
    result = _run(restored, "restore", copy)
    assert result.exit_code == 0, result.output
    for args in (
        ("hostkey", "fingerprints", "--json"),
        ("export", "lincoln", "users"),
        ("export", "lincoln", "enrollments", "--format", "json"),
        ("district", "show", "lincoln", "--json"),
    ):
        assert _run(restored, *args).stdout == _run(home, *args).stdout, args
    shown = as_json(_run(restored, "system", "show", "--json"))
    assert shown["job_frequency"]["value"] == "high"
    assert shown["public_host"]["value"] == "sftp.example.org"
    assert (restored / "roster.toml").read_text() == "max_file_size = 1000000\n"
    for key in (restored / "hostkeys").glob("*_key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    refused = _run(restored, "restore", copy)
    assert refused.exit_code == ExitCode.USAGE
    assert "restore into an empty home" in refused.output


def test_a_folder_that_is_no_backup_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    result = _run(tmp_path / "home", "restore", tmp_path / "nothing")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "not a roster backup" in result.output
    assert not (tmp_path / "home").exists()


def test_a_postgresql_home_backs_up_keys_and_settings_and_names_pg_dump(
    roster: Roster, store_url: str, tmp_path: Path
) -> None:
    result = roster("backup", tmp_path / "copy")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "copy" / "hostkeys").is_dir()
    if store_url.startswith("postgresql"):
        assert "pg_dump" in result.stderr
        assert not (tmp_path / "copy" / "roster.db").exists()
        refused = _run(tmp_path / "other", "restore", tmp_path / "copy")
        assert refused.exit_code == ExitCode.USAGE
        assert "pg_restore" in refused.output
    else:
        assert (tmp_path / "copy" / "roster.db").is_file()
