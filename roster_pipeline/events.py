"""The event log: what happened, by level, in the database and in ``logs/events.log``.

Errors are always recorded; warnings, info and diagnostic only when the system
setting ``log_levels`` names them (disabled levels are dropped at the source).
The database copy is what ``roster events`` reads and every machine shares; the
file is for log shippers: one JSON object per line, opened for each line so that
logrotate (deploy/roster.logrotate) may move it at any time. Never a password,
token or a student's value: messages name files, lines, counts and codes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roster_pipeline.store import LEVELS, BatchRecord, BatchStatus, EventRecord

if TYPE_CHECKING:
    from roster_pipeline.home import Home


log = logging.getLogger(__name__)

#: The level of the event a batch's end is recorded as, by its status.
_BATCH_LEVELS = {BatchStatus.REJECTED: "error", BatchStatus.HELD: "warning"}


def enabled_levels(log_levels: str) -> tuple[str, ...]:
    """The levels recorded under the setting ``log_levels`` (errors always)."""
    chosen = {part for part in log_levels.split(",") if part}
    return tuple(level for level in LEVELS if level == "error" or level in chosen)


def record(
    home: Home,
    level: str,
    code: str,
    message: str,
    *,
    district: str | None = None,
    batch_id: str | None = None,
    always: bool = False,
    details: Mapping[str, object] | None = None,
) -> bool:
    """Record an event if its level is enabled (or ``always``); whether it was."""
    if not always and level not in enabled_levels(home.settings.system.log_levels):
        return False
    event = EventRecord(
        datetime.now(UTC), level, code, message, district, batch_id, dict(details or {})
    )
    home.store.add_event(event)
    _append(home, event)
    return True


def batch_finished(home: Home, batch: BatchRecord) -> None:
    level = _BATCH_LEVELS.get(batch.status, "info")
    record(home, level, f"batch_{batch.status}", batch.message, district=batch.district,
           batch_id=batch.batch_id, details={"rejects": batch.rejects})  # fmt: skip


def _append(home: Home, event: EventRecord) -> None:
    line = json.dumps({"at": event.at.isoformat(), "level": event.level, "code": event.code,
                       "district": event.district, "batch": event.batch_id,
                       "message": event.message, **event.details}, default=str)  # fmt: skip
    try:
        with home.folder("logs", "events.log").open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    except OSError as exc:  # the database copy is the one that counts
        log.warning("cannot append to %s: %s", home.folder("logs", "events.log"), exc)
