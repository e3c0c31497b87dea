"""Districts: the registry entry, the SFTP account, and what a district admin is told.

Also the receiver's view of accounts (``DistrictAccounts``, sftp_server's
Accounts protocol): the database is the one source of truth for logins.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl

from roster_pipeline import hostkeys
from roster_pipeline.config import DISTRICT_KEYS, Settings
from roster_pipeline.contracts.dialects import CsvDialect
from roster_pipeline.contracts.specs import Spec, load_spec
from roster_pipeline.errors import ConflictError, TerminalError, UnknownDistrictError
from roster_pipeline.home import Home
from roster_pipeline.render.guide import GuideInput
from roster_pipeline.sources import SourceConfig
from roster_pipeline.store import DistrictRecord, Store, open_store, roster_table
from sftp_server import Account, UploadRecord

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


@dataclass(frozen=True)
class Provisioned:
    """A district just provisioned or changed; ``password`` is shown once, never stored."""

    district: DistrictRecord
    password: str | None = None


def validate_slug(slug: str) -> str:
    """A slug names folders and the SFTP user: lower-case letters, digits, '-', '_'."""
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise TerminalError(
            f"district slug {slug!r} is not valid: use 1 to 63 lower-case letters, digits,"
            " '-' or '_', starting with a letter or digit"
        )
    return slug


def _key_line(line: str) -> str:
    """Validate one authorized_keys line; returns it normalised."""
    import asyncssh  # here: the pipeline's commands start without the SSH library

    try:
        key = asyncssh.import_public_key(line.strip())
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise TerminalError(f"not a public key in authorized_keys format: {exc}") from None
    comment = line.strip().split(None, 2)[2] if len(line.split()) > 2 else ""
    return (key.export_public_key("openssh").decode().strip() + " " + comment).strip()


def _fingerprint(line: str) -> str:
    import asyncssh

    return str(asyncssh.import_public_key(line).get_fingerprint("sha256"))


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise TerminalError(f"{text!r} is not an IP address or CIDR range") from None


def add_district(
    home: Home,
    slug: str,
    name: str = "",
    spec: str = "roster-csv",
    *,
    username: str | None = None,
    password: str | None = None,
    with_password: bool = True,
    public_keys: tuple[str, ...] = (),
    allow_ips: tuple[str, ...] = (),
) -> Provisioned:
    """Register a district and its SFTP account; its inbox folder is created.

    Without ``password``, a strong one is generated (and returned once) unless
    ``with_password`` is False (key-only accounts).
    """
    validate_slug(slug)
    load_spec(spec)  # fail early on an unknown contract
    _must_not_exist(home.store, slug)
    if not with_password and not public_keys:
        raise TerminalError(f"district {slug}: a key-only account needs at least one --public-key")
    secret, password_hash = _credential(password) if with_password else (None, "")
    record = DistrictRecord(
        slug=slug,
        name=name or slug,
        spec=spec,
        username=validate_slug(username or slug),
        password_hash=password_hash,
        public_keys=tuple(_key_line(k) for k in public_keys),
        allow_ips=tuple(_cidr(c) for c in allow_ips),
        created_at=datetime.now(UTC),
    )
    home.store.put_district(record)
    home.folder("inbox", slug).mkdir(parents=True, exist_ok=True)
    return Provisioned(record, secret)


def _credential(password: str | None) -> tuple[str, str]:
    """A password (generated unless given) and its argon2id hash."""
    from sftp_server import generate_password, hash_password  # argon2 loads only here

    secret = password or generate_password()
    return secret, hash_password(secret)


def _must_not_exist(store: Store, slug: str) -> None:
    try:
        store.district(slug)
    except UnknownDistrictError:
        return
    raise ConflictError(f"district {slug!r} already exists (see `roster district show {slug}`)")


def rotate_password(home: Home, slug: str, password: str | None = None) -> Provisioned:
    """Set a new password (generated unless given); the old one stops working at once."""
    secret, password_hash = _credential(password)
    record = replace(home.store.district(slug), password_hash=password_hash)
    home.store.put_district(record)
    return Provisioned(record, secret)


def add_key(home: Home, slug: str, line: str) -> Provisioned:
    record = home.store.district(slug)
    key = _key_line(line)
    if _fingerprint(key) in {_fingerprint(k) for k in record.public_keys}:
        raise ConflictError(f"district {slug}: that key is already authorized")
    record = replace(record, public_keys=(*record.public_keys, key))
    home.store.put_district(record)
    return Provisioned(record)


def remove_key(home: Home, slug: str, fingerprint: str) -> Provisioned:
    """Remove the key with that SHA256 fingerprint (as `district show` lists it)."""
    record = home.store.district(slug)
    kept = tuple(k for k in record.public_keys if _fingerprint(k) != fingerprint)
    if len(kept) == len(record.public_keys):
        raise TerminalError(f"district {slug} has no key with fingerprint {fingerprint}")
    if not kept and not record.password_hash:
        raise ConflictError(f"district {slug}: removing its last key would lock it out")
    record = replace(record, public_keys=kept)
    home.store.put_district(record)
    return Provisioned(record)


def set_enabled(home: Home, slug: str, enabled: bool) -> Provisioned:
    record = replace(home.store.district(slug), enabled=enabled)
    home.store.put_district(record)
    return Provisioned(record)


def remove_district(home: Home, slug: str, purge: bool) -> None:
    """Without ``purge`` the received files, loaded rows and batch records stay."""
    home.store.remove_district(slug, purge)
    if purge:
        shutil.rmtree(home.folder("inbox", slug), ignore_errors=True)


def connection_info(
    settings: Settings, record: DistrictRecord, password: str | None = None
) -> dict[str, Any]:
    """Everything a district admin types into PowerSchool's Remote Connection Manager."""
    methods = (["password"] if record.password_hash else []) + (
        ["publickey"] if record.public_keys else []
    )
    info: dict[str, Any] = {
        "district": record.slug,
        "name": record.name,
        "spec": record.spec,
        "host": public_address(settings)[0],
        "port": public_address(settings)[1],
        "username": record.username,
        "authentication": methods,
        "enabled": record.enabled,
        "public_keys": [{"fingerprint": _fingerprint(k), "key": k} for k in record.public_keys],
        "allow_ips": list(record.allow_ips),
        "host_key_fingerprints": _host_fingerprints(settings),
    }
    if password:
        info["password"] = password
    return info


