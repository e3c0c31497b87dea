"""What an operator meets on the first day: a mistyped home, output folders that do not
exist, batch ids in pipes, confirmations, addresses districts cannot reach, exit codes."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from roster_pipeline.cli import district_settings, main
from roster_pipeline.cli import receiver as cli_receiver
from roster_pipeline.cli.batches import REPORT_FORMATS
from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.contracts import dialects
from roster_pipeline.render import report
from roster_pipeline.store import open_store
from sftp_server import KEY_TYPES
from sftp_server.passwords import verify as verify_password
from tests.helpers import Roster, as_json, process_json

README = Path(__file__).resolve().parent.parent / "README.md"


def test_only_init_creates_a_home(bare_roster: Roster, tmp_path: Path) -> None:
    for args in (("status",), ("batches",), ("district", "list"), ("district", "add", "x")):
        result = bare_roster(*args)
        assert result.exit_code == ExitCode.NOT_FOUND, args
        assert "no roster home at" in result.output
        assert "run `roster init`" in result.output
    assert not (tmp_path / "home").exists()
    assert bare_roster("init").exit_code == 0
    assert bare_roster("status").exit_code == 0


def test_a_database_without_the_roster_schema_is_no_home(
    bare_roster: Roster, tmp_path: Path
) -> None:
    (tmp_path / "home").mkdir()
    result = bare_roster("batches")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "run `roster init`" in result.output


def test_guide_into_a_missing_folder_keeps_the_password(
    roster: Roster, tmp_path: Path, store_url: str
) -> None:
    old = as_json(roster("district", "add", "lincoln", "--json"))["password"]
    target = tmp_path / "no-such-folder" / "guide.md"
    result = roster("district", "guide", "lincoln", "--include-password", "--yes", "-o", target)
    assert result.exit_code == ExitCode.USAGE
    assert "does not exist" in result.output
    assert "Traceback" not in result.output
    store = open_store(store_url)
    try:
        assert verify_password(store.district("lincoln").password_hash, old)
    finally:
        store.close()


def test_guide_with_password_is_written_before_the_password_changes(
    roster: Roster, tmp_path: Path, store_url: str
) -> None:
    roster("district", "add", "lincoln")
    target = tmp_path / "guide.md"
    result = roster("district", "guide", "lincoln", "--include-password", "--yes", "-o", target)
    assert result.exit_code == 0, result.output
    found = re.search(r"\| Password \| `([^`]+)`", target.read_text(encoding="utf-8"))
    assert found is not None
    store = open_store(store_url)
    try:
        assert verify_password(store.district("lincoln").password_hash, found.group(1))
    finally:
        store.close()


def test_report_into_a_missing_folder_is_a_clean_error(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    batch = process_json(roster, samples / "good.zip")["batch_id"]
    result = roster("report", str(batch), "-o", tmp_path / "missing" / "r.txt")
    assert result.exit_code == ExitCode.USAGE
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_batch_ids_are_whole_in_a_pipe_and_a_unique_prefix_finds_one(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "a-district-with-a-rather-long-name-indeed")
    roster("district", "add", "lincoln")
    first = roster("process", samples / "good.zip", "--district", "lincoln", "--json")
    long_one = roster(
        "process", samples / "good.zip", "--district", "a-district-with-a-rather-long-name-indeed"
    )
    assert long_one.exit_code == 0
    ids = [b["batch_id"] for b in as_json(roster("batches", "--json"))]
    listing = roster("batches").stdout  # CliRunner's stdout is a pipe: 80 columns by default
    for batch_id in ids:
        assert batch_id in listing
    wanted = as_json(first)["batch_id"]
    prefix = next(
        wanted[:n] for n in range(1, len(wanted)) if sum(i.startswith(wanted[:n]) for i in ids) == 1
    )
    shown = roster("report", prefix, "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert as_json(shown)["batch_id"] == wanted
    common = wanted[:8]  # both ids begin with the same timestamp
    ambiguous = roster("report", common)
    assert ambiguous.exit_code == ExitCode.USAGE
    assert "ambiguous" in ambiguous.output
    assert roster("report", "zzz").exit_code == ExitCode.NOT_FOUND


def test_destructive_commands_ask_first(roster: Roster) -> None:
    roster("district", "add", "lincoln")
    for args in (
        ("district", "remove", "lincoln", "--purge"),
        ("district", "rotate-password", "lincoln"),
        ("district", "guide", "lincoln", "--include-password"),
    ):
        refused = roster(*args, input="n\n")
        assert refused.exit_code == ExitCode.USAGE, args
        assert "--yes" in refused.output
    assert roster("district", "remove", "lincoln", "--purge", "--yes").exit_code == 0


def test_a_guide_naming_a_loopback_address_warns_loudly(roster: Roster) -> None:
    added = roster("district", "add", "lincoln")
    assert "WARNING: districts are told to connect to 127.0.0.1" in added.stderr
    guide = roster("--quiet", "district", "guide", "lincoln")
    assert "WARNING" in guide.stderr
    assert "--public-host" in guide.stderr


def test_help_is_h_and_names_the_environment(bare_roster: Roster) -> None:
    shown = bare_roster("-h")
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())  # as read, whatever the wrapping
    assert "env var: ROSTER_HOME" in text
    assert "env var: ROSTER_DATABASE_URL" in text
    assert "_ROSTER_COMPLETE" in text  # how to turn on shell completion


def test_statuses_are_coloured_unless_no_color(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    process_json(roster, samples / "good.zip")
    coloured = roster("batches", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[32m" in coloured.stdout  # loaded, in green
    plain = roster("batches", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[3" not in plain.stdout


def test_quiet_keeps_results_and_drops_notes(roster: Roster, samples: Path, tmp_path: Path) -> None:
    roster("district", "add", "lincoln")
    batch = process_json(roster, samples / "good.zip")["batch_id"]
    noisy = roster("report", str(batch), "-o", tmp_path / "a.txt")
    assert "wrote" in noisy.stderr
    quiet = roster("-q", "report", str(batch), "-o", tmp_path / "b.txt")
    assert quiet.exit_code == 0
    assert quiet.output == ""
    assert (tmp_path / "b.txt").read_text() == (tmp_path / "a.txt").read_text()


def test_export_json_is_one_array_of_every_row(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    process_json(roster, samples / "good.zip")
    rows = as_json(roster("export", "lincoln", "users", "--format", "json"))
    assert len(rows) == 12
    assert {r["district_user_id"] for r in rows} >= {"000418", "000421"}
    assert as_json(roster("export", "lincoln", "schools", "--format", "json"))[0]["school_id"]


def test_the_readme_has_the_exit_code_table() -> None:
    text = README.read_text(encoding="utf-8")
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} +\| `{code.name}` +\|", text, re.M), code.name


def test_constants_spelled_in_the_cli_match_their_owners() -> None:
    assert REPORT_FORMATS == report.FORMATS
    assert district_settings.ENCODINGS == dialects.ENCODINGS
    assert tuple(KEY_TYPES) == cli_receiver.KEY_TYPES


HEAVY = (
    "polars",
    "pandera",
    "pyarrow",
    "numpy",
    "adbc_driver_manager",
    "asyncssh",
    "rich",
    "pydantic",
)


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["district", "--help"], ["batch", "approve", "-h"]]
)
def test_help_and_version_import_nothing_heavy(argv: list[str]) -> None:
    """`roster --help` was 0.7 to 1.4 s, nearly all of it importing the pipeline's libraries."""
    code = (
        "import sys\n"
        "from roster_pipeline.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print('heavy:', *sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "heavy:", done.stdout


def test_processing_a_batch_does_not_import_the_pull_client() -> None:
    """httpx (50 ms) is for pulls; a worker processing uploads never needs it, though its
    reports name pulled rejects by query (the query names live beside the client)."""
    code = (
        "import sys\n"
        "import roster_pipeline.pipeline, roster_pipeline.render.report, roster_pipeline.web\n"
        "print('loaded:', *sorted({m.split('.')[0] for m in sys.modules} & {'httpx'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "loaded:", done.stdout


def test_a_database_server_that_never_answers_is_given_up_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket that accepts connections and never says a word, like a hung server."""
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    url = f"postgresql://roster:s3cret@127.0.0.1:{port}/roster"
    monkeypatch.setenv("ROSTER_DATABASE_CONNECT_TIMEOUT", "2")
    argv = ["--home", str(tmp_path), "--db", url, "init"]
    started = time.monotonic()
    try:
        result = CliRunner().invoke(main, argv, catch_exceptions=False)
    finally:
        silent.close()
    assert time.monotonic() - started < 8  # 2 s asked; libpq may try twice (SSL, then not)
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert f"roster:***@127.0.0.1:{port}/roster" in result.output
    assert "s3cret" not in result.output
    assert "Check the host and port" in result.output
    assert "database_connect_timeout" in result.output


def test_check_on_a_clean_file_does_not_say_loaded(roster: Roster, samples: Path) -> None:
    result = roster("check", samples / "good.zip")
    assert result.exit_code == 0
    assert result.stdout.startswith("valid: every row would load (nothing was loaded)")
    assert as_json(roster("batches", "--json")) == []


def test_the_district_report_says_things_once_and_only_to_the_district(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln")
    # The bad sample rejects more than the default share; this test is about a load.
    roster("district", "set", "lincoln", "--max-reject-pct", "100")
    first = process_json(roster, samples / "bad")  # a first load with rejects
    page = roster("report", str(first["batch_id"]), "--format", "html").stdout
    message = as_json(roster("report", str(first["batch_id"]), "--format", "json"))["message"]
    assert page.count("were not applied") == 1  # the lead sentence, not repeated
    assert message not in page  # which restated it in ops' words
    assert "yesterday" not in page  # there was no yesterday on a first load
    assert "roster " not in page.replace("Roster batch", "")  # no ops commands
    assert "td.f{" in page
    assert "<td class='f'>users.csv</td>" in page  # file names never break mid-word
    roster("district", "add", "other")
    roster("process", samples / "next-night", "--district", "other")
    held = as_json(roster("process", samples / "good.zip", "--district", "other", "--json"))
    assert held["status"] == "held"
    held_page = roster("report", str(held["batch_id"]), "--format", "html").stdout
    assert "Held for approval" in held_page
    assert "roster batch approve" not in held_page


def test_district_show_has_name_pause_and_thresholds(roster: Roster) -> None:
    roster("district", "add", "lincoln", "--name", "Lincoln Unified")
    roster("district", "set", "lincoln", "--max-delete-pct", "5", "--pause")
    shown = as_json(roster("district", "show", "lincoln", "--json"))
    assert shown["name"] == "Lincoln Unified"
    assert shown["paused"] is True
    assert shown["settings"]["max_delete_pct"] == {"value": 5.0, "source": "district"}
    assert shown["settings"]["max_update_pct"] == {"value": 75.0, "source": "deployment"}
    text = roster("district", "show", "lincoln").stdout
    assert "Lincoln Unified" in text
    assert "PAUSED" in text


def _read_only_mount_works() -> bool:
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind -o ro / /mnt"],
        check=False, capture_output=True,
    )  # fmt: skip
    return probe.returncode == 0


@pytest.mark.skipif(
    shutil.which("unshare") is None or not _read_only_mount_works(),
    reason="needs unshare and mount (a private read-only bind mount of the home)",
)
def test_read_only_commands_work_on_a_home_without_write_access(
    samples: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    roster = [str(Path(sys.executable).parent / "roster"), "--home", str(home)]
    for args in (["init"], ["district", "add", "lincoln"],
                 ["process", str(samples / "good.zip"), "--district", "lincoln"]):  # fmt: skip
        subprocess.run([*roster, *args], check=True, capture_output=True)
    reads = [["status"], ["batches"], ["district", "show", "lincoln"], ["district", "list"],
             ["export", "lincoln", "users"], ["events"], ["system", "show"],
             ["hostkey", "fingerprints"]]  # fmt: skip
    script = f"mount --bind -o ro {home} {home} && " + " && ".join(
        " ".join([*roster, *args]) + " >/dev/null" for args in reads
    )
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], check=False,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    write = f"mount --bind -o ro {home} {home} && {' '.join(roster)} district add other"
    refused = subprocess.run(["unshare", "-m", "sh", "-c", write], check=False,
                             capture_output=True, text=True)  # fmt: skip
    assert refused.returncode == ExitCode.UNAVAILABLE, refused.stderr
    assert "Traceback" not in refused.stderr
