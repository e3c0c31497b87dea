"""OneRoster sets sent over SFTP to `roster serve`: a 1.1 bulk night, its delta night,
a 1.2 set whose userProfiles passwords never reach the archive."""

from __future__ import annotations

import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from roster_pipeline import districts, operations
from roster_pipeline.store import BatchRecord, BatchStatus
from tests.service_helpers import ROSTER, ServiceProcess, batches, open_home, wait_for

pytestmark = pytest.mark.timeout(240)

PASSWORD = "s3cret-pass"


@pytest.fixture
def root(tmp_path: Path, store_url: str) -> Path:
    """A home with lincoln on OneRoster 1.1 and maple on 1.2, on either engine."""
    root = tmp_path / "home"
    root.mkdir()
    (root / "roster.toml").write_text(f"database_url = {json.dumps(store_url)}\n")
    with open_home(root) as home:
        districts.add_district(home, "lincoln", spec="oneroster-1.1", password=PASSWORD)
        districts.add_district(home, "maple", spec="oneroster-1.2", password=PASSWORD)
        for slug in ("lincoln", "maple"):
            operations.configure(home, slug, {"settle_seconds": 1})
    return root


@pytest.fixture
def service(root: Path) -> Iterator[ServiceProcess]:
    started = ServiceProcess(root, ("--port", "0"))
    try:
        started.wait_ready()
        yield started
    finally:
        if started.process.poll() is None:
            started.stop()
        print(f"--- serve log ---\n{started.output()}")  # shown when the test failed


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.iterdir()):
            z.write(path, path.name)
    return target


def _put(service: ServiceProcess, district: str, source: Path, name: str) -> None:
    ready = next(line for line in service.lines if " ready" in line)
    port = int(ready.split("sftp on ")[1].split(";")[0].rsplit(":", 1)[1])
    with paramiko.Transport(("127.0.0.1", port)) as transport:
        transport.connect(username=district, password=PASSWORD)
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        sftp.put(str(source), name)
        sftp.close()


def _finished(root: Path, district: str, n: int) -> list[BatchRecord] | None:
    done = [b for b in batches(root, district) if b.status.finished or b.status == "held"]
    return done if len(done) >= n else None


def _roster(root: Path, *args: str) -> str:
    argv = [*ROSTER, "--home", str(root), *args]
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_oneroster_nights_over_sftp(
    root: Path, service: ServiceProcess, samples: Path, tmp_path: Path
) -> None:
    _put(service, "lincoln", samples / "oneroster" / "good.zip", "oneroster.zip")
    (bulk,) = wait_for(lambda: _finished(root, "lincoln", 1), "the bulk night")
    assert (bulk.status, bulk.mode) == (BatchStatus.LOADED, "bulk"), bulk.message
    delta = _zip(samples / "oneroster" / "delta", tmp_path / "delta.zip")
    _put(service, "lincoln", delta, "oneroster-delta.zip")
    night = wait_for(lambda: _finished(root, "lincoln", 2), "the delta night")[0]
    assert (night.status, night.mode) == (BatchStatus.HELD, "delta"), night.message
    assert night.counts["users"].deleted == 1
    _roster(root, "batch", "approve", night.batch_id)
    users = json.loads(_roster(root, "export", "lincoln", "users", "--format", "json"))
    ids = {u["sourcedId"] for u in users}
    assert "usr-000420" not in ids  # marked tobedeleted
    assert {"usr-000421", "usr-t1003", "usr-000417"} <= ids  # added; not listed, kept

    _put(service, "maple", samples / "oneroster" / "v1.2.zip", "oneroster12.zip")
    (twelve,) = wait_for(lambda: _finished(root, "maple", 1), "the 1.2 set")
    assert twelve.status == BatchStatus.LOADED, twelve.message
    archived = root / "archive" / twelve.batch_id / "raw"
    kept = b""
    for path in archived.rglob("*.zip"):
        with zipfile.ZipFile(path) as z:
            kept += b"".join(z.read(n) for n in z.namelist())
    assert b"Gradebook login" in kept
    assert b"Secret-Gradebook-1" not in kept
