"""What ops do by hand: approve, discard or reprocess a batch; tune a district.

``approve`` plans a held batch again against what is loaded now, with the
thresholds lifted, and applies it under the same batch id (held → approved →
loaded). ``discard`` marks a held batch discarded; nothing is applied.
``reprocess`` runs a finished batch's archived raw files again as a new batch.
``rollback`` undoes an applied batch (``rollback.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from roster_pipeline import pipeline
from roster_pipeline import rollback as rollback_mod
from roster_pipeline.contracts.dialects import SETTING_KEYS, CsvDialect
from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.errors import ConflictError
from roster_pipeline.home import Home
from roster_pipeline.progress import Progress, no_progress
from roster_pipeline.store import BatchRecord, BatchStatus, DistrictRecord


def _held(home: Home, batch_id: str, action: str) -> BatchRecord:
    batch = home.store.batch(batch_id)
    if batch.status != BatchStatus.HELD:
        raise ConflictError(
            f"batch {batch_id} of {batch.district} is {batch.status}; only a held batch can be"
            f" {action}"
        )
    return batch


def _archived(home: Home, batch: BatchRecord) -> list[Path]:
    files = home.batch_files(batch.batch_id)
    if not files:
        raise ConflictError(
            f"the files of batch {batch.batch_id} are no longer archived (purged after the"
            " district's retention); ask the district to send them again"
        )
    return files


def approve(home: Home, batch_id: str, progress: Progress = no_progress) -> BatchRecord:
    """Apply a held batch, planned again against the current state, thresholds lifted."""
    batch = _held(home, batch_id, "approved")
    files = _archived(home, batch)
    approved = replace(batch, status=BatchStatus.APPROVED, message="approved; being applied")
    home.store.save_batch(approved, home.store.rejects(batch_id))
    result = pipeline.process(
        home,
        batch.district,
        files,
        batch_id=batch_id,
        received_at=batch.received_at,
        archive_raw=False,
        lift_holds=True,
        progress=progress,
    )
    return result.batch


def discard(home: Home, batch_id: str) -> BatchRecord:
    """Drop a held batch: nothing of it is applied; its files and report stay archived."""
    batch = _held(home, batch_id, "discarded")
    discarded = replace(
        batch,
        status=BatchStatus.DISCARDED,
        finished_at=datetime.now(UTC),
        message="discarded by ops; nothing of it was applied",
    )
    home.store.save_batch(discarded, home.store.rejects(batch_id))
    return discarded


def rollback(home: Home, batch_id: str) -> BatchRecord:
    """Undo an applied batch (refused when later batches changed the same rows; the
    command line's ``--cascade`` takes those back too)."""
    rollback_mod.rollback(home, batch_id)
    return home.store.batch(batch_id)


def reprocess(home: Home, batch_id: str) -> BatchRecord:
    """Run a finished batch's archived files again, as a new batch."""
    batch = home.store.batch(batch_id)
    if not batch.status.finished:
        raise ConflictError(f"batch {batch_id} is still {batch.status}; wait until it finishes")
    files = _archived(home, batch)
    result = pipeline.process(home, batch.district, files)
    return result.batch


def configure(
    home: Home,
    slug: str,
    values: Mapping[str, float],
    paused: bool | None = None,
    dialect: CsvDialect | None = None,
) -> DistrictRecord:
    """Change a district's settings (absent keys keep their value) and pause state.

    ``dialect`` replaces the district's dialect keys (``dialects.SETTING_KEYS``:
    structured values, so not among the settings ``config.DISTRICT_KEYS``), checked
    against the district's spec first; ``values`` are checked against the settings'
    ranges.
    """
    district = home.store.district(slug)
    home.settings.replaced(values)
    settings = {**district.settings, **values}
    if dialect is not None:
        dialect.check(load_spec(district.spec))
        kept = {k: v for k, v in settings.items() if k not in SETTING_KEYS}
        settings = {**kept, **dialect.to_settings()}
    changed = replace(
        district, settings=settings, paused=district.paused if paused is None else paused
    )
    home.store.put_district(changed)
    if district.paused and not changed.paused:
        # Wake the service's watcher: the kept uploads are processed now.
        inbox = home.folder("inbox", slug)
        if inbox.is_dir():
            os.utime(inbox)
    return changed
