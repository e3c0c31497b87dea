"""The overview and district pages' data: each district's status, worst first.

A district's status, worst first: ``held`` (a batch waits for ops), ``rejected``
(its latest batch loaded nothing), ``stale`` (nothing received within its
``expect_every_hours``), ``never received``, then the quiet ones: ``paused``,
``disabled``, ``ok``. Disabled and paused districts are never stale.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from roster_pipeline.contracts.dialects import CsvDialect
from roster_pipeline.districts import connection_info
from roster_pipeline.freshness import freshness
from roster_pipeline.home import Home
from roster_pipeline.store import (
    BatchRecord,
    BatchStatus,
    Console,
    DistrictFacts,
    DistrictRecord,
    LatestBatch,
    RecentBatch,
    TableCounts,
)
from roster_pipeline.web.models import (
    STATES,
    BatchLine,
    Category,
    DistrictSummary,
    DistrictView,
    Overview,
    SftpAccount,
)
from roster_pipeline.web.security import account_events, upload_views

CHART_DAYS = 14
PAGE = 100  # districts per overview page
_HISTORY = 60
_REVIEW = ("schools", "users", "classes")  # then any other table, enrollments last


def review_order() -> list[str]:
    """The roster tables in the order ops review them: what others depend on first."""
    tables = Console.roster_tables()
    middle = [t for t in tables if t not in (*_REVIEW, "enrollments")]
    return [*(t for t in _REVIEW if t in tables), *middle, "enrollments"]


def _state(d: DistrictFacts, latest: LatestBatch | None, held: int, stale: bool) -> str:
    if held:
        return "held"
    if latest is not None and latest.status == BatchStatus.REJECTED:
        return "rejected"
    if not d.enabled:
        return "disabled"
    if d.paused:
        return "paused"
    if stale:
        return "stale"
    return "ok" if latest is not None else "never received"


def _summary(
    home: Home,
    d: DistrictFacts,
    facts: tuple[LatestBatch | None, int, datetime | None, list[RecentBatch]],
    now: datetime,
) -> DistrictSummary:
    latest, held, upload, recent = facts
    fresh = freshness(d, (upload, latest.received_at if latest else None), home.settings, now)
    # Unvalidated: every value is typed already, and a thousand validations cost
    # a tenth of the overview's time.
    return DistrictSummary.model_construct(
        slug=d.slug,
        name=d.name,
        status=_state(d, latest, held, fresh.stale),
        enabled=d.enabled,
        paused=d.paused,
        last_batch=latest.batch_id if latest else None,
        last_batch_status=latest.status if latest else None,
        last_batch_at=latest.received_at if latest else None,
        last_batch_rejects=latest.rejects if latest else None,
        last_upload=fresh.last_upload,
        next_expected=fresh.next_expected,
        held=held,
        recent=[(b.rows, b.rejects) for b in recent],
    )


def overview(
    home: Home,
    status: str = "",
    query: str = "",
    now: datetime | None = None,
    page: tuple[int, int] = (0, PAGE),
) -> Overview:
    """The districts (filtered by status and a name fragment), worst first; ``page`` is
    (offset, limit) into them. Counts by status are over every district."""
    now = now or datetime.now(UTC)
    console = home.store.console()
    latest, held, uploads = console.latest_batches(), console.held_counts(), console.last_uploads()
    everyone = [
        _summary(home, d, (latest.get(d.slug), held.get(d.slug, 0), uploads.get(d.slug), []), now)
        for d in console.districts()
    ]
    by_status = {s: sum(1 for d in everyone if d.status == s) for s in STATES}
    needle = query.strip().lower()
    shown = [
        d
        for d in everyone
        if (not status or d.status == status)
        and (not needle or needle in d.slug.lower() or needle in d.name.lower())
    ]
    shown.sort(key=lambda d: (STATES.index(d.status), d.slug))
    offset, limit = page
    chosen = shown[offset : offset + limit]
    # The charts only for the districts shown: a page's worth, not every district's.
    recent: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for b in console.recent_batches(now - timedelta(days=CHART_DAYS), [d.slug for d in chosen]):
        recent[b.district].append((b.rows, b.rejects))
    for d in chosen:
        d.recent = recent[d.slug]
    return Overview(
        generated_at=now,
        total=len(everyone),
        matched=len(shown),
        offset=offset,
        by_status=by_status,
        districts=chosen,
    )


def _categories(home: Home, slug: str, batch: BatchRecord | None) -> list[Category]:
    loaded = home.store.table_counts(slug)
    found = []
    for table in review_order():
        counts = batch.counts.get(table) if batch else None
        found.append(
            Category(
                table=table,
                status=_category_state(table, batch, counts),  # type: ignore[arg-type]
                loaded=loaded.get(table, 0),
                **vars(counts or TableCounts()),
            )
        )
    return found


def _category_state(table: str, batch: BatchRecord | None, counts: TableCounts | None) -> str:
    if batch is None:
        return "not in batch"
    if batch.status == BatchStatus.REJECTED:
        return "rejected"
    if batch.status == BatchStatus.HELD and any(table in r for r in batch.hold_reasons):
        return "held"
    if counts is None:
        return "not in batch"
    return "rejects" if counts.rejected else "ok"


def district_view(home: Home, slug: str, now: datetime | None = None) -> DistrictView:
    """One district: its categories in review order, history, SFTP account, dialect."""
    now = now or datetime.now(UTC)
    record = home.store.district(slug)  # UnknownDistrictError: a 404
    console = home.store.console()
    history = console.history(slug, _HISTORY)
    recent = console.recent_batches(now - timedelta(days=CHART_DAYS), [slug])
    latest = history[0][0] if history else None
    held = console.held_counts().get(slug, 0)
    facts = DistrictFacts(record.slug, record.name, record.enabled, record.paused,
                          dict(record.settings), record.created_at)  # fmt: skip
    summary = _summary(home, facts, (latest, held, home.store.last_upload(slug), recent), now)
    return DistrictView(
        summary=summary,
        spec=record.spec,
        categories=_categories(home, slug, home.store.batch(latest.batch_id) if latest else None),
        history=[
            BatchLine(
                batch_id=b.batch_id,
                status=b.status,
                received_at=b.received_at,
                finished_at=b.finished_at,
                rows=rows,
                rejects=b.rejects,
            )
            for b, rows in history
        ],
        account=_account(home, record),
        dialect=_dialect(record),
        thresholds=_thresholds(home, record),
        uploads=upload_views(home, 20, slug),
    )


def _thresholds(home: Home, record: DistrictRecord) -> dict[str, float]:
    """The district's effective hold thresholds and timing (its own, else the deployment's)."""
    own = home.settings.for_district(record.settings)
    return {
        "max_delete_pct": own.holds.max_delete_pct,
        "max_update_pct": own.holds.max_update_pct,
        "expect_every_hours": own.service.expect_every_hours,
        "settle_seconds": own.service.settle_seconds,
    }


def _dialect(record: DistrictRecord) -> dict[str, str]:
    dialect = CsvDialect.from_settings(record.settings)
    shown = {"encoding": dialect.encoding}
    shown.update({k: json.dumps(v) for k, v in dialect.to_settings().items() if k != "encoding"})
    return shown


def _account(home: Home, record: DistrictRecord) -> SftpAccount:
    info = connection_info(home.settings, record)
    events = account_events(home, record.username)
    logins = [e for e in events if e.event == "auth_ok"]
    return SftpAccount(
        username=record.username,
        authentication=list(info["authentication"]),
        key_fingerprints=[k["fingerprint"] for k in info["public_keys"]],
        allow_ips=list(record.allow_ips),
        last_login=logins[0].ts if logins else None,
        recent_failures=sum(1 for e in events if e.event == "auth_fail"),
        recent_bans=sum(1 for e in events if e.event == "banned"),
        recent=events[:20],
    )