def described(settings: Settings, record: DistrictRecord) -> dict[str, Any]:
    """`district show`: the connection, the pause state, and each setting a district may
    set, with whether it is the district's own or the deployment's."""
    own = record.settings
    effective = settings.for_district(own).flat()
    knobs = {
        key: {"value": effective[key], "source": "district" if key in own else "deployment"}
        for key in DISTRICT_KEYS
    }
    return {
        **connection_info(settings, record),
        "paused": record.paused,
        "source": source_info(record),
        "settings": knobs,
    }


def source_info(record: DistrictRecord) -> dict[str, Any]:
    """Where the district's roster comes from; of a secret, only whether it is set."""
    config = SourceConfig.of(record.settings)
    if not config.pulls:
        return {"kind": "sftp"}
    shown: dict[str, Any] = {"kind": config.kind, "url": config.url,
                             "client_id": config.client_id,
                             "client_secret": "set" if config.secret else "NOT SET"}  # fmt: skip
    if config.pull_at:
        shown["pull_at"] = f"{config.pull_at} {config.timezone}"
    if config.pull_every_hours:
        shown["pull_every_hours"] = config.pull_every_hours
    if not config.scheduled:
        shown["schedule"] = "none: pulled by `roster pull` only"
    if config.ca_file:
        shown["ca_file"] = config.ca_file
    if config.min_interval_ms:
        shown["min_interval_ms"] = config.min_interval_ms
    if config.plugin_version:
        shown["plugin_version"] = config.plugin_version
    return shown


def public_address(settings: Settings) -> tuple[str, int]:
    """The host and port districts are told: the public ones, else where we listen."""
    receiver = settings.receiver
    return (
        receiver.public_host or receiver.listen_host,
        receiver.public_port or receiver.listen_port,
    )


def unreachable_host(host: str) -> str | None:
    """Why districts could not connect to ``host``, or None when it may be reachable."""
    name = host.strip().strip("[]").lower()
    if name in {"", "*"}:
        return "no address is set"
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is this machine's loopback name"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None  # a host name: whether it resolves is the DNS's business
    if address.is_unspecified:
        return f"{host} is a wildcard listen address, not an address to connect to"
    if address.is_loopback:
        return f"{host} is a loopback address, reachable from this machine only"
    return None


