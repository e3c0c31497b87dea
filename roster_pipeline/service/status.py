"""`roster status`: per district, what arrived, what is loaded, and what needs a person.

A district needs attention when it is STALE (no upload within its
``expect_every_hours``, default 26; paused districts are never stale), when a
batch of it is held, or when its latest batch was rejected. ``exit_code`` is 1
then, so a monitor can run the command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from roster_pipeline.home import Home
from roster_pipeline.service import batches
from roster_pipeline.store import BatchRecord, BatchStatus, DistrictRecord

_HISTORY = 200  # batches looked at per district for held ones


@dataclass(frozen=True)
class DistrictStatus:
    district: str
    paused: bool
    last_upload: datetime | None
    latest_batch: str | None
    latest_status: str | None
    last_loaded_batch: str | None
    last_loaded_at: datetime | None
    rows: dict[str, int]
    held: tuple[str, ...]
    waiting_files: int  # complete files in the inbox, not yet a batch
    stale: bool
    problems: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        data = dict(vars(self))
        for key in ("last_upload", "last_loaded_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        data["held"] = list(self.held)
        data["problems"] = list(self.problems)
        return data


def district_status(home: Home, district: DistrictRecord, now: datetime) -> DistrictStatus:
    history = home.store.batches(district.slug, _HISTORY)
    latest = history[0] if history else None
    loaded = next((b for b in history if b.status.applied), None)
    waiting = batches.arrivals(home.folder("inbox", district.slug))
    uploads = [b.received_at for b in history[:1]]
    uploads += [u for u in (home.store.last_upload(district.slug),) if u is not None]
    uploads += [datetime.fromtimestamp(a.arrived, UTC) for a in waiting]
    last_upload = max(uploads) if uploads else None
    hours = home.settings.for_district(district.settings).service.expect_every_hours
    expect = timedelta(hours=hours)
    since = last_upload or district.created_at or now
    stale = not district.paused and now - since > expect
    held = tuple(b.batch_id for b in history if b.status == BatchStatus.HELD)
    return DistrictStatus(
        district=district.slug,
        paused=district.paused,
        last_upload=last_upload,
        latest_batch=latest.batch_id if latest else None,
        latest_status=str(latest.status) if latest else None,
        last_loaded_batch=loaded.batch_id if loaded else None,
        last_loaded_at=(loaded.finished_at or loaded.received_at) if loaded else None,
        rows=home.store.table_counts(district.slug),
        held=held,
        waiting_files=len(waiting),
        stale=stale,
        problems=_problems(stale, held, latest, expect),
    )


def _problems(
    stale: bool, held: tuple[str, ...], latest: BatchRecord | None, expect: timedelta
) -> tuple[str, ...]:
    found = []
    if stale:
        found.append(f"STALE: no upload in the last {expect.total_seconds() / 3600:g} hours")
    if held:
        found.append(f"{len(held)} batch(es) held for approval")
    if latest is not None and latest.status == BatchStatus.REJECTED:
        found.append(f"latest batch {latest.batch_id} was rejected")
    return tuple(found)


def overview(home: Home, now: datetime | None = None) -> list[DistrictStatus]:
    now = now or datetime.now(UTC)
    return [district_status(home, d, now) for d in home.store.districts()]


def exit_code(found: list[DistrictStatus]) -> int:
    return 1 if any(s.problems for s in found) else 0
