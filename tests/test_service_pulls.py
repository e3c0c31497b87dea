"""Scheduled pulls in a real `roster serve`: the emulator on loopback, the service a
subprocess. A pulled batch is formed and processed like an upload; a failed pull forms
none and raises an alert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from roster_pipeline import districts, operations, pulls
from roster_pipeline.sources import batch_name
from roster_pipeline.store import BatchStatus
from tests.helpers import SAMPLES
from tests.powerschool_emulator import Emulator, split_users
from tests.service_helpers import ServiceProcess, WebhookRecorder, batches, open_home, wait_for

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    tables = {t: pl.read_csv(SAMPLES / "good" / f"{t}.csv", infer_schema=False)
              for t in ("schools", "users", "classes", "enrollments")}  # fmt: skip
    server = Emulator(split_users(tables), max_page_size=4)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def root(tmp_path: Path, emulator: Emulator) -> Path:
    """A home whose district lincoln is pulled from the emulator every 6 hours (never yet)."""
    root = tmp_path / "home"
    with open_home(root) as home:
        districts.add_district(home, "lincoln")
        pulls.configure(home, "lincoln", "powerschool-api", url=emulator.url,
                        client_id=emulator.client_id, secret=emulator.client_secret,
                        pull_every_hours=6)  # fmt: skip
    return root


@pytest.fixture
def hook() -> Iterator[WebhookRecorder]:
    recorder = WebhookRecorder()
    yield recorder
    recorder.server.shutdown()


def _serve(root: Path, hook: WebhookRecorder) -> ServiceProcess:
    env = {"ROSTER_SETTLE_QUICK_SECONDS": "0.2", "ROSTER_WEBHOOK_URL": hook.url}
    service = ServiceProcess(root, (), env)
    service.wait_ready()
    return service


def test_serve_pulls_a_district_due_and_processes_it_like_an_upload(
    root: Path, hook: WebhookRecorder
) -> None:
    service = _serve(root, hook)
    try:
        (batch,) = wait_for(lambda: [b for b in batches(root, "lincoln") if b.status.finished],
                            "the pulled batch")  # fmt: skip
    finally:
        assert service.stop() == 0, service.output()
    assert batch.status == BatchStatus.LOADED, batch.message
    assert batch.source == batch_name("lincoln")
    assert (root / "archive" / batch.batch_id / "raw" / batch.source).is_file()
    assert sorted(batch.counts) == ["class_teachers", "classes", "enrollments", "schools",
                                    "users"]  # fmt: skip
    assert hook.kinds() == []
    assert batch.warnings == ()  # a clean pull warns of nothing, as a clean upload


def test_a_failed_scheduled_pull_forms_no_batch_and_alerts(
    root: Path, hook: WebhookRecorder, emulator: Emulator
) -> None:
    emulator.plugin_enabled = False
    service = _serve(root, hook)
    try:
        wait_for(lambda: "pull_failed" in hook.kinds(), "the pull_failed alert")
    finally:
        assert service.stop() == 0, service.output()
    (alert,) = [e for e in hook.events if e["event"] == "pull_failed"]
    assert alert["district"] == "lincoln"
    assert "refused the client ID and secret" in str(alert["message"])
    assert batches(root, "lincoln") == []
    assert list((root / "inbox" / "lincoln").iterdir()) == []
    with open_home(root) as home:
        assert [e.code for e in home.store.events(district="lincoln")] == ["pull_failed"]


def test_a_paused_district_is_not_pulled(
    root: Path, hook: WebhookRecorder, emulator: Emulator
) -> None:
    with open_home(root) as home:
        operations.configure(home, "lincoln", {}, paused=True)
        districts.add_district(home, "other")
        pulls.configure(home, "other", "powerschool-api", url=emulator.url,
                        client_id=emulator.client_id, secret=emulator.client_secret,
                        pull_every_hours=6)  # fmt: skip
    service = _serve(root, hook)
    try:
        wait_for(lambda: [b for b in batches(root, "other") if b.status.finished],
                 "the other district's pulled batch")  # fmt: skip
    finally:
        assert service.stop() == 0, service.output()
    assert batches(root, "lincoln") == []
    assert not (root / "inbox" / "lincoln").exists() or not any(
        (root / "inbox" / "lincoln").iterdir()
    )
