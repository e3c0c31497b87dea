"""Settings: one typed model, read from ``<home>/roster.toml`` then ``ROSTER_*``.

Each setting is declared once, with its default and its range, in a nested group
(``receiver``, ``limits``, ``zip``, ``holds``, ``service``) and validated once by
pydantic. Outside, every setting keeps one flat name, unique across the groups:
the key in ``roster.toml``, the environment variable ``ROSTER_`` + the upper-cased
name (``ROSTER_DATABASE_URL``, ``ROSTER_MAX_FILE_SIZE``), the keyword of
``load_settings`` and the key of a district's stored settings.

Precedence, lowest first: defaults, ``roster.toml`` in the home folder, environment
variables, explicit keyword overrides (the CLI's ``--home`` / ``--db``). A district's
stored settings override the deployment's for that district (``for_district``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.dataclasses import dataclass as checked_dataclass
from pydantic.fields import FieldInfo

from roster_pipeline.errors import ConfigError
from sftp_server.limits import Limits

GiB = 1024**3

#: Settings a district may set for itself (``roster district set``); the others are
#: the deployment's, though a stored value of any setting applies to its district.
DISTRICT_KEYS = (
    "max_delete_pct",
    "max_update_pct",
    "max_reject_pct",
    "strict_columns",
    "settle_seconds",
    "expect_every_hours",
    "retention_days",
)

_STRICT = ConfigDict(
    frozen=True, extra="forbid", allow_inf_nan=False, coerce_numbers_to_str=True, defer_build=True
)
Percent = Annotated[float, Field(ge=0.0, le=100.0)]


@checked_dataclass(frozen=True, config=ConfigDict(allow_inf_nan=False, defer_build=True))
class Thresholds:
    """Hold a batch that would delete or update more than this share of a table, or
    whose files had more than this share of a table's rows rejected."""

    max_delete_pct: Percent = 10.0
    max_update_pct: Percent = 75.0
    max_reject_pct: Percent = 20.0  # of the rows sent; first loads included
    # Rules on columns the contract does not load reject their row (default: a warning).
    strict_columns: bool = False


@checked_dataclass(
    frozen=True, config=ConfigDict(allow_inf_nan=False, validate_by_name=True, defer_build=True)
)
class ZipLimits:
    """What one zip may expand to; a zip past any of them rejects its batch."""

    max_unpacked_bytes: Annotated[int, Field(ge=0)] = 2 * GiB
    max_compression_ratio: Annotated[float, Field(gt=0.0)] = 200.0
    max_members: Annotated[int, Field(ge=0, alias="max_zip_members")] = 1000
    # The ratio is only judged past this many bytes of a member: a tiny file of
    # repeated characters compresses far beyond any sane ratio and is harmless.
    # Not a setting (no flat name): a fixed property of the check.
    ratio_floor_bytes: Annotated[int, Field(exclude=True)] = 1024 * 1024


class Receiver(BaseModel):
    """Where the SFTP receiver listens, and what districts are told."""

    model_config = _STRICT

    listen_host: str = "127.0.0.1"
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 2222
    public_host: str = ""  # the host name districts are told to connect to
    public_port: Annotated[int, Field(ge=0, le=65535)] = 0  # the port they are told; 0: listen_port
    legacy_algorithms: bool = False  # SHA-1 kex and client signatures for old Java clients
    strict_algorithms: bool = False  # no NIST curves or encrypt-and-MAC: JSch cannot connect


class Service(BaseModel):
    """The service's timing; a district may override settle, expect_every and retention."""

    model_config = _STRICT

    settle_seconds: Annotated[float, Field(ge=0.0, le=7 * 86400.0)] = 300.0
    settle_quick_seconds: Annotated[float, Field(ge=0.0)] = 5.0  # once every required file is in
    expect_every_hours: Annotated[float, Field(ge=0.0, le=366 * 24.0)] = 26.0  # longer: STALE
    retention_days: Annotated[float, Field(ge=0.0, le=36500.0)] = 30.0  # archives purged after
    claim_seconds: Annotated[float, Field(gt=0.0)] = 300.0  # a worker's claim, renewed


class Web(BaseModel):
    """The ops console (`roster web`, `roster serve --role web`)."""

    model_config = _STRICT

    web_host: str = "127.0.0.1"
    web_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    web_forwarded_allow_ips: str = "127.0.0.1"  # proxies whose X-Forwarded-Proto is believed


#: Event levels beyond errors (always recorded), least detailed first.
LOG_LEVELS = ("warning", "info", "diagnostic")


