"""The home folder: where a deployment keeps its state, and the store it uses.

::

    <home>/roster.toml        settings (optional)
    <home>/roster.db          the embedded SQLite database (default)
    <home>/hostkeys/          SSH host keys, 0600, generated once
    <home>/inbox/<district>/  complete uploads only
    <home>/processing/<batch>/, archive/<batch>/, failed/<batch>/
    <home>/staging/           partial uploads, never visible to districts
    <home>/logs/audit.log     the receiver's audit trail
    <home>/logs/events.log    the event log (also in the database)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from roster_pipeline.config import Settings, with_system_values
from roster_pipeline.errors import NoHomeError, StorageError
from roster_pipeline.store import MIGRATIONS, Store, mask_url, open_store

_FOLDERS = ("inbox", "processing", "archive", "failed", "staging", "hostkeys", "logs", "work")


@dataclass
class Home:
    """A deployment's home folder and database, opened lazily."""

    settings: Settings
    _store: Store | None = field(default=None, init=False, repr=False)

    @property
    def root(self) -> Path:
        return self.settings.home

    def folder(self, name: str, *parts: str) -> Path:
        return self.settings.home.joinpath(name, *parts)

    def batch_files(self, batch_id: str) -> list[Path]:
        """The files a batch is made of, from ``processing/`` (or, once done, the archive)."""
        for folder in (self.folder("processing", batch_id, "files"),
                       self.folder("archive", batch_id, "raw")):  # fmt: skip
            if folder.is_dir():
                return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        return []

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings.db_url, self.settings.database_connect_timeout)
        return self._store

    def create(self) -> None:
        """Create the folders and migrate the database; safe to run again."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            for name in _FOLDERS:
                self.folder(name).mkdir(exist_ok=True, mode=0o700)
            self._make_private()
        except OSError as exc:
            raise StorageError(f"cannot create the home folder {self.root}: {exc}") from None
        self.store.migrate()
        self.settings = self._with_system_values()

    def require(self) -> None:
        """Fail unless ``roster init`` made this home: a typo in --home must not look
        like an empty, healthy deployment. Brings the database schema up to date."""
        hint = "; run `roster init` to create one"
        if not self.root.is_dir():
            raise NoHomeError(f"no roster home at {self.root.resolve()}{hint}")
        if not self.settings.database_url and not (self.root / "roster.db").is_file():
            raise NoHomeError(f"no roster database in {self.root.resolve()}{hint}")
        version = self.store.schema_version()
        if version == 0:
            where = mask_url(self.settings.db_url)
            raise NoHomeError(f"the database {where} has no roster schema{hint}")
        if version < max(MIGRATIONS):  # an upgrade; otherwise nothing is written here
            self.store.migrate()
        self.settings = self._with_system_values()

    def _with_system_values(self) -> Settings:
        stored = {k: s.value for k, s in self.store.system_settings().items()}
        return with_system_values(self.settings, stored)

    def _make_private(self) -> None:
        """Districts' files, password hashes and the audit trail are for us alone.

        ``mkdir`` modes are cut by the umask and an older home may predate
        them, so the modes are set explicitly, every time.
        """
        for name in _FOLDERS:
            self.folder(name).chmod(0o700)
        for path in (self.root / "roster.db", self.folder("logs", "audit.log")):
            if path.exists():
                path.chmod(0o600)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Home:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
