"""`roster serve` as a real subprocess: inbox to loaded rows, crash safety, pause, shutdown."""

from __future__ import annotations

import functools
import json
import os
import re
import runpy
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from roster_pipeline import districts, operations, system
from roster_pipeline.store import BatchRecord, BatchStatus
from tests.service_helpers import (
    ROSTER,
    ServiceProcess,
    WebhookRecorder,
    batches,
    open_home,
    publish,
    wait_for,
)

pytestmark = pytest.mark.timeout(240)

PASSWORD = "s3cret-pass"
GOOD = ("schools.csv", "users.csv", "classes.csv", "enrollments.csv")


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """SQLite in the home by default; ``indirect`` parametrisation adds PostgreSQL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return ""
    url: str = request.getfixturevalue("postgres_url")
    return url


BOTH_ENGINES = pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def root(tmp_path: Path, database: str) -> Path:
    """A home with the district lincoln, settling after 2 quiet seconds. Its roster.toml
    names the database, so the service, the CLI and the helpers all use the same one."""
    root = tmp_path / "home"
    root.mkdir()
    if database:
        (root / "roster.toml").write_text(f"database_url = {json.dumps(database)}\n")
    with open_home(root) as home:
        districts.add_district(home, "lincoln", password=PASSWORD)
        operations.configure(home, "lincoln", {"settle_seconds": 2})
    return root


@pytest.fixture
def serve(root: Path) -> Iterator[list[ServiceProcess]]:
    """Started services, stopped at the end of the test whatever happens."""
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        if service.process.poll() is None:
            service.stop()
        # Shown by pytest only when the test failed.
        print(f"--- serve log {service.log.name} ---\n{service.output()}")


def _start(started: list[ServiceProcess], root: Path, *args: str, **env: str) -> ServiceProcess:
    service = ServiceProcess(root, args, env)
    started.append(service)
    service.wait_ready()
    return service


def _finished(root: Path, district: str, n: int) -> list[BatchRecord] | None:
    found = batches(root, district)
    done = [b for b in found if b.status.finished]
    return done if len(done) >= n else None


def _no_leftovers(root: Path) -> None:
    assert list((root / "processing").iterdir()) == []
    assert list((root / "inbox" / "lincoln").iterdir()) == []


def test_loose_files_uploaded_apart_form_one_batch(
    root: Path, serve: list[ServiceProcess], samples: Path
) -> None:
    # Only the 2-second settle may close the batch: the quick rule is pushed out of reach.
    _start(serve, root, ROSTER_SETTLE_QUICK_SECONDS="600")
    for name in GOOD:
        publish(root, "lincoln", name, (samples / "good" / name).read_bytes())
        time.sleep(0.5)  # apart, each within the settle period of the previous one
    (batch,) = wait_for(lambda: _finished(root, "lincoln", 1), "the batch")
    assert batch.status == BatchStatus.LOADED, batch.message
    assert sorted(f.name for f in batch.files) == sorted(GOOD)
    assert batch.source == ", ".join(sorted(GOOD))
    raw = root / "archive" / batch.batch_id / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(GOOD)
    assert (root / "archive" / batch.batch_id / "manifest.json").is_file()
    _no_leftovers(root)


def test_a_complete_set_needs_only_the_short_quiet_and_a_zip_is_one_batch(
    root: Path, serve: list[ServiceProcess], samples: Path
) -> None:
    with open_home(root) as home:
        operations.configure(home, "lincoln", {"settle_seconds": 600})
    _start(serve, root, ROSTER_SETTLE_QUICK_SECONDS="0.5")
    for name in GOOD:
        publish(root, "lincoln", name, (samples / "good" / name).read_bytes())
    (loose,) = wait_for(lambda: _finished(root, "lincoln", 1), "the loose batch")
    assert loose.status == BatchStatus.LOADED, loose.message
    publish(root, "lincoln", "export.zip", (samples / "good.zip").read_bytes())
    zipped, _ = wait_for(lambda: _finished(root, "lincoln", 2), "the zip batch")
    assert zipped.source == "export.zip"
    assert zipped.status == BatchStatus.DUPLICATE  # same rows as the loose files
    _no_leftovers(root)


def test_a_paused_district_keeps_its_uploads_until_it_resumes(
    root: Path, serve: list[ServiceProcess], samples: Path
) -> None:
    with open_home(root) as home:
        districts.add_district(home, "other")
        operations.configure(home, "lincoln", {}, paused=True)
    _start(serve, root)
    kept = publish(root, "lincoln", "good.zip", (samples / "good.zip").read_bytes())
    publish(root, "other", "good.zip", (samples / "good.zip").read_bytes())
    wait_for(lambda: _finished(root, "other", 1), "the other district's batch")
    assert batches(root, "lincoln") == []
    assert kept.is_file()
    with open_home(root) as home:
        operations.configure(home, "lincoln", {}, paused=False)
    (batch,) = wait_for(lambda: _finished(root, "lincoln", 1), "the resumed batch")
    assert batch.status == BatchStatus.LOADED


@BOTH_ENGINES
def test_a_disabled_system_keeps_uploads_and_processes_them_once_enabled(
    root: Path, serve: list[ServiceProcess], samples: Path
) -> None:
    with open_home(root) as home:
        system.disable(home, "SIS migration", by="test")
    _start(serve, root, ROSTER_SETTLE_QUICK_SECONDS="0.2")
    kept = publish(root, "lincoln", "good.zip", (samples / "good.zip").read_bytes())
    time.sleep(4)  # past the 2 s settle, a rescan and many claim polls
    assert batches(root, "lincoln") == []
    assert kept.is_file()  # accepted, kept, not processed
    with open_home(root) as home:
        system.enable(home, by="test")
    (batch,) = wait_for(lambda: _finished(root, "lincoln", 1), "the batch after enable")
    assert batch.status == BatchStatus.LOADED, batch.message


def _big_district(folder: Path) -> None:
    generate = runpy.run_path(str(Path(__file__).parent.parent / "samples" / "generate.py"))
    tables = generate["district"](100_000, 5_000, 600_000, 7)
    generate["write"](tables, folder, True)


def _workers(pid: int) -> list[int]:
    """The worker processes of a service (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in found if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


@BOTH_ENGINES
def test_kill_9_during_apply_then_restart_applies_the_batch_exactly_once(
    root: Path, serve: list[ServiceProcess], tmp_path: Path
) -> None:
    _big_district(tmp_path / "big")
    (zipped,) = (tmp_path / "big").glob("*.zip")
    service = _start(serve, root)
    publish(root, "lincoln", "big.zip", zipped.read_bytes())
    (batch,) = wait_for(lambda: batches(root, "lincoln"), "the batch row")
    # The reports are written right before the one apply transaction starts.
    report = root / "archive" / batch.batch_id / "report.html"
    wait_for(report.is_file, "the apply to start", timeout=120)
    workers = _workers(service.process.pid)
    service.kill()
    wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), "workers to die")
    (interrupted,) = batches(root, "lincoln")
    assert interrupted.status == BatchStatus.PROCESSING  # killed mid-apply, nothing committed
    assert (root / "processing" / batch.batch_id / "files" / "big.zip").is_file()

    _start(serve, root)
    (done,) = wait_for(lambda: _finished(root, "lincoln", 1), "the batch after restart", 120)
    assert done.batch_id == batch.batch_id
    assert done.status == BatchStatus.LOADED, done.message
    assert {t: (c.added, c.updated, c.deleted) for t, c in done.counts.items()} == {
        "schools": (120, 0, 0), "users": (100_000, 0, 0),
        "classes": (5_000, 0, 0), "class_teachers": (5_000, 0, 0), "enrollments": (600_000, 0, 0),
    }  # fmt: skip
    with open_home(root) as home:
        assert home.store.table_counts("lincoln") == {
            "schools": 120, "users": 100_000, "classes": 5_000, "enrollments": 600_000,
            "class_teachers": 5_000,
        }  # fmt: skip
        changes = home.store.changes(done.batch_id)
    assert changes.height == 120 + 100_000 + 5_000 + 5_000 + 600_000
    assert changes.select("table", "key").n_unique() == changes.height  # no duplicates
    assert (root / "archive" / done.batch_id / "raw" / "big.zip").is_file()
    assert list((root / "processing").iterdir()) == []


