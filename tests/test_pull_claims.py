"""One pull of a district at a time, across processes: `roster pull` in real
processes against a slow PowerSchool emulator, on both engines.

A second pull while the first runs is refused at once, naming the district and
the pull, and changes nothing; the first keeps its claim however long it takes
(renewed), and a killed or frozen first pull does not block the next one for
longer than ``claim_seconds`` (kept short here by the setting, not by waiting).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from roster_pipeline import districts, pulls
from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.store import BatchStatus
from tests.helpers import SAMPLES
from tests.powerschool_emulator import Emulator, split_users
from tests.service_helpers import (
    ROSTER,
    ServiceProcess,
    WebhookRecorder,
    open_home,
    wait_for,
)

pytestmark = pytest.mark.timeout(240)

CLAIM_SECONDS = 2.0
REFUSED = "district lincoln is busy"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    tables = {t: pl.read_csv(SAMPLES / "good" / f"{t}.csv", infer_schema=False)
              for t in ("schools", "users", "classes", "enrollments")}  # fmt: skip
    server = Emulator(split_users(tables), max_page_size=2, page_delay=0.4)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def env(store_url: str) -> dict[str, str]:
    # One connection: a page at a time, so a pull takes seconds (longer than a claim).
    return {**os.environ, "ROSTER_DATABASE_URL": store_url,
            "ROSTER_CLAIM_SECONDS": str(CLAIM_SECONDS),
            "ROSTER_CONNECTIONS_PER_DISTRICT": "1"}  # fmt: skip


@pytest.fixture
def root(tmp_path: Path, emulator: Emulator, env: dict[str, str]) -> Path:
    root = tmp_path / "home"
    with open_home(root, **env) as home:
        districts.add_district(home, "lincoln")
        pulls.configure(home, "lincoln", "powerschool-api", url=emulator.url,
                        client_id=emulator.client_id, secret=emulator.client_secret)  # fmt: skip
    return root


def _start(root: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ROSTER, "--home", str(root), "pull", "lincoln"], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _pull(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROSTER, "--home", str(root), "pull", "lincoln"], check=False, env=env,
                          text=True, capture_output=True, timeout=120)  # fmt: skip


def _fetching(emulator: Emulator) -> None:
    """Wait until a pull is paging through a query (it holds the district by then)."""
    wait_for(lambda: any(p.startswith("/ws/schema/query/") for _, p, _ in emulator.log) or None,
             "a pull to page through a query")  # fmt: skip


def _batches(root: Path, env: dict[str, str]) -> list[BatchStatus]:
    with open_home(root, **env) as home:
        return [b.status for b in home.store.batches("lincoln", 100)]


@pytest.fixture
def first(root: Path, env: dict[str, str], emulator: Emulator) -> Iterator[subprocess.Popen[str]]:
    """A slow pull of lincoln, in a process of its own, paging by now."""
    process = _start(root, env)
    _fetching(emulator)
    yield process
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)


def test_a_second_pull_is_refused_at_once_while_the_first_runs_and_changes_nothing(
    root: Path, env: dict[str, str], emulator: Emulator, first: subprocess.Popen[str]
) -> None:
    time.sleep(CLAIM_SECONDS * 1.5)  # past the first claim's expiry: only renewal keeps it
    assert first.poll() is None, "the first pull ended before the second started"
    asked = time.monotonic()
    second = _pull(root, env)
    assert second.returncode == ExitCode.USAGE, second.stdout + second.stderr
    said = second.stdout + second.stderr
    assert REFUSED in said
    assert "a pull of its roster (started " in said
    assert "Traceback" not in said
    assert time.monotonic() - asked < 20  # refused, not queued behind the first
    assert first.poll() is None, "the refusal should come while the first still runs"
    assert _batches(root, env) == []
    assert first.wait(120) == 0, first.stdout.read() if first.stdout else ""
    assert _batches(root, env) == [BatchStatus.LOADED]


def test_a_pull_killed_mid_fetch_does_not_block_the_next(
    root: Path, env: dict[str, str], emulator: Emulator, first: subprocess.Popen[str]
) -> None:
    os.kill(first.pid, signal.SIGKILL)
    first.wait(30)
    emulator.page_delay = 0.0
    after = _pull(root, env)
    assert after.returncode == 0, after.stdout + after.stderr
    assert _batches(root, env) == [BatchStatus.LOADED]


def test_a_frozen_pulls_claim_expires_and_it_then_applies_nothing(
    root: Path, env: dict[str, str], emulator: Emulator, first: subprocess.Popen[str]
) -> None:
    os.kill(first.pid, signal.SIGSTOP)  # alive but not renewing: only expiry frees lincoln
    try:
        refused = _pull(root, env)
        assert refused.returncode == ExitCode.USAGE, refused.stdout + refused.stderr
        assert REFUSED in refused.stdout + refused.stderr
        time.sleep(CLAIM_SECONDS + 1.0)
        emulator.page_delay = 0.0
        later = _pull(root, env)
        assert later.returncode == 0, later.stdout + later.stderr
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert first.wait(120) == ExitCode.USAGE
    said = first.stdout.read() if first.stdout else ""
    assert "district lincoln: this pull lost its hold on the district" in said
    assert "nothing was applied" in said
    assert _batches(root, env) == [BatchStatus.LOADED]  # the later pull's only


def _serve(root: Path, env: dict[str, str], hook: WebhookRecorder) -> ServiceProcess:
    """`roster serve` pulling lincoln on schedule (due at once: never pulled)."""
    with open_home(root, **env) as home:
        pulls.configure(home, "lincoln", "powerschool-api", pull_every_hours=6)
    service = ServiceProcess(root, (), {**env, "ROSTER_SETTLE_QUICK_SECONDS": "0.2",
                                        "ROSTER_WEBHOOK_URL": hook.url})  # fmt: skip
    service.wait_ready()
    return service


@pytest.fixture
def hook() -> Iterator[WebhookRecorder]:
    recorder = WebhookRecorder()
    yield recorder
    recorder.server.shutdown()


def test_roster_pull_is_refused_while_serve_pulls_the_district_on_schedule(
    root: Path, env: dict[str, str], emulator: Emulator, hook: WebhookRecorder
) -> None:
    service = _serve(root, env, hook)
    try:
        _fetching(emulator)
        refused = _pull(root, env)
        assert refused.returncode == ExitCode.USAGE, refused.stdout + refused.stderr
        assert REFUSED in refused.stdout + refused.stderr
        assert "a pull of its roster" in refused.stdout + refused.stderr
        (batch,) = wait_for(lambda: [b for b in _batches(root, env) if b.finished] or None,
                            "the scheduled pull's batch")  # fmt: skip
    finally:
        assert service.stop() == 0, service.output()
    assert batch == BatchStatus.LOADED


def test_a_scheduled_pull_skips_its_turn_while_roster_pull_has_the_district(
    root: Path, env: dict[str, str], hook: WebhookRecorder, first: subprocess.Popen[str]
) -> None:
    service = _serve(root, env, hook)
    try:
        wait_for(lambda: "pull of lincoln not started" in service.output() or None,
                 "the scheduled pull to be refused")  # fmt: skip
        assert first.wait(120) == 0, first.stdout.read() if first.stdout else ""
        (batch,) = wait_for(lambda: [b for b in _batches(root, env) if b.finished] or None,
                            "the batch of `roster pull`")  # fmt: skip
    finally:
        assert service.stop() == 0, service.output()
    assert batch == BatchStatus.LOADED
    assert "pull_failed" not in hook.kinds()  # a pull was running: nothing failed
