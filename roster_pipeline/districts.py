"""Districts: provisioning the registry entry (and, with the receiver, the SFTP account)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl

from roster_pipeline.errors import ConflictError, TerminalError, UnknownDistrictError
from roster_pipeline.home import Home
from roster_pipeline.specs import load_spec
from roster_pipeline.store import DistrictRecord

__all__ = ["SLUG_PATTERN", "add_district", "export", "validate_slug"]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def validate_slug(slug: str) -> str:
    """A slug names folders and the SFTP user: lower-case letters, digits, '-', '_'."""
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise TerminalError(
            f"district slug {slug!r} is not valid: use 1 to 63 lower-case letters, digits,"
            " '-' or '_', starting with a letter or digit"
        )
    return slug


def add_district(home: Home, slug: str, name: str = "", spec: str = "roster-csv") -> DistrictRecord:
    """Register a district; its inbox folder is created. Fails if it exists."""
    validate_slug(slug)
    load_spec(spec)  # fail early on an unknown contract
    try:
        home.store.district(slug)
    except UnknownDistrictError:
        pass
    else:
        raise ConflictError(f"district {slug!r} already exists (see `roster district show {slug}`)")
    record = DistrictRecord(
        slug=slug, name=name or slug, spec=spec, username=slug, created_at=datetime.now(UTC)
    )
    home.store.put_district(record)
    home.folder("inbox", slug).mkdir(parents=True, exist_ok=True)
    return record


def export(home: Home, slug: str, table: str) -> pl.DataFrame:
    """What is loaded now for the district's ``table``, in the spec's column names."""
    record = home.store.district(slug)
    spec = load_spec(record.spec)
    try:
        file_spec = spec.file(table)
    except KeyError:
        known = ", ".join(f.name for f in spec.files)
        raise TerminalError(
            f"{table!r} is not a table of spec {spec.name} (tables: {known})"
        ) from None
    frame = home.store.snapshot(slug, file_spec.table, file_spec.column_names)
    return frame.sort(list(file_spec.key))