@pytest.mark.parametrize("group", [False, True], ids=["service", "process-group"])
def test_sigterm_stops_the_service_and_its_workers(
    root: Path, serve: list[ServiceProcess], group: bool
) -> None:
    """SIGTERM to the service, or to its whole group as Ctrl-C and systemd do."""
    service = _start(serve, root, "--workers", "2")
    workers = _workers(service.process.pid)
    assert len(workers) >= 2
    assert service.stop(group=group) == 0
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_rejected_batches_and_stale_districts_are_posted_to_the_webhook(
    root: Path, serve: list[ServiceProcess], samples: Path
) -> None:
    with open_home(root) as home:
        districts.add_district(home, "quiet")
        operations.configure(home, "quiet", {"expect_every_hours": 0.0001})
    hook = WebhookRecorder()
    try:
        _start(serve, root, ROSTER_WEBHOOK_URL=hook.url)
        truncated = (samples / "good.zip").read_bytes()[:-100]
        publish(root, "lincoln", "export.zip", truncated)
        (batch,) = wait_for(lambda: _finished(root, "lincoln", 1), "the batch")
        assert batch.status == BatchStatus.REJECTED
        wait_for(lambda: {"batch_rejected", "district_stale"} <= set(hook.kinds()), "alerts")
    finally:
        hook.close()
    rejected = next(e for e in hook.events if e["event"] == "batch_rejected")
    assert (rejected["district"], rejected["batch_id"]) == ("lincoln", batch.batch_id)
    stale = [e["district"] for e in hook.events if e["event"] == "district_stale"]
    assert stale == ["quiet"]  # lincoln uploaded just now; quiet never did


