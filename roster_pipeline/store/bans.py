"""Receiver bans in the database: every receiver reads them, so a ban (or a lift) is shared.

Times are ``time.time()`` seconds, as the receiver keeps them; a ban that ended
is ignored and overwritten by the next one for the same address.
"""

from __future__ import annotations

from datetime import UTC, datetime

from roster_pipeline.store.queue import Sql
from roster_pipeline.store.records import BanRecord


def active_bans(sql: Sql, now: float) -> list[BanRecord]:
    """Bans that end after ``now``, soonest first."""
    rows = sql.rows(
        "SELECT address, until_ts, reason, banned_at FROM sftp_bans WHERE until_ts > ?"
        " ORDER BY until_ts, address",
        (now,),
    )
    return [
        BanRecord(
            address=str(address),
            until=datetime.fromtimestamp(float(until), UTC),
            reason=str(reason),
            banned_at=datetime.fromisoformat(str(banned_at)),
        )
        for address, until, reason, banned_at in rows
    ]


def add_ban(sql: Sql, address: str, until: float, reason: str) -> None:
    """Ban ``address`` until ``until``; a ban already ending later stays as it is."""
    sql.execute(
        "INSERT INTO sftp_bans (address, until_ts, reason, banned_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (address) DO UPDATE SET until_ts = excluded.until_ts,"
        " reason = excluded.reason, banned_at = excluded.banned_at"
        " WHERE sftp_bans.until_ts < excluded.until_ts",
        (address, until, reason, datetime.now(UTC).isoformat()),
    )


def lift_ban(sql: Sql, address: str, now: float) -> bool:
    """End the ban of ``address``; False when it had none in force."""
    found = sql.rows("SELECT 1 FROM sftp_bans WHERE address = ? AND until_ts > ?", (address, now))
    sql.execute("DELETE FROM sftp_bans WHERE address = ?", (address,))
    return bool(found)
