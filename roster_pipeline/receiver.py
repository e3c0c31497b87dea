"""The SFTP receiver as this deployment configures it: Settings -> sftp_server config."""

from __future__ import annotations

import dataclasses

from roster_pipeline.config import Settings
from sftp_server import Limits, ReceiverConfig

__all__ = ["receiver_config", "receiver_limits"]


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
