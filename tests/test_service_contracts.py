"""A PowerSchool-native batch and a Clever batch over SFTP through `roster serve`.

Real subprocess, real SFTP client, loose files uploaded one per table as AutoSend
sends them; the batch forms, loads, and `roster export` shows every teacher of
every class.
"""

from __future__ import annotations

import json
import subprocess
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
def root(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    root.mkdir()
    with open_home(root) as home:
        districts.add_district(home, "lincoln", spec="powerschool", password=PASSWORD)
        districts.add_district(home, "maple", spec="clever", password=PASSWORD)
        for slug in ("lincoln", "maple"):
            operations.configure(home, slug, {"settle_seconds": 2})
    return root


@pytest.fixture
def service(root: Path) -> Iterator[ServiceProcess]:
    started = ServiceProcess(root, ("--port", "0"), {})
    started.wait_ready()
    yield started
    if started.process.poll() is None:
        started.stop()
    print(f"--- serve log ---\n{started.output()}")  # shown when the test failed


def _upload(service: ServiceProcess, user: str, folder: Path) -> None:
    port = int(service.lines[-1].split("sftp on 127.0.0.1:")[1].split(";")[0])
    with paramiko.Transport(("127.0.0.1", port)) as transport:
        transport.connect(username=user, password=PASSWORD)
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        for path in sorted(folder.iterdir()):
            sftp.put(str(path), path.name)
        sftp.close()


def _loaded(root: Path, district: str) -> list[BatchRecord] | None:
    done = [
        b
        for b in batches(root, district)
        if b.status not in {BatchStatus.RECEIVED, BatchStatus.PROCESSING}
    ]
    return done or None


def _export(root: Path, district: str, table: str) -> list[dict[str, str]]:
    shown = subprocess.run(
        [*ROSTER, "--home", str(root), "export", district, table, "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows: list[dict[str, str]] = json.loads(shown.stdout)
    return rows


def _teachers_by_class(root: Path, district: str) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for link in _export(root, district, "class_teachers"):
        found.setdefault(link["class_id"], []).append((link["user_id"], link["is_primary"]))
    return {c: sorted(t, key=lambda x: (x[1] != "true", x[0])) for c, t in found.items()}


def test_powerschool_and_clever_batches_load_over_sftp_with_every_teacher(
    root: Path, service: ServiceProcess, samples: Path
) -> None:
    _upload(service, "lincoln", samples / "powerschool-tables")
    _upload(service, "maple", samples / "clever" / "good")
    (lincoln,) = wait_for(lambda: _loaded(root, "lincoln"), "the PowerSchool batch")
    (maple,) = wait_for(lambda: _loaded(root, "maple"), "the Clever batch")
    assert lincoln.status == BatchStatus.LOADED, lincoln.message
    assert maple.status == BatchStatus.LOADED, maple.message
    assert {f.name for f in lincoln.files} == {
        "schools.txt", "students.txt", "teachers.txt", "sections.txt", "cc.txt",
        "sectionteacher.txt",
    }  # fmt: skip
    assert lincoln.counts["users"].left_out == 3
    assert _teachers_by_class(root, "lincoln") == {
        "9001": [("T2001", "true"), ("T2002", "false")],
        "9002": [("T2002", "true")],
        "9003": [("T2003", "true"), ("T2001", "false")],
    }
    assert _teachers_by_class(root, "maple") == {
        "sec-1": [("tch-71", "true"), ("tch-72", "false")],
        "sec-2": [("tch-72", "true")],
        "sec-3": [("tch-73", "true"), ("tch-71", "false"), ("tch-74", "false")],
        "sec-4": [("tch-74", "true")],
    }
    students = {e["student_id"] for e in _export(root, "lincoln", "enrollments")}
    assert students == {"002001", "002002", "002003", "002004"}  # public numbers, not IDs
