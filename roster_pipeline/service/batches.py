"""Batch lifecycle: ``inbox/<district>/`` → ``processing/<batch>/`` → ``archive/`` or ``failed/``.

Folders are the state and move with ``os.replace`` on one filesystem; the batch
row (status and claim, see ``store.queue``) mirrors them. The order of steps is
what makes a crash harmless at any point:

1. the batch row is inserted (``received``, held by the assembler) before any
   file leaves the inbox;
2. the files move to ``processing/<batch>/files/`` (under the names the district
   gave them), ``manifest.json`` is written, and the row is released to workers;
3. a worker applies the batch in one transaction; only after the commit does
   the folder move to ``archive/<batch>/raw`` (reports sit beside it).

``recover`` completes whatever a crash interrupted: claims of dead processes
are released (the batch runs again from its files), and folders of batches
whose outcome was already committed are archived.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from roster_pipeline import pipeline
from roster_pipeline.contracts.specs import Spec, load_spec
from roster_pipeline.errors import (
    RosterError,
    StorageError,
    UnknownBatchError,
    UnknownDistrictError,
)
from roster_pipeline.home import Home
from roster_pipeline.stages.unpack import hash_file
from roster_pipeline.store import BatchQueue, BatchRecord, BatchStatus, DistrictRecord, FileRecord
from sftp_server import is_temp_name, original_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arrival:
    """A complete file waiting in a district's inbox."""

    path: Path
    name: str  # the name the district gave it
    arrived: float  # when it was published (ctime: preserved mtimes would lie)
    size: int

    @property
    def is_zip(self) -> bool:
        return self.name.lower().endswith(".zip")


def arrivals(folder: Path) -> list[Arrival]:
    """The complete files in an inbox folder, oldest first; hidden and partial ones skipped."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or is_temp_name(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # taken by another assembler meanwhile
            continue
        name = original_name(entry.name)
        found.append(Arrival(Path(entry.path), name, stat.st_ctime, stat.st_size))
    return sorted(found, key=lambda a: (a.arrived, a.path.name))


@dataclass(frozen=True)
class Readiness:
    groups: tuple[tuple[Arrival, ...], ...]  # each becomes one batch now
    wait: float | None  # seconds until something else may be ready; None: nothing waits


def ready_groups(
    found: Sequence[Arrival], spec: Spec, settle: float, quick: float, now: float
) -> Readiness:
    """Which waiting files form batches now: each zip alone; loose files together once the
    inbox was quiet for ``settle`` seconds, or ``quick`` seconds once every required file
    of the spec is there."""
    groups: list[tuple[Arrival, ...]] = []
    waits: list[float] = []
    for zipped in (a for a in found if a.is_zip):
        _ready_after(groups, waits, (zipped,), quick, now - zipped.arrived)
    loose = tuple(a for a in found if not a.is_zip)
    if loose:
        quiet = now - max(a.arrived for a in loose)
        names = {a.name for a in loose}
        complete = spec.complete(names)
        _ready_after(groups, waits, loose, min(quick, settle) if complete else settle, quiet)
    return Readiness(tuple(groups), min(waits) if waits else None)


def _ready_after(
    groups: list[tuple[Arrival, ...]],
    waits: list[float],
    group: tuple[Arrival, ...],
    needed: float,
    quiet: float,
) -> None:
    if quiet >= needed:
        groups.append(group)
    else:
        waits.append(needed - quiet)


def assemble_ready(home: Home, queue: BatchQueue, now: float | None = None) -> float | None:
    """Form every batch that is ready in every district's inbox; returns the next wait."""
    now = now if now is not None else datetime.now(UTC).timestamp()
    waits = []
    for folder in sorted(p for p in home.folder("inbox").glob("*") if p.is_dir()):
        try:
            wait = _assemble_district(home, queue, folder, now)
        except UnknownDistrictError:
            continue  # a folder nobody provisioned: nothing can log in to fill it
        except RosterError as exc:  # one district's trouble must not hold up the others
            log.error("inbox of %s: %s; trying again at the next scan", folder.name, exc)
            continue
        if wait is not None:
            waits.append(wait)
    return min(waits) if waits else None


def _assemble_district(home: Home, queue: BatchQueue, folder: Path, now: float) -> float | None:
    district = home.store.district(folder.name)
    if district.paused:
        return None  # kept as received until the district resumes
    spec = load_spec(district.spec)
    timing = home.settings.for_district(district.settings).service
    ready = ready_groups(
        arrivals(folder), spec, timing.settle_seconds, timing.settle_quick_seconds, now
    )
    for group in ready.groups:
        assemble(home, queue, district, spec, group)
    return ready.wait


@dataclass(frozen=True)
class ManifestFile:
    name: str  # as the district named it; the name under files/
    published: str  # as it sat in the inbox
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    batch_id: str
    district: str
    received_at: datetime
    files: tuple[ManifestFile, ...]
    superseded: tuple[ManifestFile, ...] = field(default=())  # older uploads of a same name

    def write(self, folder: Path) -> None:
        data: dict[str, Any] = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        temp = folder / ".manifest.json.tmp"
        temp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(temp, folder / "manifest.json")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return cls(
            batch_id=data["batch_id"],
            district=data["district"],
            received_at=datetime.fromisoformat(data["received_at"]),
            files=tuple(ManifestFile(**f) for f in data["files"]),
            superseded=tuple(ManifestFile(**f) for f in data["superseded"]),
        )


