"""Settings: one frozen dataclass, read from ``<home>/roster.toml`` then ``ROSTER_*``.

Precedence, lowest first: defaults, ``roster.toml`` in the home folder, environment
variables, explicit keyword overrides (the CLI's ``--home`` / ``--db``). A key in
``roster.toml`` maps to the field of the same name; the environment variable is
``ROSTER_`` + the upper-cased name (``ROSTER_DATABASE_URL``, ``ROSTER_MAX_FILE_SIZE``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roster_pipeline.errors import ConfigError
from sftp_server.limits import DEFAULT_TEMP_NAMES

__all__ = ["Settings", "load_settings"]

GiB = 1024**3
MiB = 1024**2


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything tunable about a deployment. Per-district settings live in the database."""

    home: Path = Path("roster-data")
    database_url: str = ""  # empty: SQLite at <home>/roster.db
    # Receiver
    listen_host: str = "127.0.0.1"
    listen_port: int = 2222
    public_host: str = ""  # the host name districts are told to connect to
    legacy_algorithms: bool = False  # SHA-1 kex and client signatures for old Java clients
    strict_algorithms: bool = False  # no NIST curves or encrypt-and-MAC: JSch cannot connect
    max_file_size: int = 2 * GiB
    district_quota: int = 10 * GiB
    min_free_disk: int = 1 * GiB
    max_files: int = 10_000  # files waiting in one district's inbox
    max_open_handles: int = 32  # per account
    max_channels: int = 4  # SSH sessions per connection
    max_connections: int = 200
    max_connections_per_address: int = 20
    max_startups: int = 60  # unauthenticated connections (random early drop from begin)
    max_startups_begin: int = 20
    max_startups_per_address: int = 10
    max_connects_per_minute: int = 60  # per address
    exempt_addresses: tuple[str, ...] = ()  # CIDRs never refused, rate-limited or banned
    temp_names: tuple[str, ...] = DEFAULT_TEMP_NAMES  # patterns uploaded to, then renamed
    login_timeout: float = 20.0
    idle_timeout: float = 600.0
    max_auth_tries: int = 6
    auth_failure_delay: float = 1.0
    ban_threshold: int = 20
    ban_window: float = 600.0
    ban_duration: float = 900.0
    shutdown_grace: float = 30.0  # in-flight uploads get this long when the service stops
    # Unpacking
    max_unpacked_bytes: int = 2 * GiB
    max_compression_ratio: float = 200.0
    max_zip_members: int = 1000
    # Planning (defaults; a district may override)
    max_delete_pct: float = 10.0
    max_update_pct: float = 75.0
    settle_seconds: float = 300.0
    # The service (a district may override settle, expect_every and retention)
    settle_quick_seconds: float = 5.0  # quiet needed once every required file is there
    expect_every_hours: float = 26.0  # no upload for longer: the district is STALE
    retention_days: float = 30.0  # archived raw files and reports are purged after
    claim_seconds: float = 300.0  # a worker's claim on a batch, renewed while it works
    # Alerts
    webhook_url: str = ""

    @property
    def db_url(self) -> str:
        """The database URL in force: explicit, or SQLite inside the home."""
        return self.database_url or f"sqlite:///{(self.home / 'roster.db').resolve()}"

    def path(self, *parts: str) -> Path:
        """A path inside the home folder."""
        return self.home.joinpath(*parts)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, raw: Any, source: str) -> Any:
    kind = _FIELDS[name].type
    try:
        return _COERCE.get(str(kind), str)(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} = {raw!r} is not a valid {kind}") from None


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
        raise ValueError(raw)
    return text in {"1", "true", "yes", "on"}


def _strings(raw: Any) -> tuple[str, ...]:
    """A TOML list, or ``"a, b"`` from the environment."""
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


_COERCE: dict[str, Any] = {
    "Path": lambda raw: Path(str(raw)).expanduser(),
    "bool": _boolean,
    "int": int,
    "float": float,
    "tuple[str, ...]": _strings,
}


def _from_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    return {k: _coerce(k, v, str(path)) for k, v in data.items()}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values = {}
    for name in _FIELDS:
        key = f"ROSTER_{name.upper()}"
        if env.get(key, "") != "":
            values[name] = _coerce(name, env[key], key)
    return values


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the Settings in force; ``overrides`` with value None are ignored."""
    env = os.environ if env is None else env
    chosen = {k: v for k, v in overrides.items() if v is not None}
    from_env = _from_env(env)
    home = Path(chosen.get("home") or from_env.get("home") or Settings.home).expanduser()
    values: dict[str, Any] = {**_from_toml(home / "roster.toml"), **from_env}
    values.update({k: _coerce(k, v, "option") for k, v in chosen.items()})
    values["home"] = home
    return Settings(**values)
