"""Pull sources: a district's SIS read over its API instead of files sent to us.

One seam: a source is configured per district (``SourceConfig``, kept in the
district's settings, the secret encrypted by the ``Vault``) and opened into an
object with ``test()`` (the checks `roster district test` prints) and
``fetch(folder)`` (write the contract's CSV files into ``folder``). Everything
after the files (contract, validation, holds, reports, change log) is the
pipeline's, unchanged. PowerSchool's REST API is the first source; another
(Ed-Fi, OneRoster REST) adds a kind here and a module like ``powerschool``.

This package knows nothing of the store or the stages: ``roster_pipeline.pulls``
composes it with them.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from roster_pipeline.errors import ConfigError
from roster_pipeline.sources.plugin import PluginSpec, fingerprint, next_version, plugin_zip
from roster_pipeline.sources.queries import QUERIES, QUERY_PREFIX
from roster_pipeline.sources.vault import Vault, mask

if TYPE_CHECKING:
    from roster_pipeline.sources.client import (
        PowerSchoolClient,
        Retries,
        check_url,
        clear_tokens,
    )
    from roster_pipeline.sources.powerschool import Check, Fetched, PowerSchoolSource

__all__ = [
    "KINDS",
    "QUERIES",
    "QUERY_PREFIX",
    "Check",
    "Fetched",
    "PluginSpec",
    "PowerSchoolClient",
    "PowerSchoolSource",
    "Retries",
    "Source",
    "SourceConfig",
    "Vault",
    "batch_name",
    "check_url",
    "clear_tokens",
    "fingerprint",
    "is_pulled",
    "mask",
    "next_version",
    "open_source",
    "plugin_zip",
]

#: The names that bring in the HTTP client (httpx), imported when first asked for: a
#: pulled batch's report only needs the query names (50 ms of every process's start).
_LAZY = {
    "PowerSchoolClient": "client",
    "Retries": "client",
    "check_url": "client",
    "clear_tokens": "client",
    "Check": "powerschool",
    "Fetched": "powerschool",
    "PowerSchoolSource": "powerschool",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


#: The kinds of source a district may have; ``sftp`` is the default (files sent to us).
KINDS = ("sftp", "powerschool-api")

_PULLED = "powerschool-api-"


def batch_name(slug: str) -> str:
    """The name a pulled batch carries: its source in `roster batches` and its reports."""
    return f"{_PULLED}{slug}.zip"


def is_pulled(source: str) -> bool:
    """Whether a batch of this source name was pulled (the one place that decides it):
    its rejects are then named by query, record and key instead of file and line."""
    return source.startswith(_PULLED) and source.endswith(".zip")


class Source(Protocol):
    """What the pipeline needs of a pull source."""

    def test(self) -> list[Check]: ...

    def fetch(self, folder: Any) -> Fetched: ...


@dataclass(frozen=True)
class SourceConfig:
    """A district's source, as stored in its settings under ``source``."""

    kind: str = "sftp"
    url: str = ""
    client_id: str = ""
    secret: str = ""  # the client secret, encrypted by the Vault; never the plain text
    pull_at: str = ""  # "HH:MM" in the district's time zone, or empty
    pull_every_hours: float = 0.0  # or every N hours; 0: not by interval
    timezone: str = "UTC"
    ca_file: str = ""  # a private CA the district's server certificate is signed by
    min_interval_ms: float = 0.0  # the district's PowerSchool minimum interval between requests
    plugin_version: str = ""
    plugin_fingerprint: str = ""

    @classmethod
    def of(cls, settings: Any) -> SourceConfig:
        stored = settings.get("source") if hasattr(settings, "get") else None
        if not isinstance(stored, dict):
            return cls()
        known = {k: v for k, v in stored.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_settings(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", 0.0) or k == "kind"}

    @property
    def pulls(self) -> bool:
        return self.kind != "sftp"

    @property
    def scheduled(self) -> bool:
        return self.pulls and bool(self.pull_at or self.pull_every_hours)

    def changed(self, **values: Any) -> SourceConfig:
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def open_source(
    config: SourceConfig,
    vault: Vault,
    *,
    connections: int = 5,
    retries: Retries | None = None,
    timeout: float = 60.0,
) -> PowerSchoolSource:
    """The source object of a district's configuration; the caller closes its client."""
    if config.kind != "powerschool-api":
        raise ConfigError(f"source {config.kind!r} is not one that can be pulled")
    if not (config.url and config.client_id and config.secret):
        raise ConfigError(
            "the PowerSchool source lacks its URL, client ID or secret; set them with"
            " `roster district source SLUG powerschool-api --url ... --client-id ..."
            " --client-secret-stdin`"
        )
    from roster_pipeline.sources.client import PowerSchoolClient
    from roster_pipeline.sources.powerschool import PowerSchoolSource

    client = PowerSchoolClient(
        config.url, config.client_id, vault.decrypt(config.secret),
        connections=connections, retries=retries, timeout=timeout,
        ca_file=config.ca_file, min_interval=config.min_interval_ms / 1000.0,
    )  # fmt: skip
    return PowerSchoolSource(client, connections)
