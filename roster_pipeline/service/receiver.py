"""The SFTP receiver as a component of `roster serve`.

``start(settings)`` is the service's receiver factory: host keys are created
once under ``<home>/hostkeys`` and never replaced; the receiver is configured
by ``receiver_config`` and looks accounts up in the district registry
(``districts.DistrictAccounts``), which also records every upload.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time

from roster_pipeline.config import Settings
from roster_pipeline.districts import DistrictAccounts
from roster_pipeline.errors import ConfigError, InputError, NotFoundError, StorageError
from roster_pipeline.home import Home
from roster_pipeline.store import BanRecord
from sftp_server import (
    HostKeyError,
    Limits,
    Receiver,
    ReceiverConfig,
    ensure_host_keys,
    start_receiver,
)

__all__ = ["RunningReceiver", "bans", "lift_ban", "receiver_config", "receiver_limits", "start"]


def receiver_limits(settings: Settings) -> Limits:
    """Limits take the Settings fields of the same names."""
    names = {f.name for f in dataclasses.fields(Limits)}
    return Limits(**{n: getattr(settings, n) for n in names})


def receiver_config(settings: Settings, port: int | None = None) -> ReceiverConfig:
    """The receiver under the home's standard layout; ``port`` overrides the setting."""
    return ReceiverConfig.under(
        settings.home,
        host=settings.listen_host,
        port=settings.listen_port if port is None else port,
        limits=receiver_limits(settings),
        legacy_algorithms=settings.legacy_algorithms,
    )


class RunningReceiver:
    """The receiver and its accounts, closed together."""

    def __init__(self, receiver: Receiver, accounts: DistrictAccounts) -> None:
        self.receiver = receiver
        self.accounts = accounts

    async def close(self) -> None:
        await self.receiver.close()
        self.accounts.close()


async def start(settings: Settings) -> tuple[RunningReceiver, str]:
    """Start the receiver for the home in ``settings``; returns it and ``host:port``."""
    keys = settings.home / "hostkeys"
    try:
        ensure_host_keys(keys)
    except (HostKeyError, OSError) as exc:
        raise StorageError(f"cannot use the host keys in {keys}: {exc}") from exc
    accounts = DistrictAccounts(settings.db_url)
    try:
        receiver = await start_receiver(receiver_config(settings), accounts, bans=accounts)
    except OSError as exc:
        accounts.close()
        where = f"{settings.listen_host}:{settings.listen_port}"
        raise ConfigError(
            f"cannot listen for SFTP on {where}: {exc.strerror or exc}; choose another"
            " listen_host / listen_port (or `roster serve --port`)"
        ) from exc
    return RunningReceiver(receiver, accounts), f"{settings.listen_host}:{receiver.port}"


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
