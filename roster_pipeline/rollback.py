"""Rollback: put a district's tables back as they were before an applied batch.

``plan_rollback`` finds what undoing a batch means: the batch's own changes,
and every later batch of the district still applied that changed one of the
same rows (they would be overwritten, so they are named and refused unless
``cascade``, which takes them back first, newest first). ``rollback`` then,
under the district's claim (no batch of the district is applied meanwhile),
replays the before-images in ONE transaction, writes compensating changes to
the change log (the vendor's application reverts too) and marks each batch
``rolled_back``. The district's next batch is held for review: the same files
would otherwise apply the same change again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from roster_pipeline import events
from roster_pipeline.errors import ConflictError
from roster_pipeline.home import Home
from roster_pipeline.store import BatchRecord, BatchStatus, ChangeSpan, worker_name


@dataclass(frozen=True)
class Undone:
    """One batch a rollback takes back, and what that does per table."""

    batch: BatchRecord
    span: ChangeSpan
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # table -> op -> n

    def describe(self) -> str:
        """``users: 3 removed, 2 restored, 1 put back`` (added, updated, deleted undone)."""
        words = {"added": "removed", "updated": "restored", "deleted": "put back"}
        parts = [
            f"{table}: " + ", ".join(f"{n:,} {words[op]}" for op, n in ops.items() if n)
            for table, ops in self.counts.items()
        ]
        return "; ".join(parts) or "no row changes"


@dataclass(frozen=True)
class RollbackPlan:
    district: str
    undone: tuple[Undone, ...]  # newest first


def plan_rollback(
    home: Home, batch_id: str, *, cascade: bool = False, district: str | None = None
) -> RollbackPlan:
    """What rolling back ``batch_id`` takes back; ConflictError when it cannot be."""
    store = home.store
    batch = store.batch(batch_id)
    if district is not None and batch.district != district:
        raise ConflictError(
            f"batch {batch.batch_id} belongs to district {batch.district}, not {district};"
            " nothing was changed"
        )
    _require_applied(batch)
    spans = store.versions().spans(batch.district)
    own = [s for s in spans if s.batch_no == _batch_no(spans, batch) and s.kind != "rollback"]
    if not own:
        raise ConflictError(f"batch {batch.batch_id} changed no rows; there is nothing to undo")
    target = own[-1]
    chosen = [target]
    touched = _keys(home, target)
    blocking = []
    for span in spans:
        if span.span_id <= target.span_id or span.kind == "rollback":
            continue
        if not store.batch(span.batch_id).status.applied:
            continue  # rolled back since: its rows are as the earlier batches left them
        keys = _keys(home, span)
        if keys.join(touched, on=["table_name", "key"], how="semi").height:
            blocking.append(span)
            chosen.append(span)
            touched = pl.concat([touched, keys]).unique()
    if blocking and not cascade:
        names = ", ".join(s.batch_id for s in blocking)
        raise ConflictError(
            f"later batches of {batch.district} changed the same rows: {names}; nothing was"
            " changed. Roll them back first, or add --cascade to roll them back too (newest"
            " first)"
        )
    undone = tuple(Undone(store.batch(s.batch_id), s, _counts(home, s)) for s in reversed(chosen))
    return RollbackPlan(batch.district, undone)


def rollback(
    home: Home, batch_id: str, *, cascade: bool = False, district: str | None = None
) -> RollbackPlan:
    """Roll ``batch_id`` back (with ``cascade``: the later batches in its way first)."""
    plan = plan_rollback(home, batch_id, cascade=cascade, district=district)
    store = home.store
    queue = store.queue(worker_name("rollback"), home.settings.service.claim_seconds)
    queue.claim_district(plan.district, f"a rollback of batch {batch_id}")
    try:
        # Planned again under the claim: a batch applied in between is taken into account.
        plan = plan_rollback(home, batch_id, cascade=cascade, district=district)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        message = (
            f"rolled back {stamp}: its changes were undone and logged as compensating changes;"
            " the district's next batch is held for review"
        )
        store.versions().rollback(plan.district, [u.span for u in plan.undone], message)
    finally:
        queue.release_district(plan.district)
    for undone in plan.undone:
        events.record(home, "warning", "batch_rolled_back", f"rolled back: {undone.describe()}",
                      district=plan.district, batch_id=undone.batch.batch_id)  # fmt: skip
    return plan


def review_reason(home: Home, district: str) -> str:
    """Why the district's next batch must be reviewed: its last write was a rollback."""
    if home.store.versions().last_kind(district) != "rollback":
        return ""
    return (
        f"{district}: the last change to its data was a rollback; this batch may send the"
        " undone change again, so it waits for review"
    )


def _require_applied(batch: BatchRecord) -> None:
    if batch.status == BatchStatus.ROLLED_BACK:
        raise ConflictError(
            f"batch {batch.batch_id} of {batch.district} is already rolled back; nothing was"
            " changed"
        )
    if not batch.status.applied:
        raise ConflictError(
            f"batch {batch.batch_id} of {batch.district} is {batch.status}: it applied nothing,"
            " so there is nothing to roll back; nothing was changed"
        )


def _batch_no(spans: list[ChangeSpan], batch: BatchRecord) -> int:
    return next((s.batch_no for s in spans if s.batch_id == batch.batch_id), -1)


def _keys(home: Home, span: ChangeSpan) -> pl.DataFrame:
    return home.store.versions().changes(span).select("table_name", "key").unique()


def _counts(home: Home, span: ChangeSpan) -> dict[str, dict[str, int]]:
    frame = home.store.versions().changes(span).group_by("table_name", "op").len()
    counts: dict[str, dict[str, int]] = {}
    for table, op, n in frame.sort("table_name", "op").iter_rows():
        counts.setdefault(str(table), {})[str(op)] = int(n)
    return counts
