"""`roster status`: per district, what arrived, what is loaded, and what needs a person.

A district needs attention when it is STALE (no upload within its
``expect_every_hours``, default 26; disabled and paused districts are never
stale: the rule is ``freshness``'s), when a batch of it is held, or when its
latest batch was rejected. ``exit_code`` is 1 then, so a monitor can run the
command.

The service's stale alarm asks ``stale`` instead: the same rule over a few
set-wide reads, rather than several reads and an inbox scan per district.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from roster_pipeline.freshness import Freshness, freshness
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
    waiting = _arrived(home, district.slug)
    received = [latest.received_at if latest else None, home.store.last_upload(district.slug)]
    fresh = freshness(district, [*received, *waiting], home.settings, now)
    held = tuple(b.batch_id for b in history if b.status == BatchStatus.HELD)
    return DistrictStatus(
        district=district.slug,
        paused=district.paused,
        last_upload=fresh.last_upload,
        latest_batch=latest.batch_id if latest else None,
        latest_status=str(latest.status) if latest else None,
        last_loaded_batch=loaded.batch_id if loaded else None,
        last_loaded_at=(loaded.finished_at or loaded.received_at) if loaded else None,
        rows=home.store.table_counts(district.slug),
        held=held,
        waiting_files=len(waiting),
        stale=fresh.stale,
        problems=_problems(fresh, held, latest),
    )


def _problems(
    fresh: Freshness, held: tuple[str, ...], latest: BatchRecord | None
) -> tuple[str, ...]:
    found = []
    if fresh.stale:
        hours = fresh.expect.total_seconds() / 3600
        found.append(f"STALE: no upload in the last {hours:g} hours")
    if held:
        found.append(f"{len(held)} batch(es) held for approval")
    if latest is not None and latest.status == BatchStatus.REJECTED:
        found.append(f"latest batch {latest.batch_id} was rejected")
    return tuple(found)


def overview(home: Home, now: datetime | None = None) -> list[DistrictStatus]:
    now = now or datetime.now(UTC)
    return [district_status(home, d, now) for d in home.store.districts()]


def stale(home: Home, now: datetime | None = None) -> dict[str, datetime | None]:
    """The stale districts, each with its last upload (None: it never sent anything).

    A handful of set-wide reads whatever the number of districts: the service
    asks this every minute while workers load. Files that arrived but are not a
    batch yet count as received, as in `roster status`; only a district the
    database says is stale gets its inbox looked at."""
    now = now or datetime.now(UTC)
    console = home.store.console()
    latest, uploads = console.latest_batches(), console.last_uploads()
    found = {}
    for d in console.districts():
        batch = latest.get(d.slug)
        received = [uploads.get(d.slug), batch.received_at if batch else None]
        fresh = freshness(d, received, home.settings, now)
        if fresh.stale:
            received += _arrived(home, d.slug)
            fresh = freshness(d, received, home.settings, now)
        if fresh.stale:
            found[d.slug] = fresh.last_upload
    return found


def _arrived(home: Home, district: str) -> list[datetime | None]:
    """When each complete file waiting in the district's inbox arrived."""
    return [
        datetime.fromtimestamp(a.arrived, UTC)
        for a in batches.arrivals(home.folder("inbox", district))
    ]


def exit_code(found: list[DistrictStatus]) -> int:
    return 1 if any(s.problems for s in found) else 0
