"""Backups of a home: a consistent copy of the database, the host keys and the settings.

SQLite is copied with its online backup API, so the service may keep running: the
copy is one consistent moment, never a file caught mid-write. A PostgreSQL database
is dumped with ``pg_dump`` by its operator (the README says how); its backup here
holds the host keys and the settings file. Restoring into an empty home gives back
the same host key fingerprints (districts pinned them) and the same loaded rows.

A backup folder::

    manifest.json     when, the engine, the schema version, the fingerprints
    roster.db         SQLite only
    roster.toml       when the home has one
    hostkeys/         every key file, 0600
    secrets.key       when the home has one: the key of the pull sources' client secrets
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roster_pipeline import hostkeys
from roster_pipeline.errors import ConflictError, NotFoundError, StorageError
from roster_pipeline.store import sqlite_path

if TYPE_CHECKING:
    from roster_pipeline.home import Home


_MANIFEST = "manifest.json"
PG_DUMP_HINT = 'pg_dump --format=custom --file=roster.dump "$ROSTER_DATABASE_URL"'


@dataclass(frozen=True)
class Backup:
    folder: Path
    engine: str
    schema_version: int
    fingerprints: list[dict[str, str]]
    database_included: bool


def backup(home: Home, target: Path) -> Backup:
    """Copy the home's database (SQLite), host keys and settings into the new folder ``target``."""
    if target.exists() and any(target.iterdir()):
        raise ConflictError(f"{target} is not empty; back up into a new folder")
    engine = "sqlite" if home.settings.db_url.startswith("sqlite") else "postgresql"
    try:
        target.mkdir(parents=True, exist_ok=True)
        if engine == "sqlite":
            _copy_sqlite(sqlite_path(home.settings.db_url), target / "roster.db")
        _copy_settings_and_keys(home.root, target)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot write the backup in {target}: {exc}") from None
    found = [
        {"algorithm": a, "fingerprint": f} for a, f in hostkeys.fingerprints(target / "hostkeys")
    ]
    done = Backup(target, engine, home.store.schema_version(), found, engine == "sqlite")
    manifest = {**vars(done), "folder": str(target), "created_at": datetime.now(UTC).isoformat()}
    (target / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return done


def restore(source: Path, home_root: Path, database_url: str = "") -> dict[str, Any]:
    """Put a backup's files into the empty home ``home_root``; the backup's manifest.

    The caller then opens the home (``Home.create``), which migrates a database
    from an older version. For PostgreSQL (``database_url``) the database is restored
    with ``pg_restore`` beforehand; only the keys and settings come from here.
    """
    manifest_file = source / _MANIFEST
    if not manifest_file.is_file():
        raise NotFoundError(f"{source} is not a roster backup (no {_MANIFEST})")
    manifest: dict[str, Any] = json.loads(manifest_file.read_text(encoding="utf-8"))
    occupied = [n for n in ("roster.db", "hostkeys", "roster.toml") if (home_root / n).exists()]
    if occupied:
        raise ConflictError(f"{home_root} already holds {', '.join(occupied)}; restore into"
                            " an empty home")  # fmt: skip
    if not database_url and not (source / "roster.db").is_file():
        raise ConflictError(f"{source} holds no database (a PostgreSQL home's backup): restore"
                            " the pg_dump with pg_restore and pass --db")  # fmt: skip
    try:
        home_root.mkdir(parents=True, exist_ok=True)
        if not database_url:
            _copy_sqlite(source / "roster.db", home_root / "roster.db")
        _copy_settings_and_keys(source, home_root)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot restore into {home_root}: {exc}") from None
    return manifest


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: one consistent copy while writers go on."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()


def _copy_settings_and_keys(source: Path, target: Path) -> None:
    if (source / "roster.toml").is_file():
        shutil.copy2(source / "roster.toml", target / "roster.toml")
    if (source / "secrets.key").is_file():  # without it the stored client secrets are lost
        shutil.copy2(source / "secrets.key", target / "secrets.key")
        (target / "secrets.key").chmod(0o600)
    keys = target / "hostkeys"
    shutil.copytree(source / "hostkeys", keys, dirs_exist_ok=True)
    keys.chmod(0o700)
    for key in keys.iterdir():
        key.chmod(0o600 if not key.name.endswith(".pub") else 0o644)