def onboarding(home: Home, slug: str, new_password: str | None = None) -> GuideInput:
    """What the district's onboarding guide is generated from.

    Only an argon2 hash of the password is stored, so it cannot be shown again:
    a guide carrying a password carries a NEW one, ``new_password``, which the
    caller stores with ``rotate_password`` only once the guide is safely written
    (so a failed write never locks the district out).
    """
    record = home.store.district(slug)
    if new_password is not None and not record.password_hash:
        raise ConflictError(f"district {slug} logs in with a key only; it has no password")
    dialect = CsvDialect.from_settings(record.settings)
    spec = dialect.apply(load_spec(record.spec))
    return GuideInput(
        connection_info(home.settings, record, new_password), spec, dialect, source_info(record)
    )


def new_password() -> str:
    """A generated password, not yet given to any district."""
    from sftp_server import generate_password

    return generate_password()


def _host_fingerprints(settings: Settings) -> list[dict[str, str]]:
    found = hostkeys.fingerprints(settings.path("hostkeys"))
    return [{"algorithm": alg, "fingerprint": fp} for alg, fp in found]


def export(home: Home, slug: str, table: str, as_of: str | None = None) -> pl.DataFrame:
    """What is loaded now (or was after batch ``as_of``) for the district's ``table``: a
    file of its spec in the spec's column names, or a table several files fill (users
    from students and teachers, class_teachers) in the table's own column names."""
    record = home.store.district(slug)
    snapshot = _snapshot(home, as_of)

    spec = load_spec(record.spec)
    feeders = spec.feeders(table)
    if len(feeders) > 1 or (feeders and table not in {f.name for f in spec.files}):
        feeds = [d for f in feeders for d in f.feeds if d.table == table]
        filled = {c for d in feeds for c in d.targets}
        targets = tuple(c for c in roster_table(table).columns if c in filled)
        return snapshot(slug, table, targets).sort(list(feeds[0].key))
    try:
        file_spec = spec.file(table)
    except KeyError:
        known = ", ".join(dict.fromkeys([*(f.name for f in spec.files), *_tables(spec)]))
        raise TerminalError(
            f"{table!r} is not a table of spec {spec.name} (tables: {known})"
        ) from None
    if not file_spec.load:
        raise TerminalError(f"{table} is checked but not loaded (spec {spec.name})")
    columns = file_spec.loaded_columns
    frame = snapshot(slug, file_spec.table, tuple(c.target for c in columns))
    return frame.rename({c.target: c.name for c in columns}).sort(list(file_spec.key))


def _snapshot(home: Home, as_of: str | None) -> Callable[[str, str, Sequence[str]], pl.DataFrame]:
    """The loaded rows now, or as they stood after batch ``as_of``."""
    if as_of is None:
        return home.store.snapshot
    from roster_pipeline import history

    return lambda district, table, columns: history.as_of(home, district, as_of, table).select(
        list(columns)
    )


def _tables(spec: Spec) -> list[str]:
    return [d.table for f in spec.files for d in f.feeds]


class DistrictAccounts:
    """sftp_server's Accounts and BanStore over the store; thread-safe (one lock)."""

    def __init__(self, db_url: str) -> None:
        self._store = open_store(db_url)
        self._lock = threading.Lock()

    def lookup(self, username: str) -> Account | None:
        with self._lock:
            record = self._store.district_by_username(username)
        if record is None:
            return None
        return Account(
            username=record.username,
            district=record.slug,
            password_hash=record.password_hash,
            authorized_keys=record.public_keys,
            allowed_cidrs=record.allow_ips,
            enabled=record.enabled,
        )

    def on_upload(self, record: UploadRecord) -> None:
        with self._lock:
            self._store.record_upload(record)

    # sftp_server's BanStore: bans shared by every receiver on this database
    def active_bans(self, now: float) -> dict[str, float]:
        with self._lock:
            return {b.address: b.until.timestamp() for b in self._store.bans(now)}

    def add_ban(self, address: str, until: float, reason: str) -> None:
        with self._lock:
            self._store.add_ban(address, until, reason)

    def close(self) -> None:
        with self._lock:
            self._store.close()
