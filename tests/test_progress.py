"""Progress on long work: the pipeline reports stages; only a terminal shows them."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from roster_pipeline import districts, operations, pipeline
from roster_pipeline.cli.display import stage_display
from roster_pipeline.config import load_settings
from roster_pipeline.home import Home
from tests.helpers import Roster, as_json


def test_pipeline_reports_each_stage_with_rows(
    store_url: str, samples: Path, tmp_path: Path
) -> None:
    seen: list[tuple[str, int | None]] = []
    with Home(load_settings(home=tmp_path / "home", database_url=store_url)) as home:
        home.create()
        districts.add_district(home, "lincoln")
        pipeline.process(
            home, "lincoln", [samples / "good"], progress=lambda s, r: seen.append((s, r))
        )
    assert [s for s, _ in seen][:1] == ["unpack"]
    parsed = {s: r for s, r in seen if s.startswith("parse ") and r is not None}
    assert parsed == {
        "parse schools.csv": 2, "parse users.csv": 12, "parse classes.csv": 4,
        "parse enrollments.csv": 9,
    }  # fmt: skip
    # apply: the 27 rows plus the 4 classes' primary teacher links
    assert seen[-4:] == [("validate", 27), ("plan", 27), ("report", 0), ("apply", 31)]


def test_display_draws_stage_and_rows_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with stage_display(True, console) as progress:
        progress("parse users.csv", 262_000)
    assert "parse users.csv" in out.getvalue()
    assert "262,000 rows" in out.getvalue()


def test_disabled_display_draws_nothing() -> None:
    out = io.StringIO()
    with stage_display(False, Console(file=out, force_terminal=True)) as progress:
        progress("parse users.csv", 1)
    assert out.getvalue() == ""


def test_not_a_terminal_prints_only_the_result(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    plain = roster("process", samples / "good", "--district", "lincoln")
    assert "unpack" not in plain.stdout
    assert "parse users.csv" not in plain.stdout
    assert "loaded" in plain.stdout
    again = roster("process", samples / "next-night", "--district", "lincoln", "--json")
    assert as_json(again)["status"] == "loaded"  # the whole stdout is one JSON object


def _run_in_terminal(argv: list[str]) -> str:
    """Run a real `roster` process with a pseudo-terminal as stdout; everything it drew."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.STDOUT, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_terminal_shows_the_stages_and_json_does_not(samples: Path, tmp_path: Path) -> None:
    command = str(Path(sys.executable).parent / "roster")  # the installed console script
    roster = [command, "--home", str(tmp_path / "home")]
    subprocess.run([*roster, "init"], check=True, capture_output=True)
    subprocess.run([*roster, "district", "add", "lincoln"], check=True, capture_output=True)
    drawn = _run_in_terminal([*roster, "process", str(samples / "good"), "--district", "lincoln"])
    assert "apply" in drawn  # the live line's last stage, drawn before it was cleared
    assert "27 rows" in drawn
    assert "loaded" in drawn
    quiet = _run_in_terminal(
        [*roster, "process", str(samples / "next-night"), "--district", "lincoln", "--json"]
    )
    assert json.loads(quiet)["status"] == "loaded"  # nothing but the JSON, even on a terminal


def test_approve_reports_its_stages(store_url: str, samples: Path, tmp_path: Path) -> None:
    with Home(load_settings(home=tmp_path / "home", database_url=store_url)) as home:
        home.create()
        districts.add_district(home, "lincoln")
        pipeline.process(home, "lincoln", [samples / "good"])
        emptied = tmp_path / "emptied"
        emptied.mkdir()
        (emptied / "enrollments.csv").write_text("class_id,student_id\nS100-3A,000417\n")
        held = pipeline.process(home, "lincoln", [emptied]).batch
        assert held.status == "held"
        seen: list[tuple[str, int | None]] = []
        approved = operations.approve(home, held.batch_id, lambda s, r: seen.append((s, r)))
    assert approved.status == "loaded"
    assert seen[0] == ("unpack", None)
    assert seen[-1] == ("apply", 8)  # 8 of the 9 enrollments deleted
