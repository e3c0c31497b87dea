"""Retention: archived raw files and reports older than a district's retention are purged.

Folders go (``archive/<batch>/``, ``failed/<batch>/``), and with them the row
versions (before-images) and reject rows of the same batches; batch records,
the rejects' counts and the change log itself stay in the database. A batch's age is counted from
when it finished (or was received, if it never finished).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from roster_pipeline.errors import UnknownBatchError, UnknownDistrictError
from roster_pipeline.home import Home
from roster_pipeline.store import BatchRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    batch_id: str
    district: str
    folder: str  # archive or failed
    age_days: float


def purge(home: Home, now: datetime | None = None) -> list[Purged]:
    """Delete the expired archive and failed folders; returns what went."""
    now = now or datetime.now(UTC)
    retention: dict[str, float] = {}
    gone = []
    for kind in ("archive", "failed"):
        for folder in sorted(home.folder(kind).glob("*")):
            batch = _batch(home, folder.name)
            if batch is None:
                continue  # not ours to judge: no record says how old it is
            days = _retention_days(home, batch.district, retention)
            age = now - (batch.finished_at or batch.received_at)
            if age > timedelta(days=days):
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(
                    Purged(batch.batch_id, batch.district, kind, age.total_seconds() / 86400)
                )
    for item in gone:
        log.info("purged %s/%s (%.1f days old)", item.folder, item.batch_id, item.age_days)
    _purge_events(home, now)
    _purge_rows(home, now, retention)
    return gone


def _purge_rows(home: Home, now: datetime, retention: dict[str, float]) -> None:
    """Row versions and reject rows go with the archive: a batch older than the
    district's retention can no longer be rolled back (its files could not be
    reprocessed either), and its rejects keep their counts, not their rows."""
    versions = home.store.versions()
    for district in home.store.districts():
        cutoff = now - timedelta(days=_retention_days(home, district.slug, retention))
        spans = versions.purge(district.slug, cutoff)
        rejects = home.store.purge_rejects(district.slug, cutoff)
        if spans or rejects:
            log.info("purged the row versions of %d batch(es) and %d reject row(s) of %s",
                     spans, rejects, district.slug)  # fmt: skip


def _purge_events(home: Home, now: datetime) -> None:
    """Delete the events the purge policy keeps no longer (14, 90 or 365 days)."""
    from roster_pipeline.config import PURGE_DAYS

    days = PURGE_DAYS[home.settings.system.purge_policy]["events"]
    gone = home.store.purge_events(now - timedelta(days=days))
    if gone:
        log.info("purged %d event(s) older than %g days", gone, days)


def _batch(home: Home, batch_id: str) -> BatchRecord | None:
    try:
        return home.store.batch(batch_id)
    except UnknownBatchError:
        return None


def _retention_days(home: Home, district: str, cache: dict[str, float]) -> float:
    if district not in cache:
        settings = home.settings
        with contextlib.suppress(UnknownDistrictError):  # removed: the default applies
            settings = settings.for_district(home.store.district(district).settings)
        cache[district] = settings.service.retention_days
    return cache[district]
