"""Every command on a broken home ends in one line and the exit code of its kind of
failure (cli/exits.py), never a traceback.

Three ways a home breaks: a host key file that is not a key, a database file
that is not a database, a district whose spec is gone. Each command is run in a
CLI call of its own against the breakage it meets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from roster_pipeline.cli import main
from roster_pipeline.cli.exits import ExitCode, code_for
from roster_pipeline.config import load_settings
from roster_pipeline.errors import HostKeyFileError, SpecError
from roster_pipeline.home import Home
from tests.helpers import SAMPLES

BATCH = "20261122T030012Z-lincoln-3fa2c1"

Run = Callable[..., Result]


def _runner(home: Path) -> Run:
    def run(*args: str | Path) -> Result:
        argv = ["--home", str(home), *(str(a) for a in args)]
        return CliRunner().invoke(main, argv, input="", catch_exceptions=False)

    return run


@pytest.fixture
def provisioned(tmp_path: Path) -> tuple[Path, Run]:
    """A home with the district lincoln, its host keys and one loaded batch."""
    home = tmp_path / "home"
    run = _runner(home)
    assert run("init").exit_code == 0
    assert run("district", "add", "lincoln").exit_code == 0
    assert run("process", SAMPLES / "good.zip", "--district", "lincoln").exit_code == 0
    return home, run


def _one_line_and_exit(result: Result, code: ExitCode) -> None:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == code, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output


HOST_KEY_COMMANDS = [
    ("init",),
    ("district", "add", "other"),
    ("district", "show", "lincoln"),
    ("district", "list"),
    ("district", "enable", "lincoln"),
    ("district", "disable", "lincoln"),
    ("district", "rotate-password", "lincoln", "--yes"),
    ("district", "guide", "lincoln"),
    ("hostkey", "fingerprints"),
    ("hostkey", "fingerprints", "--json"),
    ("hostkey", "add", "ed25519"),
]


@pytest.mark.parametrize("args", HOST_KEY_COMMANDS, ids=" ".join)
def test_a_corrupt_host_key_is_one_line(provisioned: tuple[Path, Run], args: tuple[str]) -> None:
    home, run = provisioned
    (home / "hostkeys" / "ssh_host_ed25519_key").write_text("not a key\n")
    result = run(*args)
    _one_line_and_exit(result, code_for(HostKeyFileError("")))
    assert "ssh_host_ed25519_key" in result.output


DATABASE_COMMANDS = [
    ("init",),
    ("district", "add", "other"),
    ("district", "show", "lincoln"),
    ("district", "list"),
    ("district", "set", "lincoln", "--max-delete-pct", "5"),
    ("district", "remove", "lincoln"),
    ("district", "guide", "lincoln"),
    ("process", SAMPLES / "good.zip", "--district", "lincoln"),
    ("check", SAMPLES / "good.zip", "--district", "lincoln"),
    ("batches",),
    ("report", BATCH),
    ("export", "lincoln", "users"),
    ("batch", "approve", BATCH),
    ("batch", "discard", BATCH),
    ("batch", "reprocess", BATCH),
    ("status",),
    ("purge",),
]


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=lambda a: " ".join(map(str, a[:3])))
def test_an_unreadable_database_is_one_line(
    provisioned: tuple[Path, Run], args: tuple[str, ...]
) -> None:
    home, run = provisioned
    for name in ("roster.db", "roster.db-wal", "roster.db-shm"):
        (home / name).unlink(missing_ok=True)
    (home / "roster.db").write_bytes(b"this is not a database file\n" * 200)
    result = run(*args)
    _one_line_and_exit(result, ExitCode.UNAVAILABLE)
    assert "roster.db" in result.output


SPEC_COMMANDS = [
    ("process", SAMPLES / "good.zip", "--district", "lincoln"),
    ("check", SAMPLES / "good.zip", "--district", "lincoln"),
    ("check", SAMPLES / "good.zip", "--spec", "gone"),
    ("district", "add", "other", "--spec", "gone"),
    ("district", "guide", "lincoln"),
    ("district", "set", "lincoln", "--encoding", "cp1252"),
    ("spec", "show", "gone"),
]


@pytest.mark.parametrize("args", SPEC_COMMANDS, ids=lambda a: " ".join(map(str, a[:3])))
def test_a_missing_spec_is_one_line(provisioned: tuple[Path, Run], args: tuple[str, ...]) -> None:
    home, run = provisioned
    with Home(load_settings(env={}, home=home)) as opened:
        record = opened.store.district("lincoln")
        opened.store.put_district(dataclasses.replace(record, spec="gone"))
    result = run(*args)
    _one_line_and_exit(result, code_for(SpecError("")))
    assert "gone" in result.output
