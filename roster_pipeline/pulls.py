"""Pulls: a district whose roster we fetch from its SIS's API instead of receiving it.

A pull fetches every table into a folder of the contract's CSV files, zips them
and hands the zip to the pipeline exactly as an upload would be: the same
contract, validation, holds, reports, history and change log. A pull that fails
anywhere (credentials, field access, throttling, a dropped server) forms no
batch at all: nothing is applied, an error event names the request and what to
check, and the loaded roster stays as it was.

The source's settings (URL, client ID, the client secret encrypted at rest,
the schedule, the plugin version) live in the district's settings under
``source``; no other table is needed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from roster_pipeline import claims, events, pipeline, system
from roster_pipeline.errors import ConfigError, ConflictError, SourceError
from roster_pipeline.home import Home
from roster_pipeline.outcome import BatchResult
from roster_pipeline.progress import Progress, no_progress
from roster_pipeline.sources import (
    KINDS,
    Check,
    Fetched,
    PluginSpec,
    Retries,
    SourceConfig,
    Vault,
    batch_name,
    check_url,
    fingerprint,
    next_version,
    open_source,
    plugin_zip,
)
from roster_pipeline.store import DistrictRecord
from sftp_server import published_name

log = logging.getLogger(__name__)

#: The contract a pull writes: its files are the queries' files.
PULL_SPEC = "roster-csv"


@dataclass(frozen=True)
class Pulled:
    """A finished fetch: the zip the pipeline reads, and what the fetch cost."""

    path: Path
    fetched: Fetched


def vault(home: Home) -> Vault:
    return Vault(home.root)


def source_of(record: DistrictRecord) -> SourceConfig:
    return SourceConfig.of(record.settings)


def configure(
    home: Home,
    slug: str,
    kind: str,
    *,
    url: str | None = None,
    client_id: str | None = None,
    secret: str | None = None,
    pull_at: str | None = None,
    pull_every_hours: float | None = None,
    timezone: str | None = None,
    ca_file: str | None = None,
    min_interval_ms: float | None = None,
) -> DistrictRecord:
    """Set a district's source; options not given keep their value. The secret is
    stored encrypted; ``sftp`` turns pulling off and forgets the credentials."""
    if kind not in KINDS:
        raise ConfigError(f"source must be one of {', '.join(KINDS)}, not {kind!r}")
    record = home.store.district(slug)
    if kind == "sftp":
        return _stored(home, record, SourceConfig())
    if record.spec != PULL_SPEC:
        raise ConfigError(
            f"district {slug} uses the {record.spec} contract; a PowerSchool API pull writes"
            f" {PULL_SPEC} files, so the district must use {PULL_SPEC}"
        )
    current = source_of(record)
    config = current.changed(
        kind=kind,
        url=check_url(url) if url else None,
        client_id=client_id.strip() if client_id else None,
        secret=vault(home).encrypt(secret) if secret else None,
        pull_at=_clock(pull_at) if pull_at is not None else None,
        pull_every_hours=_hours(pull_every_hours),
        timezone=_zone(timezone) if timezone else None,
        ca_file=_ca(ca_file) if ca_file is not None else None,
        min_interval_ms=_interval(min_interval_ms),
    )
    if not config.url:
        raise ConfigError(f"district {slug}: a PowerSchool API source needs --url")
    return _stored(home, record, config)


def _stored(home: Home, record: DistrictRecord, config: SourceConfig) -> DistrictRecord:
    settings = {k: v for k, v in record.settings.items() if k != "source"}
    if config.pulls:
        settings["source"] = config.to_settings()
    changed = replace(record, settings=settings)
    home.store.put_district(changed)
    return changed


def _clock(text: str) -> str:
    if not text:
        return ""
    try:
        return datetime.strptime(text.strip(), "%H:%M").strftime("%H:%M")
    except ValueError:
        raise ConfigError(f"--pull-at {text!r} is not a time of day like 02:30") from None


def _hours(value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 24 * 7:
        raise ConfigError(f"--pull-every must be between 0 and 168 hours, not {value:g}")
    return value


def _interval(value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 60_000:
        raise ConfigError(f"--min-interval-ms must be between 0 and 60000, not {value:g}")
    return value


def _ca(path: str) -> str:
    if path and not Path(path).is_file():
        raise ConfigError(f"--ca-file {path}: no such file")
    return str(Path(path).resolve()) if path else ""


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name!r} is not a time zone (e.g. America/Chicago)") from None
    return name


def _pulling(home: Home, slug: str) -> SourceConfig:
    config = source_of(home.store.district(slug))
    if not config.pulls:
        raise ConfigError(
            f"district {slug} sends its roster over SFTP; give it a pull source first:"
            f" `roster district source {slug} powerschool-api --url ... --client-id ..."
            " --client-secret-stdin`"
        )
    return config


def plugin(home: Home, slug: str, publisher: str, email: str, name: str = "") -> bytes:
    """The district's plugin zip; its version steps up whenever the field list changed."""
    config = _pulling(home, slug)
    version = next_version(config.plugin_version or None, config.plugin_fingerprint or None)
    spec = PluginSpec(name or f"{publisher} Roster"[:40], publisher, email, version)
    data = plugin_zip(spec)
    record = home.store.district(slug)
    _stored(home, record, replace(config, plugin_version=version,
                                  plugin_fingerprint=fingerprint()))  # fmt: skip
    return data


