"""The SFTP receiver as a component of `roster serve`.

``start(settings)`` is the service's receiver factory: host keys are created
once under ``<home>/hostkeys`` and never replaced; the receiver is configured
by ``receiver_config`` and looks accounts up in the district registry
(``districts.DistrictAccounts``), which also records every upload.
"""

from __future__ import annotations

from roster_pipeline import hostkeys
from roster_pipeline.config import Settings
from roster_pipeline.districts import DistrictAccounts
from roster_pipeline.errors import ConfigError
from sftp_server import Receiver, ReceiverConfig, start_receiver


def receiver_config(settings: Settings, port: int | None = None) -> ReceiverConfig:
    """The receiver under the home's standard layout; ``port`` overrides the setting."""
    return ReceiverConfig.under(
        settings.home,
        host=settings.receiver.listen_host,
        port=settings.receiver.listen_port if port is None else port,
        limits=settings.limits,
        legacy_algorithms=settings.receiver.legacy_algorithms,
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
    hostkeys.ensure(settings.path("hostkeys"))
    accounts = DistrictAccounts(settings.db_url)
    try:
        receiver = await start_receiver(receiver_config(settings), accounts)
    except OSError as exc:
        accounts.close()
        where = f"{settings.receiver.listen_host}:{settings.receiver.listen_port}"
        raise ConfigError(
            f"cannot listen for SFTP on {where}: {exc.strerror or exc}; choose another"
            " listen_host / listen_port (or `roster serve --port`)"
        ) from exc
    return RunningReceiver(receiver, accounts), f"{settings.receiver.listen_host}:{receiver.port}"
