"""The store's system settings and event log: small tables, written row by row.

Times are ISO 8601 in UTC, so they sort as text on both engines. A setting's value
is kept as JSON text: the typed settings model validates it when it is read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from roster_pipeline.store.records import EventRecord, StoredSetting

if TYPE_CHECKING:
    from roster_pipeline.store.engine import Engine


class SystemRows:
    """Mixed into SqlStore: the rows of ``system_settings`` and ``events``."""

    engine: Engine

    # system settings
    def system_settings(self) -> dict[str, StoredSetting]:
        rows = self.engine.rows(
            'SELECT "key", "value", updated_at, updated_by FROM system_settings ORDER BY "key"'
        )
        return {
            k: StoredSetting(k, json.loads(v), datetime.fromisoformat(at), by)
            for k, v, at, by in rows
        }

    def put_system_setting(self, key: str, value: object, by: str) -> None:
        now = datetime.now(UTC).isoformat()
        self.engine.execute(
            'INSERT INTO system_settings ("key", "value", updated_at, updated_by)'
            ' VALUES (?, ?, ?, ?) ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value",'
            " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            (key, json.dumps(value), now, by),
        )

    def clear_system_settings(self, keys: Sequence[str]) -> None:
        if keys:
            marks = ", ".join("?" for _ in keys)
            self.engine.execute(f'DELETE FROM system_settings WHERE "key" IN ({marks})', keys)

    # events
    def add_event(self, event: EventRecord) -> None:
        self.engine.execute(
            "INSERT INTO events (at, level, district_id, batch_id, code, message, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event.at.astimezone(UTC).isoformat(), event.level, event.district, event.batch_id,
             event.code, event.message, json.dumps(dict(event.details), default=str)),
        )  # fmt: skip

    def events(
        self,
        district: str | None = None,
        levels: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[EventRecord]:
        """Newest first; ``levels`` empty: every level."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if district is not None:
            where.append("district_id = ?")
            params.append(district)
        if levels:
            where.append(f"level IN ({', '.join('?' for _ in levels)})")
            params += list(levels)
        if since is not None:
            where.append("at >= ?")
            params.append(since.astimezone(UTC).isoformat())
        rows = self.engine.rows(
            "SELECT event_id, at, level, district_id, batch_id, code, message, details"
            f" FROM events WHERE {' AND '.join(where)} ORDER BY at DESC, event_id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            EventRecord(datetime.fromisoformat(at), level, code, message, district_id, batch,
                        json.loads(details), int(event_id))
            for event_id, at, level, district_id, batch, code, message, details in rows
        ]  # fmt: skip

    def purge_events(self, before: datetime) -> int:
        """Delete the events older than ``before``; how many went."""
        cutoff = before.astimezone(UTC).isoformat()
        count = int(self.engine.rows("SELECT COUNT(*) FROM events WHERE at < ?", (cutoff,))[0][0])
        self.engine.execute("DELETE FROM events WHERE at < ?", (cutoff,))
        return count
