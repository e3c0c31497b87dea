"""Operator accounts and their console sessions, as rows (store side of ``operators``).

Secrets never reach this module in clear: passwords arrive as argon2 hashes,
session and API tokens as SHA-256 hashes (they are long random strings, so a
fast hash is enough to make a stolen database useless for logging in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from roster_pipeline.store.engine import Engine

_COLUMNS = "name, role, password_hash, token_hash, failures, locked_until, last_login, created_at"


@dataclass(frozen=True)
class OperatorRow:
    name: str
    role: str
    password_hash: str
    token_hash: str | None
    failures: int
    locked_until: datetime | None
    last_login: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class SessionRow:
    operator: str
    csrf: str
    expires_at: datetime


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _operator(row: tuple[object, ...]) -> OperatorRow:
    name, role, pw, token, failures, locked, last, created = row
    return OperatorRow(
        name=str(name),
        role=str(role),
        password_hash=str(pw),
        token_hash=None if token is None else str(token),
        failures=int(str(failures)),
        locked_until=_when(str(locked) if locked else None),
        last_login=_when(str(last) if last else None),
        created_at=datetime.fromisoformat(str(created)),
    )


class Accounts:
    """The operators and operator_sessions tables over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def operators(self) -> list[OperatorRow]:
        return [
            _operator(r)
            for r in self.engine.rows(f"SELECT {_COLUMNS} FROM operators ORDER BY name")
        ]

    def operator(self, name: str) -> OperatorRow | None:
        rows = self.engine.rows(f"SELECT {_COLUMNS} FROM operators WHERE name = ?", (name,))
        return _operator(rows[0]) if rows else None

    def by_token(self, token_hash: str) -> OperatorRow | None:
        rows = self.engine.rows(
            f"SELECT {_COLUMNS} FROM operators WHERE token_hash = ?", (token_hash,)
        )
        return _operator(rows[0]) if rows else None

    def insert(self, row: OperatorRow) -> None:
        with self.engine.transaction():
            self.engine.execute(
                f"INSERT INTO operators ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row.name, row.role, row.password_hash, row.token_hash, row.failures,
                 _iso(row.locked_until), _iso(row.last_login), row.created_at.isoformat()),
            )  # fmt: skip

    def remove(self, name: str) -> None:
        with self.engine.transaction():
            self.engine.execute("DELETE FROM operator_sessions WHERE operator = ?", (name,))
            self.engine.execute("DELETE FROM operators WHERE name = ?", (name,))

    def set_token(self, name: str, token_hash: str) -> None:
        with self.engine.transaction():
            self.engine.execute(
                "UPDATE operators SET token_hash = ? WHERE name = ?", (token_hash, name)
            )

    def set_password(self, name: str, password_hash: str) -> None:
        """A new password also ends the operator's sessions and any lockout."""
        with self.engine.transaction():
            self.engine.execute(
                "UPDATE operators SET password_hash = ?, failures = 0, locked_until = NULL"
                " WHERE name = ?",
                (password_hash, name),
            )
            self.engine.execute("DELETE FROM operator_sessions WHERE operator = ?", (name,))

    def record_failure(self, name: str, failures: int, locked_until: datetime | None) -> None:
        with self.engine.transaction():
            self.engine.execute(
                "UPDATE operators SET failures = ?, locked_until = ? WHERE name = ?",
                (failures, _iso(locked_until), name),
            )

    def record_login(self, name: str, at: datetime) -> None:
        with self.engine.transaction():
            self.engine.execute(
                "UPDATE operators SET failures = 0, locked_until = NULL, last_login = ?"
                " WHERE name = ?",
                (at.isoformat(), name),
            )

    # sessions
    def open_session(self, session_hash: str, operator: str, csrf: str, now: datetime,
                     expires: datetime) -> None:  # fmt: skip
        with self.engine.transaction():
            self.engine.execute(
                "DELETE FROM operator_sessions WHERE expires_at < ?", (now.isoformat(),)
            )
            self.engine.execute(
                "INSERT INTO operator_sessions (session_hash, operator, csrf, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?)",
                (session_hash, operator, csrf, now.isoformat(), expires.isoformat()),
            )

    def session(self, session_hash: str) -> SessionRow | None:
        rows = self.engine.rows(
            "SELECT operator, csrf, expires_at FROM operator_sessions WHERE session_hash = ?",
            (session_hash,),
        )
        if not rows:
            return None
        operator, csrf, expires = rows[0]
        return SessionRow(str(operator), str(csrf), datetime.fromisoformat(str(expires)))

    def close_session(self, session_hash: str) -> None:
        with self.engine.transaction():
            self.engine.execute(
                "DELETE FROM operator_sessions WHERE session_hash = ?", (session_hash,)
            )
