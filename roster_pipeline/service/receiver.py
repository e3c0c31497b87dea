"""The SFTP receiver as a component of `roster serve`.

``start(settings)`` is the service's receiver factory: it reads the host keys
``roster init`` created under ``<home>/hostkeys`` and never replaces them; the
receiver is configured
by ``receiver_config`` and looks accounts up in the district registry
(``districts.DistrictAccounts``), which also records every upload.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time

import sftp_server
from roster_pipeline.config import Settings
from roster_pipeline.districts import DistrictAccounts
from roster_pipeline.errors import ConfigError, InputError, NotFoundError, StorageError
from roster_pipeline.home import Home
from roster_pipeline.store import BanRecord
from sftp_server import HostKeyError, Limits, Receiver, ReceiverConfig, start_receiver
from sftp_server.audit import AuditLog

__all__ = [
    "RunningReceiver",
    "add_host_key",
    "bans",
    "lift_ban",
    "receiver_config",
    "receiver_limits",
    "retire_host_key",
    "start",
]


def receiver_limits(settings: Settings) -> Limits:
    """Limits take the Settings fields of the same names."""
    names = {f.name for f in dataclasses.fields(Limits)}
    return Limits(**{n: getattr(settings, n) for n in names})


def receiver_config(settings: Settings, port: int | None = None) -> ReceiverConfig:
    """The receiver under the home's standard layout; ``port`` overrides the setting."""
    try:
        return ReceiverConfig.under(
            settings.home,
            host=settings.listen_host,
            port=settings.listen_port if port is None else port,
            limits=receiver_limits(settings),
            legacy_algorithms=settings.legacy_algorithms,
            strict_algorithms=settings.strict_algorithms,
        )
    except ValueError as exc:
        raise ConfigError(f"{exc}; choose one (roster.toml or ROSTER_*)") from None


class RunningReceiver:
    """The receiver and its accounts, closed together."""

    def __init__(self, receiver: Receiver, accounts: DistrictAccounts) -> None:
        self.receiver = receiver
        self.accounts = accounts

    async def close(self) -> None:
        await self.receiver.close()
        self.accounts.close()


async def start(settings: Settings) -> tuple[RunningReceiver, str]:
    """Start the receiver for the home in ``settings``; returns it and ``host:port``.

    Host keys are created here only for a home that has none; otherwise they
    are only read, and a lost key file stops the start with what to restore.
    """
    keys = settings.path("hostkeys")
    if not any(keys.glob("ssh_host_*")):  # a new home: its first keys, nobody pinned any yet
        try:
            sftp_server.ensure_host_keys(keys)
        except (HostKeyError, OSError) as exc:
            raise StorageError(f"cannot create host keys in {keys}: {exc}") from exc
    accounts = DistrictAccounts(settings.db_url)
    try:
        receiver = await start_receiver(receiver_config(settings), accounts, bans=accounts)
    except HostKeyError as exc:
        accounts.close()
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        accounts.close()
        where = f"{settings.listen_host}:{settings.listen_port}"
        raise ConfigError(
            f"cannot listen for SFTP on {where}: {exc.strerror or exc}; choose another"
            " listen_host / listen_port (or `roster serve --port`)"
        ) from exc
    return RunningReceiver(receiver, accounts), f"{settings.listen_host}:{receiver.port}"


def add_host_key(settings: Settings, key_type: str) -> str:
    """A new host key of ``key_type`` beside the others; its fingerprint, audited."""
    try:
        key = sftp_server.add_host_key(settings.path("hostkeys"), key_type)
    except (HostKeyError, OSError) as exc:
        raise StorageError(f"cannot add a host key: {exc}") from None
    fingerprint = key.get_fingerprint("sha256")
    _audit(settings, "hostkey_added", algorithm=key.get_algorithm(), fingerprint=fingerprint)
    return fingerprint


def retire_host_key(settings: Settings, fingerprint: str) -> None:
    """Stop serving the key with ``fingerprint``; its files go to ``hostkeys/retired/``."""
    try:
        moved = sftp_server.retire_host_key(settings.path("hostkeys"), fingerprint)
    except HostKeyError as exc:
        raise NotFoundError(f"{exc}; see `roster hostkey fingerprints`") from None
    _audit(settings, "hostkey_retired", fingerprint=fingerprint, kept_in=moved)


def _audit(settings: Settings, event: str, **fields: object) -> None:
    log = AuditLog(settings.path("logs", "audit.log"))
    try:
        log.write(event, **fields)
    finally:
        log.close()


def bans(home: Home) -> list[BanRecord]:
    """The addresses every receiver on this database turns away now."""
    return home.store.bans(time.time())


def lift_ban(home: Home, address: str) -> None:
    """Let ``address`` connect again; receivers notice within a few seconds."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise InputError(f"{address!r} is not an IP address; see `roster ban list`") from None
    if not home.store.lift_ban(address, time.time()):
        raise NotFoundError(f"{address} is not banned; see `roster ban list`")