def connection_checks(home: Home, slug: str, retries: Retries | None = None) -> list[Check]:
    """`roster district test`: token, metadata, each query's count and field access."""
    config = _pulling(home, slug)
    source = open_source(config, vault(home), connections=_connections(home), retries=retries)
    try:
        return source.test()
    finally:
        source.client.close()


def _connections(home: Home) -> int:
    return home.settings.system.connections_per_district


def fetch(home: Home, slug: str, retries: Retries | None = None) -> Pulled:
    """Fetch the district's roster into a zip under ``work/``; the caller owns the zip.
    Nothing is left behind when the fetch fails."""
    config = _pulling(home, slug)
    source = open_source(config, vault(home), connections=_connections(home), retries=retries)
    work = home.folder("work")
    work.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=work, prefix=f"pull-{slug}-"))
    try:
        fetched = source.fetch(folder)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = work / f"{slug}-{stamp}-{os.getpid()}.zip"
        _zip(folder, target)
    except SourceError as exc:
        raise SourceError(f"district {slug}: {exc}", exc.code) from None
    finally:
        source.client.close()
        shutil.rmtree(folder, ignore_errors=True)
    return Pulled(target, fetched)


def _zip(folder: Path, target: Path) -> None:
    """The files uncompressed: the zip is a hand-off on one disk, not a transfer."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        for path in sorted(folder.glob("*.csv")):
            out.write(path, path.name)


def pull(
    home: Home, slug: str, progress: Progress = no_progress, retries: Retries | None = None
) -> BatchResult:
    """Fetch and process now (`roster pull`); a failed fetch forms no batch. Refused
    at once (ConflictError) while another pull or a rollback holds the district."""
    system.require_enabled(home, "pulling")
    with _claimed(home, slug) as hold:
        progress("fetch", None)
        pulled = _fetch_recorded(home, slug, retries)
        named = pulled.path.with_name(batch_name(slug))
        try:
            os.replace(pulled.path, named)
            _still_held(home, hold)
            # Named so, its rejects are told by query, record and key (render.locations).
            return pipeline.process(home, slug, [named], progress=progress)
        finally:
            named.unlink(missing_ok=True)
            pulled.path.unlink(missing_ok=True)


def deliver(home: Home, slug: str, retries: Retries | None = None) -> Path:
    """Fetch and publish the zip into the district's inbox, as a finished upload: the
    service forms and processes the batch like any other (`roster serve`)."""
    with _claimed(home, slug) as hold:
        pulled = _fetch_recorded(home, slug, retries)
        try:
            _still_held(home, hold)
        except ConflictError:
            pulled.path.unlink(missing_ok=True)
            raise
        inbox = home.folder("inbox", slug)
        inbox.mkdir(parents=True, exist_ok=True)
        target = inbox / published_name(batch_name(slug), datetime.now(UTC))
        shutil.move(pulled.path, target)
    return target


@contextmanager
def _claimed(home: Home, slug: str) -> Iterator[claims.Hold]:
    """One pull of a district at a time, across processes and hosts: the district's
    claim (claims.district), kept alive while the pull fetches and applies."""
    _pulling(home, slug)  # an unknown district or one without a source claims nothing
    started = datetime.now(UTC).strftime("%H:%M:%S")
    with claims.district(
        home, slug, "pull", f"a pull of its roster (started {started} UTC)"
    ) as hold:
        yield hold


def _still_held(home: Home, hold: claims.Hold) -> None:
    """A pull whose claim lapsed (the process stalled past claim_seconds) may have been
    overtaken by another: it applies nothing rather than race it."""
    if not hold.confirmed():
        seconds = home.settings.service.claim_seconds
        raise ConflictError(
            f"district {hold.slug}: this pull lost its hold on the district (it stalled for more"
            f" than claim_seconds, {seconds:g} s, and another pull or a rollback may have"
            " started); nothing was applied, the loaded roster stays as it was"
        )


def _fetch_recorded(home: Home, slug: str, retries: Retries | None) -> Pulled:
    try:
        pulled = fetch(home, slug, retries)
    except (SourceError, ConfigError) as exc:  # a refused server, or a secret we cannot read
        said = str(exc) if str(exc).startswith(f"district {slug}") else f"district {slug}: {exc}"
        message = f"{said}. Nothing was applied: the loaded roster stays as it was."
        code = exc.code if isinstance(exc, SourceError) else "configuration"
        events.record(home, "error", "pull_failed", message, district=slug, always=True,
                      details={"code": code})  # fmt: skip
        if isinstance(exc, SourceError):
            raise SourceError(message, exc.code) from None
        raise ConfigError(message) from None
    f = pulled.fetched
    events.record(home, "info", "pull_fetched", _note(pulled), district=slug,
                  details={"rows": f.rows, "requests": f.requests, "retries": f.retries,
                           "seconds": round(f.seconds, 3)})  # fmt: skip
    return pulled


def _note(pulled: Pulled) -> str:
    f = pulled.fetched
    rows = ", ".join(f"{n:,} {name}" for name, n in f.rows.items())
    version = f.metadata.get("powerschool_version")
    return (
        f"pulled from PowerSchool{f' {version}' if version else ''} in {f.seconds:.1f} s:"
        f" {rows} ({f.requests} requests, {f.retries} retried)"
    )
