"""System settings: PowerSchool DEX's General Setup, shared by every machine of a deployment.

The values `roster system set` changes are stored in the database, so every node
(receivers, workers) reads the same ones. They sit between the typed model's
defaults and the files: precedence, lowest first, is default, database,
``roster.toml``, ``ROSTER_*``. A value fixed by a file cannot be changed from here.

What the knobs mean:

* ``system_enabled`` off: no batch is formed nor processed, nothing is purged;
  uploads are still accepted and wait in the inbox. Who turned it off is kept.
* ``job_frequency`` low | standard | high: the watcher's rescans, the workers'
  claim polling and the stale checks together (``FREQUENCIES``).
* ``purge_policy`` aggressive | typical | seldom: how long archives and events are
  kept (``PURGE_DAYS``); ``retention_days`` in a file, or a district's own, wins.
* ``log_levels``: which events beyond errors are recorded (``roster events``).
* ``connections_per_district``: logged-in SFTP connections one district may hold at once
  (the receiver's ``max_sessions_per_account``).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roster_pipeline.config import (
    SECRET_KEYS,
    SYSTEM_KEYS,
    Settings,
    fixed_names,
    with_system_values,
)
from roster_pipeline.errors import ConflictError, NotFoundError, SystemDisabledError
from roster_pipeline.store import Store

if TYPE_CHECKING:
    from roster_pipeline.home import Home


_REASON = "system_disabled_reason"  # stored beside the settings; not a setting itself


@dataclass(frozen=True)
class Intervals:
    """Seconds between the service's periodic checks."""

    rescan: float  # the watcher looks at every inbox (uploads also wake it at once)
    claim_poll: float  # an idle worker asks for a batch
    stale_check: float  # housekeeping: stale districts, the daily purge


FREQUENCIES: Mapping[str, Intervals] = {
    "low": Intervals(rescan=120.0, claim_poll=5.0, stale_check=300.0),
    "standard": Intervals(rescan=30.0, claim_poll=0.5, stale_check=60.0),
    "high": Intervals(rescan=10.0, claim_poll=0.2, stale_check=15.0),
}


def operator() -> str:
    """Who is acting, for the audit: the login name, and sudo's caller when there is one."""
    user = getpass.getuser()
    caller = os.environ.get("SUDO_USER")
    return f"{caller} (as {user})" if caller and caller != user else user


def effective(settings: Settings, store: Store) -> Settings:
    """``settings`` with the database's system values under the files' and env's."""
    return with_system_values(settings, {k: s.value for k, s in store.system_settings().items()})


def intervals(settings: Settings) -> Intervals:
    return FREQUENCIES[settings.system.job_frequency]


def require_enabled(home: Home, doing: str) -> None:
    """Refuse ``doing`` while the system is disabled (uploads are kept meanwhile)."""
    if not effective(home.settings, home.store).system.system_enabled:
        stored = home.store.system_settings().get("system_enabled")
        who = f" by {stored.updated_by} at {stored.updated_at:%Y-%m-%d %H:%M} UTC" if stored else ""
        raise SystemDisabledError(
            f"the system is disabled{who}: {doing} waits; uploads are kept."
            " `roster system enable` turns processing on again"
        )


@dataclass(frozen=True)
class Shown:
    key: str
    value: object
    default: object
    source: str  # default | database | where a file or the environment fixes it
    updated: str = ""  # by whom and when, for a database value

    def as_json(self) -> dict[str, object]:
        return dict(vars(self))


def show(home: Home) -> list[Shown]:
    """Every system setting: its value in force, its default, and where it comes from."""
    current = effective(home.settings, home.store).flat()
    defaults = Settings(home=home.settings.home).flat()
    fixed = fixed_names(home.settings.home)
    stored = home.store.system_settings()
    found = []
    for key in SYSTEM_KEYS:
        source, updated = "default", ""
        if key in fixed:
            source = fixed[key]
        elif key in stored:
            source = "database"
            updated = f"{stored[key].updated_by} at {stored[key].updated_at:%Y-%m-%d %H:%M} UTC"
        found.append(Shown(key, current[key], defaults[key], source, updated))
    return found


def set_value(home: Home, key: str, raw: object, by: str | None = None) -> object:
    """Store ``key`` = ``raw`` (validated by the settings model) for every machine."""
    if key not in SYSTEM_KEYS:
        raise NotFoundError(f"{key!r} is not a system setting (known: {', '.join(SYSTEM_KEYS)})")
    fixed = fixed_names(home.settings.home)
    if key in fixed:
        raise ConflictError(f"{key} is fixed by {fixed[key]}; change it there")
    value = home.settings.replaced({key: raw}, "roster system set").flat()[key]
    by = by or operator()
    home.store.put_system_setting(key, value, by)
    _audit(home, "info", "system_setting_changed",
           f"{key} set to {shown_value(key, value)} by {by}", key=key)  # fmt: skip
    return value


def shown_value(key: str, value: object) -> str:
    """How a setting's value is written where people read it: a secret's as set or not."""
    if key in SECRET_KEYS:
        return "(set)" if value else "(not set)"
    return repr(value)


def disable(home: Home, reason: str = "", by: str | None = None) -> None:
    by = by or operator()
    set_value(home, "system_enabled", False, by)
    home.store.put_system_setting(_REASON, reason, by)
    why = f": {reason}" if reason else ""
    _audit(home, "warning", "system_disabled", f"processing disabled by {by}{why}", reason=reason)


def enable(home: Home, by: str | None = None) -> None:
    by = by or operator()
    set_value(home, "system_enabled", True, by)
    _audit(home, "warning", "system_enabled", f"processing enabled by {by}")


def disabled_reason(home: Home) -> str:
    stored = home.store.system_settings().get(_REASON)
    return str(stored.value) if stored else ""


def restore_defaults(home: Home, by: str | None = None) -> dict[str, object]:
    """Forget every stored system value (files and env keep theirs); the previous values."""
    stored = home.store.system_settings()
    previous = {k: s.value for k, s in stored.items() if k in SYSTEM_KEYS}
    home.store.clear_system_settings([*SYSTEM_KEYS, _REASON])
    _audit(home, "warning", "system_defaults_restored",
           f"system settings restored to their defaults by {by or operator()}",
           previous=previous)  # fmt: skip
    return previous


def _audit(home: Home, level: str, code: str, message: str, **details: object) -> None:
    """System changes are always recorded, whatever the log levels."""
    from roster_pipeline import events

    events.record(home, level, code, message, always=True, details=details)
