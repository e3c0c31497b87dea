"""Operators: the people who use the ops console, their roles, logins and tokens.

Roles are ranked: a viewer reads; an operator also acts on batches and pauses
districts; an admin also manages districts and operators. Passwords are argon2id
(as districts' SFTP passwords are) and shown once. After ``LOCK_AFTER`` wrong
passwords in a row an account is locked for ``LOCK_FOR``, right password or not.
A login opens a session: a random token for the cookie and one for CSRF; the
database keeps a hash of the first. Each operator may hold one API token.
Every action is written to ``logs/audit.log`` with the operator's name.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from roster_pipeline.errors import AccessError, ConflictError, NotFoundError, TerminalError
from roster_pipeline.home import Home
from roster_pipeline.store import Accounts, OperatorRow
from sftp_server import AuditLog

LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
SESSION_FOR = timedelta(hours=12)
_NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper()]
        except KeyError:
            raise TerminalError(f"role must be viewer, operator or admin, not {text!r}") from None


@dataclass(frozen=True)
class Login:
    """A console session just opened: ``token`` goes in the cookie, ``csrf`` in every form."""

    operator: str
    role: Role
    token: str
    csrf: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _accounts(home: Home) -> Accounts:
    return home.store.accounts()


def operators(home: Home) -> list[OperatorRow]:
    return _accounts(home).operators()


def add_operator(
    home: Home, name: str, role: Role, password: str | None = None
) -> tuple[OperatorRow, str]:
    """A new operator and its password (generated unless given), to be shown once."""
    from sftp_server import generate_password, hash_password

    if not re.fullmatch(_NAME, name):
        raise TerminalError(
            f"operator name {name!r} is not valid: use 1 to 63 lower-case letters, digits,"
            " '.', '-' or '_', starting with a letter or digit"
        )
    accounts = _accounts(home)
    if accounts.operator(name) is not None:
        raise ConflictError(f"operator {name!r} already exists (see `roster operator list`)")
    secret = password or generate_password()
    row = OperatorRow(name, role.label, hash_password(secret), None, 0, None, None, _now())
    accounts.insert(row)
    return row, secret


def _existing(accounts: Accounts, name: str) -> OperatorRow:
    row = accounts.operator(name)
    if row is None:
        raise NotFoundError(f"no operator {name!r} (see `roster operator list`)")
    return row


def remove_operator(home: Home, name: str) -> None:
    accounts = _accounts(home)
    _existing(accounts, name)
    accounts.remove(name)


def reset_password(home: Home, name: str) -> str:
    """A new generated password (shown once); ends the operator's sessions and lockout."""
    from sftp_server import generate_password, hash_password

    accounts = _accounts(home)
    _existing(accounts, name)
    secret = generate_password()
    accounts.set_password(name, hash_password(secret))
    return secret


def issue_token(home: Home, name: str) -> str:
    """A new API token for the operator (shown once); the previous one stops working."""
    accounts = _accounts(home)
    _existing(accounts, name)
    token = secrets.token_urlsafe(32)
    accounts.set_token(name, _hash(token))
    return token


def _now() -> datetime:
    return datetime.now(UTC)


def log_in(home: Home, name: str, password: str, now: datetime | None = None) -> Login:
    """Check the password, counting failures; raises AccessError saying only what is safe."""
    from sftp_server import verify, verify_unknown_user

    now = now or _now()
    accounts = _accounts(home)
    row = accounts.operator(name)
    refused = AccessError("wrong name or password")
    if row is None:
        verify_unknown_user(password)  # the same time as a known name
        raise refused
    if row.locked_until is not None and row.locked_until > now:
        raise AccessError(f"the account is locked after {LOCK_AFTER} failed logins; try later")
    if not verify(row.password_hash, password):
        failures = 0 if row.locked_until is not None else row.failures
        failures += 1
        locked = now + LOCK_FOR if failures >= LOCK_AFTER else None
        accounts.record_failure(name, failures, locked)
        raise refused
    accounts.record_login(name, now)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    accounts.open_session(_hash(token), name, csrf, now, now + SESSION_FOR)
    return Login(name, Role.parse(row.role), token, csrf)


def by_session(home: Home, token: str, now: datetime | None = None) -> Login | None:
    """The session the cookie's token opened, while it lasts and its operator exists."""
    accounts = _accounts(home)
    found = accounts.session(_hash(token))
    if found is None or found.expires_at <= (now or _now()):
        return None
    row = accounts.operator(found.operator)
    return Login(row.name, Role.parse(row.role), token, found.csrf) if row else None


def log_out(home: Home, token: str) -> None:
    _accounts(home).close_session(_hash(token))


def by_token(home: Home, token: str) -> OperatorRow | None:
    return _accounts(home).by_token(_hash(token)) if token else None


def require(role: Role, needed: Role, what: str) -> None:
    """Raise AccessError (authenticated) unless ``role`` may do ``what``."""
    if role < needed:
        raise AccessError(
            f"{what} needs the {needed.label} role; you are a {role.label}", authenticated=True
        )


def audit(home: Home, operator: str, action: str, **fields: Any) -> None:
    """One line in logs/audit.log: who did what to which batch or district."""
    log = AuditLog(home.folder("logs", "audit.log"))
    try:
        log.write("console_action", operator=operator, action=action, **fields)
    finally:
        log.close()
