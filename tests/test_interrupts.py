"""Ctrl-C: a real SIGINT to a real `roster` process ends it with exit 130 within a second,
during parse and during apply, and nothing is changed."""

from __future__ import annotations

import os
import pty
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.cli.interrupts import MESSAGE
from roster_pipeline.config import load_settings
from roster_pipeline.home import Home

ROSTER = str(Path(sys.executable).parent / "roster")  # the installed console script
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A district large enough that parse and apply each take a while."""
    folder = tmp_path_factory.mktemp("big")
    generate = runpy.run_path(str(SAMPLES / "generate.py"))
    generate["write"](generate["district"](100_000, 5_000, 600_000, 7), folder, False)
    return folder


def _interrupt_at(stage: str, home: Path, source: Path) -> tuple[int, float, str]:
    """Run `roster process` on a terminal; SIGINT once ``stage`` is drawn. Returns the exit
    code, the seconds from SIGINT to exit, and everything the process printed."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    argv = [ROSTER, "--home", str(home), "process", str(source), "--district", "lincoln"]
    proc = subprocess.Popen(argv, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    seen, sent = b"", 0.0
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not sent and stage.encode() in seen:
            proc.send_signal(signal.SIGINT)
            sent = time.monotonic()
    code = proc.wait(timeout=60)
    os.close(leader)
    assert sent, f"the stage {stage!r} was never drawn:\n{seen.decode(errors='replace')}"
    return code, time.monotonic() - sent, seen.decode("utf-8", "replace")


@pytest.mark.parametrize("stage", ["parse enrollments.csv", "apply"])
def test_ctrl_c_exits_130_within_a_second_and_changes_nothing(
    big: Path, tmp_path: Path, stage: str
) -> None:
    home = tmp_path / "home"
    subprocess.run([ROSTER, "--home", str(home), "init"], check=True, capture_output=True)
    subprocess.run(
        [ROSTER, "--home", str(home), "district", "add", "lincoln"], check=True, capture_output=True
    )
    code, seconds, printed = _interrupt_at(stage, home, big)
    assert code == ExitCode.INTERRUPTED, printed
    assert seconds < 1.0
    assert MESSAGE in printed
    assert "Aborted!" not in printed
    assert "Traceback" not in printed
    with Home(load_settings(env={}, home=home)) as opened:
        assert opened.store.batches("lincoln") == []
        assert set(opened.store.table_counts("lincoln").values()) == {0}
