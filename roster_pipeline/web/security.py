"""Uploads and security, and the system page: what the audit log and registry tell.

The audit log (``logs/audit.log``, one JSON object per line) is read from its
end only: the last ``_TAIL`` bytes hold weeks of logins on a busy night, and a
page never reads a log that has grown for years.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from roster_pipeline.config import SECRET_KEYS
from roster_pipeline.home import Home
from roster_pipeline.operators import operators
from roster_pipeline.system import effective
from roster_pipeline.web.models import (
    AuditLine,
    EventView,
    OperatorView,
    Security,
    System,
    UploadView,
)

_TAIL = 2 * 1024 * 1024
_ACCOUNT_EVENTS = {"auth_ok", "auth_fail", "disconnect"}
_SHOWN = {"ts", "event", "action", "username", "operator", "district", "address"}


def audit_tail(path: Path, tail: int = _TAIL) -> list[AuditLine]:
    """The log's last lines, newest first; a torn or foreign line is skipped."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - tail))
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > tail:
        lines = lines[1:]  # the first is cut
    found = []
    for text in reversed(lines):
        try:
            item = json.loads(text)
        except ValueError:
            continue
        if isinstance(item, dict) and "event" in item:
            found.append(_line(item))
    return found


def _line(item: dict[str, object]) -> AuditLine:
    def text(key: str) -> str | None:
        value = item.get(key)
        return None if value is None else str(value)

    detail = {k: v for k, v in item.items() if k not in _SHOWN}
    return AuditLine(
        ts=str(item.get("ts", "")),
        event=str(item["event"]),
        action=text("action"),
        username=text("username") or text("operator"),
        district=text("district"),
        address=text("address"),
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
    )


def account_events(home: Home, username: str) -> list[AuditLine]:
    """Recent logins and failures of one SFTP account, and bans of the addresses that
    failed as it, newest first."""
    events = audit_tail(home.folder("logs", "audit.log"))
    failed = {e.address for e in events if e.username == username and e.event == "auth_fail"}
    return [
        e
        for e in events
        if (e.username == username and e.event in _ACCOUNT_EVENTS)
        or (e.event == "banned" and e.address in failed)
    ]


def upload_views(home: Home, limit: int, district: str | None = None) -> list[UploadView]:
    return [
        UploadView(
            district=str(u["district_id"]),
            username=str(u["username"]),
            file=str(u["original_name"]),
            size=int(u["size"]),
            address=str(u["client_address"]),
            client=str(u["client_version"]),
            finished_at=str(u["finished_at"]),
        )
        for u in home.store.console().uploads(limit, district)
    ]


def security(home: Home, limit: int = 100) -> Security:
    events = audit_tail(home.folder("logs", "audit.log"))

    def pick(*names: str) -> list[AuditLine]:
        return [e for e in events if e.event in names or e.action in names][:limit]

    return Security(
        uploads=upload_views(home, limit),
        logins=pick("auth_ok", "console_login"),
        failures=pick("auth_fail", "console_login_failed", "lookup_failed"),
        bans=pick("banned", "connect_refused"),
        console=pick("console_action"),
    )


def system(home: Home, now: datetime | None = None) -> System:
    now = now or datetime.now(UTC)
    values = effective(home.settings, home.store).flat()
    shown = {k: ("(set)" if v else "") if k in SECRET_KEYS else str(v) for k, v in values.items()}
    return System(
        schema_version=home.store.schema_version(),
        database=home.store.console().display_url,
        settings=shown,
        operators=[
            OperatorView(
                name=o.name,
                role=o.role,
                locked=bool(o.locked_until and o.locked_until > now),
                last_login=o.last_login,
                has_token=o.token_hash is not None,
            )
            for o in operators(home)
        ],
        events=[
            EventView(
                at=e.at,
                level=e.level,
                code=e.code,
                message=e.message,
                district=e.district,
                batch_id=e.batch_id,
            )
            for e in home.store.events(limit=100)
        ],
    )
