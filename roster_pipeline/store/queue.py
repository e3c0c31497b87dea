"""Batch claims: which worker processes which batch, decided by the database.

The same code serves one SQLite process and several PostgreSQL workers. A batch
row is claimable when its status is ``received`` (or ``processing`` with an
expired claim: its worker died) and it is the oldest unfinished batch of its
district, so one district's batches are applied in arrival order while other
districts proceed in parallel. Claiming is one short write transaction:
``BEGIN IMMEDIATE`` on SQLite (the write lock is taken before reading, so two
processes never pick the same row), ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.

A claim names its holder (``host:pid:role``) and expires; the holder renews it
while it works. The assembler holds a fresh ``received`` row the same way
while it moves the files in, so no worker starts on a half-assembled folder.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from roster_pipeline.errors import ConflictError
from roster_pipeline.store.records import UNFINISHED, BatchRecord, sql_list
from roster_pipeline.store.rows import BATCH_COLUMNS, batch_to_row

_PENDING = sql_list(UNFINISHED)
_OLDER_PENDING = (
    "SELECT 1 FROM batches o WHERE o.district_id = b.district_id"
    f" AND o.status IN {_PENDING} AND (o.received_at < b.received_at"
    " OR (o.received_at = b.received_at AND o.batch_id < b.batch_id))"
)
#: A district whose rows someone else is changing (a rollback): none of its batches starts.
_DISTRICT_HELD = (
    "SELECT 1 FROM district_claims c WHERE c.district_id = b.district_id AND c.claim_expires >= ?"
)
_CANDIDATE = (
    "SELECT b.batch_id FROM batches b"
    f" WHERE b.status IN {_PENDING}"
    " AND (b.claim_expires IS NULL OR b.claim_expires < ?)"
    f" AND NOT EXISTS ({_OLDER_PENDING}) AND NOT EXISTS ({_DISTRICT_HELD})"
    " ORDER BY b.received_at, b.batch_id LIMIT 1"
)


class _Dialect(Protocol):
    @property
    def name(self) -> str: ...


class Sql(Protocol):
    """What the queue needs of a connection (the store's Engine)."""

    @property
    def dialect(self) -> _Dialect: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def transaction(self, begin: str = "BEGIN") -> AbstractContextManager[None]: ...


@dataclass(frozen=True)
class Claim:
    batch_id: str
    district: str
    attempts: int  # this claim included


def worker_name(role: str) -> str:
    """``host:pid:role``: who holds a claim, and how to tell whether it is alive."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stamp(when: datetime) -> str:
    # Fixed width, so text comparison in SQL is time comparison.
    return when.astimezone(UTC).isoformat(timespec="microseconds")


class BatchQueue:
    """Claims on batch rows for one holder over one connection."""

    def __init__(self, sql: Sql, holder: str, claim_seconds: float = 300.0) -> None:
        self.sql = sql
        self.holder = holder
        self.claim_seconds = claim_seconds

    def _expiry(self, now: datetime | None = None) -> str:
        return _stamp((now or datetime.now(UTC)) + timedelta(seconds=self.claim_seconds))

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A write transaction that takes the lock before it reads (see module doc)."""
        begin = "BEGIN IMMEDIATE" if self.sql.dialect.name == "sqlite" else "BEGIN"
        with self.sql.transaction(begin):
            yield

    def receive(self, batch: BatchRecord) -> None:
        """Insert a ``received`` batch row held by this holder (the assembler), in one
        statement: no worker can see it before the claim that keeps it away."""
        columns = (*BATCH_COLUMNS, "claimed_by", "claim_expires")
        marks = ", ".join("?" for _ in columns)
        self.sql.execute(
            f"INSERT INTO batches ({', '.join(columns)}) VALUES ({marks})",
            (*batch_to_row(batch), self.holder, self._expiry()),
        )

    def release(self, batch_id: str) -> None:
        """Hand an assembled ``received`` batch to the workers."""
        self.sql.execute(
            "UPDATE batches SET claimed_by = NULL, claim_expires = NULL"
            " WHERE batch_id = ? AND status = 'received'",
            (batch_id,),
        )

    def claim(self, now: datetime | None = None) -> Claim | None:
        """Claim the oldest claimable batch, or None when there is none."""
        now = now or datetime.now(UTC)
        lock = " FOR UPDATE OF b SKIP LOCKED" if self.sql.dialect.name == "postgresql" else ""
        stamps = (_stamp(now), _stamp(now))
        if not self.sql.rows(_CANDIDATE, stamps):
            return None  # the common case, answered without taking the write lock
        with self._write():
            found = self.sql.rows(_CANDIDATE + lock, stamps)
            if not found:
                return None
            batch_id = str(found[0][0])
            self.sql.execute(
                "UPDATE batches SET status = 'processing', claimed_by = ?, claim_expires = ?,"
                " attempts = attempts + 1 WHERE batch_id = ?",
                (self.holder, self._expiry(now), batch_id),
            )
            district, attempts = self.sql.rows(
                "SELECT district_id, attempts FROM batches WHERE batch_id = ?", (batch_id,)
            )[0]
        return Claim(batch_id, str(district), int(attempts))

    def renew(self, batch_id: str) -> None:
        """Extend this holder's claim; a no-op when the claim is no longer ours."""
        self.sql.execute(
            "UPDATE batches SET claim_expires = ? WHERE batch_id = ? AND claimed_by = ?"
            f" AND status IN {_PENDING}",
            (self._expiry(), batch_id, self.holder),
        )

    def requeue(self, batch_id: str) -> None:
        """Give a claimed batch back (a transient failure): another try comes later."""
        self.sql.execute(
            "UPDATE batches SET status = 'received', claimed_by = NULL, claim_expires = NULL"
            " WHERE batch_id = ? AND status = 'processing'",
            (batch_id,),
        )

    def release_dead(self, alive: Callable[[int], bool] = process_alive) -> list[str]:
        """Free the claims of processes of this host that no longer run (a crash, kill -9)."""
        host = self.holder.split(":", 1)[0]
        rows = self.sql.rows(
            f"SELECT batch_id, claimed_by FROM batches WHERE status IN {_PENDING}"
            " AND claimed_by LIKE ?",
            (f"{host}:%",),
        )
        dead = [str(b) for b, holder in rows if (pid := _pid(str(holder))) and not alive(pid)]
        for batch_id in dead:
            self.sql.execute(
                "UPDATE batches SET status = 'received', claimed_by = NULL, claim_expires = NULL"
                f" WHERE batch_id = ? AND status IN {_PENDING}",
                (batch_id,),
            )
        for district, holder in self.sql.rows(
            "SELECT district_id, claimed_by FROM district_claims WHERE claimed_by LIKE ?",
            (f"{host}:%",),
        ):
            if (pid := _pid(str(holder))) and not alive(pid):
                self.sql.execute(
                    "DELETE FROM district_claims WHERE district_id = ? AND claimed_by = ?",
                    (district, holder),
                )
        return dead

    def claim_district(self, district: str, purpose: str) -> None:
        """Hold every batch of ``district`` back while this holder changes its rows.

        Refused (ConflictError, nothing held) while one of its batches is being
        processed by a live worker, or another holder has the district."""
        now = datetime.now(UTC)
        with self._write():
            self._free_dead_districts(district, now)
            busy = self.sql.rows(
                "SELECT claimed_by, purpose FROM district_claims WHERE district_id = ?", (district,)
            )
            if busy:
                raise ConflictError(
                    f"district {district} is busy: {busy[0][0]} is doing {busy[0][1]}; nothing was"
                    " changed, try again when it is done"
                )
            working = self.sql.rows(
                "SELECT batch_id, claimed_by FROM batches WHERE district_id = ?"
                " AND status = 'processing' AND claim_expires >= ?",
                (district, _stamp(now)),
            )
            if working:
                raise ConflictError(
                    f"batch {working[0][0]} of district {district} is being processed by"
                    f" {working[0][1]}; nothing was changed, try again when it has finished"
                )
            self.sql.execute(
                "INSERT INTO district_claims (district_id, claimed_by, claim_expires, purpose)"
                " VALUES (?, ?, ?, ?)",
                (district, self.holder, self._expiry(now), purpose),
            )

    def _free_dead_districts(self, district: str, now: datetime) -> None:
        """Drop the district's claim when it expired or its holder on this host is dead."""
        self.sql.execute(
            "DELETE FROM district_claims WHERE district_id = ? AND claim_expires < ?",
            (district, _stamp(now)),
        )
        host = self.holder.split(":", 1)[0]
        for (holder,) in self.sql.rows(
            "SELECT claimed_by FROM district_claims WHERE district_id = ?", (district,)
        ):
            pid = _pid(str(holder))
            if str(holder).startswith(f"{host}:") and pid and not process_alive(pid):
                self.sql.execute("DELETE FROM district_claims WHERE district_id = ?", (district,))

    def renew_district(self, district: str) -> bool:
        """Extend this holder's claim on ``district``; False when it is no longer ours
        (it lapsed and another holder took the district)."""
        self.sql.execute(
            "UPDATE district_claims SET claim_expires = ? WHERE district_id = ? AND claimed_by = ?",
            (self._expiry(), district, self.holder),
        )
        # Gone stays gone: nothing but claim_district inserts a claim.
        return bool(self.sql.rows(
            "SELECT 1 FROM district_claims WHERE district_id = ? AND claimed_by = ?",
            (district, self.holder),
        ))  # fmt: skip

    def release_district(self, district: str) -> None:
        """Let the district's batches be applied again."""
        self.sql.execute(
            "DELETE FROM district_claims WHERE district_id = ? AND claimed_by = ?",
            (district, self.holder),
        )

    def pending(self) -> int:
        """Batches received or processing, all districts."""
        return int(self.sql.rows(f"SELECT COUNT(*) FROM batches WHERE status IN {_PENDING}")[0][0])


def _pid(holder: str) -> int | None:
    parts = holder.split(":")
    try:
        pid = int(parts[1])
    except (IndexError, ValueError):
        return None  # not a holder name we wrote: not ours to judge
    return pid if pid > 0 else None
