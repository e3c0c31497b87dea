"""The SFTP receiver as a component of `roster serve`.

``start(settings)`` is the service's receiver factory: it reads the host keys
``roster init`` created under ``<home>/hostkeys`` and never replaces them; the
receiver is configured by ``receiver_config`` and looks accounts up in the
district registry (``districts.DistrictAccounts``), which also records every
upload and keeps the bans every receiver shares.
"""

from __future__ import annotations

import ipaddress
import time

from roster_pipeline import hostkeys
from roster_pipeline.config import Settings
from roster_pipeline.districts import DistrictAccounts
from roster_pipeline.errors import ConfigError, HostKeyFileError, InputError, NotFoundError
from roster_pipeline.home import Home
from roster_pipeline.store import BanRecord
from sftp_server import HostKeyError, Receiver, ReceiverConfig, start_receiver


def receiver_config(settings: Settings, port: int | None = None) -> ReceiverConfig:
    """The receiver under the home's standard layout; ``port`` overrides the setting."""
    try:
        return ReceiverConfig.under(
            settings.home,
            host=settings.receiver.listen_host,
            port=settings.receiver.listen_port if port is None else port,
            limits=settings.receiver_limits,
            legacy_algorithms=settings.receiver.legacy_algorithms,
            strict_algorithms=settings.receiver.strict_algorithms,
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
        hostkeys.ensure(keys)
    hostkeys.fingerprints(keys)  # a lost or broken key file: one line, before anything starts
    accounts = DistrictAccounts(settings.db_url)
    try:
        receiver = await start_receiver(receiver_config(settings), accounts, bans=accounts)
    except HostKeyError as exc:  # a key file went away since the check above
        accounts.close()
        raise HostKeyFileError(str(exc)) from None
    except OSError as exc:
        accounts.close()
        where = f"{settings.receiver.listen_host}:{settings.receiver.listen_port}"
        raise ConfigError(
            f"cannot listen for SFTP on {where}: {exc.strerror or exc}; choose another"
            " listen_host / listen_port (or `roster serve --port`)"
        ) from exc
    return RunningReceiver(receiver, accounts), f"{settings.receiver.listen_host}:{receiver.port}"


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
