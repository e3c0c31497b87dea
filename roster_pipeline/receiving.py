"""The SFTP receiver as a component of `roster serve`: its config from Settings, its
accounts from the district registry.

``start(settings)`` is the service's receiver factory. Host keys are created
once under ``<home>/hostkeys`` and never replaced. Account lookups come from
the receiver's executor threads, so each thread gets its own store connection.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from roster_pipeline.config import Settings
from roster_pipeline.errors import ConfigError, StorageError
from roster_pipeline.store import DistrictRecord, Store, open_store
from sftp_server import (
    Account,
    HostKeyError,
    Limits,
    Receiver,
    ReceiverConfig,
    UploadRecord,
    ensure_host_keys,
    start_receiver,
)

__all__ = ["RegistryAccounts", "account_for", "limits_from", "start"]

log = logging.getLogger(__name__)


def account_for(district: DistrictRecord) -> Account:
    return Account(
        username=district.username or district.slug,
        district=district.slug,
        password_hash=district.password_hash,
        authorized_keys=tuple(district.public_keys),
        allowed_cidrs=tuple(district.allow_ips),
        enabled=district.enabled,
    )


class RegistryAccounts:
    """sftp_server's Accounts over the district registry (thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._opened: list[Store] = []
        self._lock = threading.Lock()

    def _store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self.settings.db_url)
            self._local.store = store
            with self._lock:
                self._opened.append(store)
        return store

    def lookup(self, username: str) -> Account | None:
        district = self._store().district_by_username(username)
        return account_for(district) if district is not None else None

    def on_upload(self, record: UploadRecord) -> None:
        # The inbox watcher sees the published file; this is for the log only.
        log.info("upload %s/%s (%d bytes)", record.district, record.original_name, record.size)

    def close(self) -> None:
        with self._lock:
            for store in self._opened:
                store.close()
            self._opened.clear()


def limits_from(settings: Settings) -> Limits:
    """The receiver's limits: Settings carries fields of the same names."""
    names = {f.name for f in dataclasses.fields(Limits)}
    return Limits(**{n: getattr(settings, n) for n in names if hasattr(settings, n)})


class _Running:
    """The receiver and its accounts, closed together."""

    def __init__(self, receiver: Receiver, accounts: RegistryAccounts) -> None:
        self.receiver = receiver
        self.accounts = accounts

    async def close(self) -> None:
        await self.receiver.close()
        self.accounts.close()


async def start(settings: Settings) -> tuple[_Running, str]:
    """Start the receiver for the home in ``settings``; returns it and ``host:port``."""
    try:
        ensure_host_keys(settings.home / "hostkeys")
    except (HostKeyError, OSError) as exc:
        raise StorageError(
            f"cannot use the host keys in {settings.home / 'hostkeys'}: {exc}"
        ) from exc
    config = ReceiverConfig.under(
        settings.home,
        host=settings.listen_host,
        port=settings.listen_port,
        limits=limits_from(settings),
        legacy_algorithms=settings.legacy_algorithms,
    )
    accounts = RegistryAccounts(settings)
    try:
        receiver = await start_receiver(config, accounts)
    except OSError as exc:
        where = f"{settings.listen_host}:{settings.listen_port}"
        raise ConfigError(
            f"cannot listen for SFTP on {where}: {exc.strerror or exc}; choose another"
            " listen_host / listen_port (or `roster serve --port`)"
        ) from exc
    return _Running(receiver, accounts), f"{settings.listen_host}:{receiver.port}"