class System(BaseModel):
    """PowerSchool DEX's General Setup: what `roster system` changes for every node.

    Their values are stored in the database (so all machines share them) over these
    defaults; a value fixed in roster.toml or ROSTER_* wins and cannot be changed there.
    """

    model_config = _STRICT

    system_enabled: bool = True  # off: no batch is formed or processed; uploads are kept
    log_levels: str = ""  # comma-separated, from LOG_LEVELS; errors are always recorded
    job_frequency: Literal["low", "standard", "high"] = "standard"
    purge_policy: Literal["aggressive", "typical", "seldom"] = "typical"
    # SFTP sessions one district may hold at once (and API requests once pull sources exist).
    connections_per_district: Annotated[int, Field(ge=1, le=1000)] = 5

    @field_validator("log_levels", mode="after")
    @classmethod
    def _known_levels(cls, value: str) -> str:
        words = {part.strip().lower() for part in value.split(",")} - {""}
        given = {w.removesuffix("s") if w.removesuffix("s") in LOG_LEVELS else w for w in words}
        unknown = given - set(LOG_LEVELS) - {"error"}
        if unknown:
            known = ", ".join(LOG_LEVELS)
            raise ValueError(f"log_levels has unknown level(s) {', '.join(sorted(unknown))}"
                             f" (known: {known}; errors are always on)")  # fmt: skip
        return ",".join(level for level in LOG_LEVELS if level in given)


class Settings(BaseModel):
    """Everything tunable about a deployment. Per-district settings live in the database."""

    model_config = _STRICT

    home: Path = Path("roster-data")
    database_url: str = ""  # empty: SQLite at <home>/roster.db
    # Seconds a PostgreSQL server may take to answer before a command gives up.
    database_connect_timeout: Annotated[float, Field(gt=0.0, le=3600.0)] = 10.0
    webhook_url: str = ""  # alerts are posted here; empty: logged only
    receiver: Receiver = Field(default_factory=Receiver)
    limits: Limits = Field(default_factory=Limits)  # the receiver's limits, declared by sftp_server
    zip: ZipLimits = Field(default_factory=ZipLimits)
    holds: Thresholds = Field(default_factory=Thresholds)
    service: Service = Field(default_factory=Service)
    web: Web = Field(default_factory=Web)
    system: System = Field(default_factory=System)

    @field_validator("home", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("limits", mode="after")
    @classmethod
    def _limits_not_negative(cls, value: Limits) -> Limits:
        for item in dataclasses.fields(value):
            number = getattr(value, item.name)
            if not isinstance(number, int | float) or isinstance(number, bool):
                continue  # not a number (a list of names): nothing to bound
            if not number >= 0:  # NaN is not a limit either
                raise ValueError(f"{item.name} must be at least 0, not {number}")
        return value

    @property
    def db_url(self) -> str:
        """The database URL in force: explicit, or SQLite inside the home."""
        return self.database_url or f"sqlite:///{(self.home / 'roster.db').resolve()}"

    @property
    def receiver_limits(self) -> Limits:
        """The receiver's limits, with the system's simultaneous connections per district."""
        return dataclasses.replace(
            self.limits, max_sessions_per_account=self.system.connections_per_district
        )

    def path(self, *parts: str) -> Path:
        """A path inside the home folder."""
        return self.home.joinpath(*parts)

    def flat(self) -> dict[str, Any]:
        """Every setting under its flat name (as ``roster.toml`` spells it)."""
        nested = self.model_dump(by_alias=True)
        return {name: _get(nested, path) for name, path in _PATHS.items()}

    def replaced(self, values: Mapping[str, Any], origin: str = "") -> Settings:
        """These settings with ``values`` (flat names) replacing theirs, validated."""
        nested = self.model_dump(by_alias=True)
        for name, value in values.items():
            _put(nested, _PATHS[name], value)
        return _validated(nested, dict.fromkeys(values, origin))

    def for_district(self, district_settings: Mapping[str, Any]) -> Settings:
        """A district's effective settings: these, overridden by its stored ones.

        Keys that are not settings (the district's dialect) are not this model's.
        """
        own = {k: v for k, v in district_settings.items() if k in _PATHS}
        return self.replaced(own) if own else self


#: The settings `roster system set` may change: General Setup's, and what districts are told.
SYSTEM_KEYS = (*System.model_fields, "public_host", "public_port", "webhook_url")
#: Settings shown as set or not, never as their value: they may carry a password or token.
SECRET_KEYS = ("database_url", "webhook_url")

#: Days kept, by purge policy: raw archives and reports, and events.
PURGE_DAYS: Mapping[str, Mapping[str, float]] = {
    "aggressive": {"archive": 7.0, "events": 14.0},
    "typical": {"archive": 30.0, "events": 90.0},
    "seldom": {"archive": 180.0, "events": 365.0},
}


def with_system_values(settings: Settings, stored: Mapping[str, Any]) -> Settings:
    """``settings`` with the system values stored in the database (`roster system set`)
    under roster.toml's and ROSTER_*'s; the purge policy sets archive retention unless a
    file sets retention_days."""
    fixed = fixed_names(settings.home)
    values = {k: v for k, v in stored.items() if k in SYSTEM_KEYS and k not in fixed}
    merged = settings.replaced(values, "the database (roster system set)") if values else settings
    if "retention_days" not in fixed:
        archive_days = PURGE_DAYS[merged.system.purge_policy]["archive"]
        merged = merged.replaced({"retention_days": archive_days})
    return merged


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the Settings in force; ``overrides`` with value None are ignored."""
    env = os.environ if env is None else env
    unknown = sorted(set(overrides) - set(_PATHS))
    if unknown:
        raise TypeError(f"load_settings: unknown setting(s): {', '.join(unknown)}")
    chosen = {k: v for k, v in overrides.items() if v is not None}
    from_env = {n: env[f"ROSTER_{n.upper()}"] for n in _PATHS if env.get(f"ROSTER_{n.upper()}")}
    home = Path(str(chosen.get("home") or from_env.get("home") or Settings().home)).expanduser()
    toml = home / "roster.toml"
    origins: dict[str, str] = {}
    nested: dict[str, Any] = {}
    for values, origin in (
        (_from_toml(toml), str(toml)),
        (from_env, "ROSTER_{}"),
        (chosen, "option"),
    ):
        for name, value in values.items():
            _put(nested, _PATHS[name], value)
            origins[name] = origin.format(name.upper())
    nested["home"] = home
    return _validated(nested, origins)


def fixed_names(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings roster.toml or ROSTER_* fix for ``home``, each with where it is set:
    values stored in the database (`roster system set`) yield to these."""
    env = os.environ if env is None else env
    toml = home / "roster.toml"
    fixed = dict.fromkeys(_from_toml(toml), str(toml))
    fixed.update({n: f"ROSTER_{n.upper()}" for n in _PATHS if env.get(f"ROSTER_{n.upper()}")})
    return fixed


def _from_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_PATHS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    return data


def _validated(nested: Mapping[str, Any], origins: Mapping[str, str]) -> Settings:
    try:
        return Settings.model_validate(nested)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][-1]) if first["loc"] else ""
        if first["type"] == "value_error":  # a receiver limit: the message names it
            name = str(first["ctx"]["error"]).split(" ", 1)[0]
        where = origins.get(name, "")
        raise ConfigError((f"{where}: " if where else "") + _problem(name, first)) from None


