"""Batch assembly rules on real inbox folders: which waiting files form a batch, and when."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.service.batches import Arrival, Manifest, ManifestFile, arrivals, ready_groups

SPEC = load_spec("roster-csv")


def _drop(folder: Path, name: str, at: float, body: bytes = b"id\n1\n") -> Path:
    """A file as the receiver publishes it; ``at`` becomes its arrival time."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(body)
    os.utime(path, (at, at))
    return path


def _arrival(name: str, at: float) -> Arrival:
    return Arrival(Path(name), name, at, 10)


def test_arrivals_skip_hidden_and_partial_files_and_restore_the_sent_name(tmp_path: Path) -> None:
    _drop(tmp_path, "20261122T030012Z-users.csv", 0)
    _drop(tmp_path, "20261122T030512Z-2-classes.csv", 0)
    _drop(tmp_path, "enrollments.csv", 0)
    _drop(tmp_path, ".hidden.csv", 0)
    _drop(tmp_path, "schools.csv.filepart", 0)
    (tmp_path / "subfolder").mkdir()
    found = {a.name: a.path.name for a in arrivals(tmp_path)}
    assert found == {
        "users.csv": "20261122T030012Z-users.csv",
        "classes.csv": "20261122T030512Z-2-classes.csv",
        "enrollments.csv": "enrollments.csv",
    }


def test_arrivals_of_a_missing_folder_are_none(tmp_path: Path) -> None:
    assert arrivals(tmp_path / "nope") == []


def test_loose_files_wait_for_the_settle_period() -> None:
    found = [_arrival("users.csv", 100.0), _arrival("classes.csv", 160.0)]
    waiting = ready_groups(found, SPEC, settle=300, quick=5, now=200.0)
    assert waiting.groups == ()
    assert waiting.wait == pytest.approx(260.0)
    ready = ready_groups(found, SPEC, settle=300, quick=5, now=460.0)
    assert ready.groups == (tuple(found),)
    assert ready.wait is None


def test_every_required_file_present_needs_only_the_short_quiet() -> None:
    found = [
        _arrival("USERS_20261122.CSV", 100.0),
        _arrival("classes.csv", 101.0),
        _arrival("enrollments.txt", 102.0),
    ]
    assert ready_groups(found, SPEC, settle=300, quick=5, now=104.0).wait == pytest.approx(3.0)
    assert len(ready_groups(found, SPEC, settle=300, quick=5, now=107.0).groups[0]) == 3


def test_each_zip_is_a_batch_of_its_own_and_loose_files_keep_waiting() -> None:
    found = [
        _arrival("a.zip", 100.0),
        _arrival("users.csv", 100.0),
        _arrival("b.ZIP", 104.0),
    ]
    result = ready_groups(found, SPEC, settle=300, quick=5, now=106.0)
    assert [[a.name for a in g] for g in result.groups] == [["a.zip"]]
    assert result.wait == pytest.approx(3.0)  # b.zip, 2 s old, needs 5


def test_unmatched_files_go_with_the_loose_batch() -> None:
    found = [_arrival("readme.txt", 0.0), _arrival("users.csv", 1.0)]
    groups = ready_groups(found, SPEC, settle=10, quick=5, now=20.0).groups
    assert [a.name for a in groups[0]] == ["readme.txt", "users.csv"]


def test_manifest_round_trips(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    manifest = Manifest(
        "b1",
        "lincoln",
        datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
        (ManifestFile("users.csv", "20261122T030000Z-users.csv", "ab" * 32, 12),),
        (ManifestFile("users.csv", "20261122T020000Z-users.csv", "cd" * 32, 11),),
    )
    manifest.write(tmp_path)
    assert Manifest.read(tmp_path) == manifest
    assert not list(tmp_path.glob(".*"))
