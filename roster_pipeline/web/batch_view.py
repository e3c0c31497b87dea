"""The batch page's data: files, changes per table, rejects by code, reject pages;
and the person and class search across every district."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from roster_pipeline.contracts import rejects as rejects_mod
from roster_pipeline.home import Home
from roster_pipeline.render import locations
from roster_pipeline.render.report import render
from roster_pipeline.render.report_html import CODE_ADVICE
from roster_pipeline.store import BatchRecord, RejectFilter, RejectRow, TableCounts
from roster_pipeline.web.actions import batch_actions
from roster_pipeline.web.models import (
    BatchView,
    Category,
    FileView,
    RejectGroupView,
    RejectPage,
    RejectRowView,
    SearchHit,
    SearchResult,
)
from roster_pipeline.web.overview import review_order

PAGE_SIZE = 100
_SEARCHED = ("users", "classes", "schools")


def archived_files(home: Home, batch_id: str) -> dict[str, Path]:
    """The batch's files as received, by name (a folder that was processed is walked)."""
    found: dict[str, Path] = {}
    for source in home.batch_files(batch_id):
        for path in sorted(source.rglob("*")) if source.is_dir() else [source]:
            if path.is_file() and not path.is_symlink():
                found.setdefault(path.name, path)
    return found


def batch_view(home: Home, batch_id: str) -> BatchView:
    batch = home.store.batch(batch_id)  # UnknownBatchError: a 404
    archived = archived_files(home, batch_id)
    return BatchView(
        batch_id=batch.batch_id,
        district=batch.district,
        status=str(batch.status),
        message=batch.message,
        source=batch.source,
        received_at=batch.received_at,
        finished_at=batch.finished_at,
        files=[
            FileView(
                name=f.name,
                table=f.file_spec,
                size=f.size,
                rows=f.rows,
                rejected=f.rejected,
                sha256=f.sha256,
                archived=f.name in archived,
            )
            for f in batch.files
        ],
        changes=_changes(batch),
        rejects=batch.rejects,
        hold_reasons=list(batch.hold_reasons),
        warnings=list(batch.warnings),
        groups=reject_groups(home, batch),
        actions=batch_actions(batch),
    )


def reject_groups(home: Home, batch: BatchRecord) -> list[RejectGroupView]:
    """The batch's rejects counted by file, code and column, largest first, with advice."""
    pulled = locations.pulled(batch)
    return [
        RejectGroupView(file=g.file, where=locations.where(g.file, None, None, pulled),
                        code=g.code, column=g.column, count=g.count,
                        advice=CODE_ADVICE.get(g.code, ""))
        for g in home.store.console().reject_groups(batch.batch_id)
    ]  # fmt: skip


def _changes(batch: BatchRecord) -> list[Category]:
    shown = [t for t in review_order() if t in batch.counts]
    shown += [t for t in batch.counts if t not in shown]
    return [
        Category(
            table=t, status="rejects" if batch.counts[t].rejected else "ok", loaded=0,
            **vars(batch.counts.get(t, TableCounts())),
        )
        for t in shown
    ]  # fmt: skip


def reject_page(
    home: Home, batch_id: str, where: RejectFilter, after: int = 0, limit: int = PAGE_SIZE
) -> RejectPage:
    """One page of the batch's rejects after ``after`` (a reject id), filtered."""
    batch = home.store.batch(batch_id)  # a 404 for an unknown batch, not an empty page
    console = home.store.console()
    rows = console.reject_page(batch_id, where, after, limit + 1)
    purged = batch.rejects > 0 and not console.reject_page(batch_id, RejectFilter(), 0, 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return RejectPage(
        batch_id=batch_id,
        file=where.file,
        code=where.code,
        column=where.column,
        rows=[_row(r, locations.pulled(batch)) for r in rows],
        next_after=rows[-1].reject_id if more else None,
        purged=purged,
    )


def _row(row: RejectRow, pulled: bool) -> RejectRowView:
    query = locations.query_of(row.file) if pulled else None
    said = locations.message(row.message, row.file, row.line, pulled)
    return RejectRowView(
        **{**vars(row), "message": said}, query=query,
        record=locations.record_of(row.line) if query else None,
        where=locations.where(row.file, row.line, row.key, pulled),
    )  # fmt: skip


def rejects_csv(home: Home, batch_id: str, where: RejectFilter) -> str:
    """The batch's rejects (filtered) as the reject report's CSV: formula cells neutralised."""
    batch = home.store.batch(batch_id)
    frame = home.store.console().rejects_frame(batch_id, where)
    if frame.is_empty():
        frame = rejects_mod.empty().with_columns(key=pl.lit(None, pl.String))
    frame = frame.cast(rejects_mod.SCHEMA).with_columns(pl.col("key").cast(pl.String))  # type: ignore[arg-type]
    return render(batch, frame.select(pl.all()), "csv")


def search(home: Home, query: str, limit: int = 50) -> SearchResult:
    """Users, classes and schools whose ID is ``query`` or whose name holds it."""
    query = query.strip()
    console = home.store.console()
    hits: list[SearchHit] = []
    if query:
        for table in _SEARCHED:
            for row in console.search(table, query, limit):
                district = str(row.pop("district_id"))
                key = next(iter(row))
                hits.append(SearchHit(
                    table=table, district=district, key=str(row[key]),
                    row={k: None if v is None else str(v) for k, v in row.items()},
                ))  # fmt: skip
    return SearchResult(query=query, hits=hits[:limit], timeline=True)
