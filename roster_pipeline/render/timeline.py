"""Timelines: every batch that touched a person or a class, as text or JSON.

What a timeline holds is defined here, with how it is shown; ``history``
(core) fills it from the change log and the rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roster_pipeline.render import locations

_ARROW = "->"


@dataclass(frozen=True)
class Change:
    """One write to a row: what a batch (or the rollback of one) did to it."""

    at: datetime
    batch_id: str
    status: str  # the batch's status now
    table: str
    key: str
    op: str  # added | updated | deleted
    rollback: bool  # a compensating change: the batch was rolled back
    fields: tuple[tuple[str, str | None, str | None], ...] = ()  # (column, old, new)


@dataclass(frozen=True)
class Rejected:
    """A reject of the district's that named the key."""

    at: datetime
    batch_id: str
    file: str
    line: int | None
    column: str
    code: str
    message: str
    own: bool = False  # a version of the row itself: the one loaded before stayed
    key: str | None = None  # the key of the row it kept out
    pulled: bool = False  # of a pulled batch: named by query, record and key

    @property
    def where(self) -> str:
        return locations.where(self.file, self.line, self.key, self.pulled)

    @property
    def said(self) -> str:
        return locations.message(self.message, self.file, self.line, self.pulled)


@dataclass(frozen=True)
class Timeline:
    district: str
    table: str
    key: str
    current: dict[str, str | None] | None  # the loaded row; None when not loaded
    changes: tuple[Change, ...] = ()
    rejects: tuple[Rejected, ...] = ()
    found_by: str = ""  # the name fragment that led here, and what it matched


def _value(value: str | None) -> str:
    return "(empty)" if value is None or value == "" else value


def _what(change: Change) -> str:
    row = (
        change.table
        if change.table in {"users", "classes", "schools"}
        else f"{change.table} {change.key}"
    )
    verb = f"{change.op} (rollback of this batch)" if change.rollback else change.op
    fields = "; ".join(
        f"{c}: {_value(old)} {_ARROW} {_value(new)}" for c, old, new in change.fields
    )
    if change.op == "deleted" or not fields:
        return f"{row} {verb}"
    return f"{row} {verb}: {fields}"


def render_text(timeline: Timeline) -> str:
    """One line per change and reject, oldest first, then the row as loaded now."""
    lines = [f"{timeline.table} {timeline.key} of {timeline.district}"]
    if timeline.found_by:
        lines[0] += f" (found by name: {timeline.found_by})"
    events: list[tuple[datetime, str]] = [
        (c.at, f"{c.at:%Y-%m-%d %H:%M}  {c.batch_id}  {_what(c)}") for c in timeline.changes
    ]
    events += [
        (r.at, f"{r.at:%Y-%m-%d %H:%M}  {r.batch_id}  "
               + ("its row rejected, the version loaded before stays: " if r.own else "rejected: ")
               + f"{r.where} {r.column} [{r.code}] {r.said}")
        for r in timeline.rejects
    ]  # fmt: skip
    events.sort(key=lambda e: e[0])
    lines += [text for _, text in events] or ["no batch has changed it"]
    if timeline.current is None:
        lines.append("now: not loaded")
    else:
        shown = ", ".join(f"{c}={_value(v)}" for c, v in timeline.current.items())
        lines.append(f"now: {shown}")
    return "\n".join(lines) + "\n"


def to_json(timeline: Timeline) -> dict[str, Any]:
    return {
        "district": timeline.district,
        "table": timeline.table,
        "key": timeline.key,
        "found_by": timeline.found_by or None,
        "current": timeline.current,
        "changes": [
            {"at": c.at.isoformat(), "batch_id": c.batch_id, "batch_status": c.status,
             "table": c.table, "key": c.key, "op": c.op, "rollback": c.rollback,
             "fields": [{"column": f, "old": o, "new": n} for f, o, n in c.fields]}
            for c in timeline.changes
        ],
        "rejects": [
            {"at": r.at.isoformat(), "batch_id": r.batch_id, "file": r.file, "line": r.line,
             "where": r.where, "column": r.column, "code": r.code, "message": r.said,
             "kept_loaded": r.own}
            for r in timeline.rejects
        ],
    }  # fmt: skip