def _problem(name: str, error: Any) -> str:
    """One line about a value out of its range, or not of its type."""
    raw = error.get("input")
    low, high = _RANGES.get(name, (None, None))
    if error["type"] in _RANGE_ERRORS:
        value = f"{float(raw):g}"  # the number as read (ROSTER_* gives text)
        if low is not None and high is not None:
            return f"{name} must be between {low:g} and {high:g}, not {value}"
        if error["type"] == "greater_than":
            return f"{name} must be more than {low:g}, not {value}"
        return f"{name} must be at least {low:g}, not {value}"
    if error["type"] == "literal_error":
        return f"{name} must be {error['ctx']['expected']}, not {raw!r}"
    if error["type"] == "value_error":  # a receiver limit below 0, unknown log levels
        return str(error["ctx"]["error"])
    return f"{name} = {raw!r} is not a valid {_KINDS.get(name, 'value')}"


_RANGE_ERRORS = {
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number",
}  # fmt: skip


def _fields(cls: Any) -> Iterator[tuple[str, FieldInfo | None, Any]]:
    """(name, field, type) of a model or dataclass; field None for a plain dataclass."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        for name, info in cls.model_fields.items():
            yield name, info, info.annotation
    elif hasattr(cls, "__pydantic_fields__"):
        for name, info in cls.__pydantic_fields__.items():
            yield name, info, info.annotation
    else:
        for item in dataclasses.fields(cls):
            yield item.name, None, item.type


#: Receiver limits that a system setting decides (see ``Settings.receiver_limits``):
#: not settings of their own, so one knob changes them.
_SET_BY_SYSTEM = frozenset({"max_sessions_per_account"})


def _leaves(cls: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    """(flat name, path, field) of every setting; a group's fields are flat names."""
    for name, info, kind in _fields(cls):
        if (info is not None and info.exclude) or name in _SET_BY_SYSTEM:
            continue
        key = (info.alias if info is not None else None) or name
        if isinstance(kind, type) and (
            issubclass(kind, BaseModel) or dataclasses.is_dataclass(kind)
        ):
            yield from _leaves(kind, (*path, key))
        else:
            yield key, (*path, key), info


def _bounds(info: FieldInfo | None) -> tuple[float | None, float | None]:
    low = high = None
    for item in info.metadata if info is not None else ():
        low = getattr(item, "ge", getattr(item, "gt", low))
        high = getattr(item, "le", getattr(item, "lt", high))
    return low, high


def _get(nested: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        nested = nested[part]
    return nested


def _put(nested: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        nested = nested.setdefault(part, {})
    if isinstance(value, str) and _KINDS.get(path[-1], "").startswith("tuple"):
        value = tuple(item.strip() for item in value.split(",") if item.strip())  # "a, b"
    nested[path[-1]] = value


_LEAVES = list(_leaves(Settings))
_PATHS = {name: path for name, path, _ in _LEAVES}
_RANGES = {name: _bounds(info) for name, _, info in _LEAVES}
_KINDS = {
    name: getattr(info.annotation, "__name__", "value") if info else "number"
    for name, _, info in _LEAVES
}
_KINDS.update({f.name: str(f.type) for f in dataclasses.fields(Limits)})