def _describe(group: Sequence[Arrival]) -> tuple[list[ManifestFile], list[ManifestFile]]:
    """Newest upload of each name is used; older ones of the same name are superseded."""
    newest: dict[str, Arrival] = {}
    superseded = []
    for arrival in group:  # oldest first
        if arrival.name in newest:
            superseded.append(newest[arrival.name])
        newest[arrival.name] = arrival

    def entry(a: Arrival) -> ManifestFile:
        return ManifestFile(a.name, a.path.name, hash_file(a.path)[1], a.size)

    return [entry(a) for a in newest.values()], [entry(a) for a in superseded]


def assemble(
    home: Home,
    queue: BatchQueue,
    district: DistrictRecord,
    spec: Spec,
    group: Sequence[Arrival],
) -> str:
    """Turn waiting files into a batch: row first, then the moves, then hand it to workers."""
    used, superseded = _describe(group)
    received = datetime.fromtimestamp(max(a.arrived for a in group), UTC)
    batch_id = pipeline.new_batch_id(district.slug, received)
    record = BatchRecord(
        batch_id=batch_id,
        district=district.slug,
        status=BatchStatus.RECEIVED,
        received_at=received,
        source=_source(used),
        files=tuple(FileRecord(f.name, _spec_name(spec, f.name), f.sha256, f.size) for f in used),
        message="received; waiting for a worker",
    )
    queue.receive(record)
    folder = home.folder("processing", batch_id)
    _move_in(home.folder("inbox", district.slug), folder, used, superseded)
    Manifest(batch_id, district.slug, received, tuple(used), tuple(superseded)).write(folder)
    queue.release(batch_id)
    log.info("batch %s formed for %s from %s", batch_id, district.slug, record.source)
    return batch_id


def _spec_name(spec: Spec, name: str) -> str | None:
    found = spec.match(name)
    return found.name if found else None


def _source(used: Sequence[ManifestFile]) -> str:
    return ", ".join(sorted(f.name for f in used))  # as pipeline.process will name it


def _move_in(
    inbox: Path, folder: Path, used: Iterable[ManifestFile], superseded: Iterable[ManifestFile]
) -> None:
    try:
        (folder / "files").mkdir(parents=True)
        for f in used:
            os.replace(inbox / f.published, folder / "files" / f.name)
        for f in superseded:
            (folder / "superseded").mkdir(exist_ok=True)
            os.replace(inbox / f.published, folder / "superseded" / f.published)
    except OSError as exc:
        raise StorageError(f"cannot move files from {inbox} into {folder}: {exc}") from exc


def notes(home: Home, batch_id: str) -> tuple[str, ...]:
    """What the batch's report should say about its assembly (superseded uploads)."""
    folder = home.folder("processing", batch_id)
    if not (folder / "manifest.json").is_file():
        return ()
    old = Manifest.read(folder).superseded
    if not old:
        return ()
    names = ", ".join(f.published for f in old)
    return (
        f"replaced by a later upload of the same name, kept in the archive but not loaded: {names}",
    )


def archive(home: Home, batch_id: str) -> None:
    """After the outcome is committed: processing/<batch>/ → archive/<batch>/ (idempotent)."""
    source = home.folder("processing", batch_id)
    target = home.folder("archive", batch_id)
    target.mkdir(parents=True, exist_ok=True)
    for name, moved in (("files", "raw"), ("superseded", "superseded"),
                        ("manifest.json", "manifest.json")):  # fmt: skip
        # Already moved: a re-run of an interrupted archive, or another host's.
        with contextlib.suppress(FileNotFoundError):
            os.replace(source / name, target / moved)
    shutil.rmtree(source, ignore_errors=True)


def fail(home: Home, batch_id: str, reason: str) -> Path:
    """Move a batch that cannot be processed to failed/<batch>/ with the reason beside it."""
    source = home.folder("processing", batch_id)
    target = home.folder("failed", batch_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.exists():
        os.replace(source, target)
    target.mkdir(parents=True, exist_ok=True)
    (target / "reason.txt").write_text(reason + "\n", encoding="utf-8")
    log.error("batch %s failed: %s", batch_id, reason)
    return target


def recover(home: Home, queue: BatchQueue) -> list[str]:
    """Complete what a crash interrupted; returns the batches that will run again."""
    again = queue.release_dead()
    for batch_id in again:
        log.warning("batch %s was interrupted (its process died); it runs again", batch_id)
    for folder in sorted(home.folder("processing").glob("*")):
        try:
            home.store.batch(folder.name)
        except UnknownBatchError:
            fail(home, folder.name, "no batch record exists for this folder; ops must look")
    recover_committed(home)
    return again


def recover_committed(home: Home) -> list[str]:
    """Archive the folders of batches whose outcome is committed (a crash came before the
    move); safe to run any time, from any host."""
    done = []
    for folder in sorted(home.folder("processing").glob("*")):
        try:
            status = home.store.batch(folder.name).status
        except UnknownBatchError:
            continue  # only the start-up recovery judges these
        if status.finished:
            archive(home, folder.name)
            done.append(folder.name)
    return done
