"""What ops do by hand: approve, discard or reprocess a batch; tune a district.

``approve`` plans a held batch again against what is loaded now, with the
thresholds lifted, and applies it under the same batch id (held → approved →
loaded). ``discard`` marks a held batch discarded; nothing is applied.
``reprocess`` runs a finished batch's archived raw files again as a new batch.
``rollback`` undoes an applied batch (``rollback.py``). ``change_contract`` moves a
district to another contract (spec) from its next batch on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from roster_pipeline import events, pipeline
from roster_pipeline import rollback as rollback_mod
from roster_pipeline.contracts.dialects import SETTING_KEYS, CsvDialect
from roster_pipeline.contracts.specs import available_specs, load_spec
from roster_pipeline.errors import ConflictError, TerminalError
from roster_pipeline.home import Home
from roster_pipeline.progress import Progress, no_progress
from roster_pipeline.pulls import PULL_SPEC
from roster_pipeline.sources import SourceConfig
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


def change_contract(home: Home, slug: str, contract: str) -> tuple[DistrictRecord, str]:
    """(the district on ``contract``, the contract it leaves). Refused for an unknown
    contract, while a batch of the district is held (approving it would read its files
    with the new contract), when the district's file settings or pull source do not fit
    the new contract. The loaded rows stay; the next batch is read with ``contract``."""
    record = home.store.district(slug)
    known = available_specs()
    if contract not in known:
        raise TerminalError(
            f"district {slug}: there is no contract {contract!r} (known: {', '.join(known)});"
            f" the district stays on {record.spec}"
        )
    if contract == record.spec:
        return record, record.spec
    held = [b.batch_id for b in home.store.batches(slug, 10_000) if b.status == BatchStatus.HELD]
    if held:
        raise ConflictError(
            f"district {slug} has a held batch ({', '.join(held)}), read with {record.spec}:"
            f" approve or discard it first (roster batch approve|discard ID); the district"
            f" stays on {record.spec}"
        )
    if SourceConfig.of(record.settings).pulls and contract != PULL_SPEC:
        raise ConflictError(
            f"district {slug} pulls from its SIS, which writes {PULL_SPEC} files: set its"
            f" source to sftp first; the district stays on {record.spec}"
        )
    try:
        CsvDialect.from_settings(record.settings).check(load_spec(contract))
    except TerminalError as exc:
        raise ConflictError(
            f"district {slug}: its file settings do not fit {contract} ({exc}): change them"
            f" with roster district set {slug} first; the district stays on {record.spec}"
        ) from None
    changed = replace(record, spec=contract)
    home.store.put_district(changed)
    events.record(home, "info", "district_contract_changed",
                  f"district {slug}: contract {record.spec} -> {contract}", district=slug,
                  always=True, details={"before": record.spec, "after": contract})  # fmt: skip
    return changed, record.spec