@BOTH_ENGINES
def test_twenty_districts_uploading_at_once_are_all_loaded_and_kept_apart(
    root: Path, serve: list[ServiceProcess], samples: Path
) -> None:
    slugs = [f"d{i:02d}" for i in range(20)]
    with open_home(root) as home:
        for slug in slugs:
            districts.add_district(home, slug)
    _start(serve, root, "--workers", "3", ROSTER_SETTLE_QUICK_SECONDS="0.5")
    for i, slug in enumerate(slugs):
        source = samples / ("good" if i % 2 else "next-night")
        for name in GOOD:
            publish(root, slug, name, (source / name).read_bytes())
    for slug in slugs:
        (batch,) = wait_for(functools.partial(_finished, root, slug, 1), f"{slug}'s batch", 120)
        assert batch.status == BatchStatus.LOADED, batch.message
    with open_home(root) as home:
        for i, slug in enumerate(slugs):
            users = home.store.table_counts(slug)["users"]
            assert users == (12 if i % 2 else 13), slug


def test_a_login_succeeds_within_2_seconds_while_a_large_batch_is_processing(
    root: Path, serve: list[ServiceProcess], tmp_path: Path
) -> None:
    _big_district(tmp_path / "big")
    (zipped,) = (tmp_path / "big").glob("*.zip")
    ready = _start(serve, root, "--port", "0")
    port = int(ready.lines[-1].split("sftp on 127.0.0.1:")[1].split(";")[0])
    publish(root, "lincoln", "big.zip", zipped.read_bytes())

    def processing() -> bool:
        return [b.status for b in batches(root, "lincoln")] == [BatchStatus.PROCESSING]

    wait_for(processing, "the batch to be processing")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    # Every phase of the login must complete within 2 seconds, or connect() raises.
    client.connect(
        "127.0.0.1", port, "lincoln", PASSWORD, timeout=2, banner_timeout=2,
        auth_timeout=2, allow_agent=False, look_for_keys=False,
    )  # fmt: skip
    assert client.get_transport() is not None
    client.close()
    assert processing()  # the login really overlapped the batch's processing


def test_a_zip_uploaded_over_sftp_ends_as_rows_in_roster_export(
    root: Path, serve: list[ServiceProcess], samples: Path
) -> None:
    # Another loopback address than the default, so --host is really honoured.
    ready = _start(serve, root, "--host", "127.0.0.2", "--port", "0")
    port = int(ready.lines[-1].split("sftp on 127.0.0.2:")[1].split(";")[0])
    with paramiko.Transport(("127.0.0.2", port)) as transport:
        transport.connect(username="lincoln", password=PASSWORD)
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        sftp.put(str(samples / "good.zip"), "export.zip")
        sftp.close()
    (batch,) = wait_for(lambda: _finished(root, "lincoln", 1), "the batch")
    assert batch.status == BatchStatus.LOADED, batch.message
    exported = subprocess.run(
        [*ROSTER, "--home", str(root), "export", "lincoln", "users", "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    users = json.loads(exported.stdout)
    assert len(users) == 12
    assert "000421" in {u["district_user_id"] for u in users}


def test_roster_demo_runs_end_to_end() -> None:
    shown = subprocess.run(
        [*ROSTER, "demo"], check=False, capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    text = " ".join(shown.stdout.split())  # rich wraps long lines
    home = Path(re.search(r"demo home kept at (\S+)", text).group(1))  # type: ignore[union-attr]
    try:
        report = re.search(r"reject report of the last batch: (\S+)", text)
        assert report is not None
        assert Path(report.group(1)).is_file()
        assert "loaded_with_rejects" in Path(report.group(1)).read_text()
        statuses = re.findall(r"batch \S+-lincoln-\w+: (\w+)", text)
        assert statuses == ["loaded", "loaded", "loaded_with_rejects"]
    finally:
        shutil.rmtree(home, ignore_errors=True)


@BOTH_ENGINES
def test_a_receiver_and_two_workers_in_separate_processes_load_each_upload_once(
    root: Path, serve: list[ServiceProcess], samples: Path
) -> None:
    """The several-machine layout on one machine: `--role sftp` receives, two
    `--role worker` processes share the home and the database."""
    ready = _start(serve, root, "--role", "sftp", "--port", "0")
    _start(serve, root, "--role", "worker")
    _start(serve, root, "--role", "worker")
    port = int(ready.lines[-1].split("sftp on 127.0.0.1:")[1].split(";")[0])
    for n, source in enumerate((samples / "good.zip", samples / "next-night" / "users.csv")):
        with paramiko.Transport(("127.0.0.1", port)) as transport:
            transport.connect(username="lincoln", password=PASSWORD)
            sftp = paramiko.SFTPClient.from_transport(transport)
            assert sftp is not None
            sftp.put(str(source), source.name)
            sftp.close()
        wait_for(functools.partial(_finished, root, "lincoln", n + 1), f"batch {n + 1}")
    time.sleep(3)  # longer than settle: a second assembler would have made a batch by now
    done = batches(root, "lincoln")
    assert [b.status for b in done] == [BatchStatus.LOADED, BatchStatus.LOADED]
    first, second = reversed(done)
    assert {f.name for f in first.files} == set(GOOD)
    assert [f.name for f in second.files] == ["users.csv"]
    assert second.counts["users"].added == 1
    _no_leftovers(root)
