"""Rows: records to database values and back (JSON text for mappings and lists).

Both engines store timestamps as ISO-8601 text and flags as 0/1 integers, so
one conversion serves both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import polars as pl

from roster_pipeline.store.records import (
    BatchRecord,
    BatchStatus,
    DistrictRecord,
    FileRecord,
    TableCounts,
)
from sftp_server import UploadRecord

DISTRICT_COLUMNS = (
    "slug", "name", "spec", "username", "password_hash", "public_keys", "allow_ips",
    "enabled", "paused", "settings", "created_at",
)  # fmt: skip
BATCH_COLUMNS = (
    "batch_id", "district_id", "status", "received_at", "finished_at", "source", "counts",
    "rejects", "report_path", "hold_reasons", "warnings", "message", "mode",
)  # fmt: skip
FILE_SCHEMA: dict[str, pl.DataType] = {
    "batch_id": pl.String(),
    "name": pl.String(),
    "file_spec": pl.String(),
    "sha256": pl.String(),
    "size": pl.Int64(),
    "rows": pl.Int64(),
    "rejected": pl.Int64(),
    "seq": pl.Int64(),  # the batch's own order of its files
}


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def district_to_row(d: DistrictRecord) -> tuple[Any, ...]:
    created = d.created_at or datetime.now(UTC)
    return (
        d.slug, d.name, d.spec, d.username or None, d.password_hash,
        json.dumps(list(d.public_keys)), json.dumps(list(d.allow_ips)),
        int(d.enabled), int(d.paused), json.dumps(dict(d.settings)), _time(created),
    )  # fmt: skip


def district_from_row(row: Sequence[Any]) -> DistrictRecord:
    v = dict(zip(DISTRICT_COLUMNS, row, strict=True))
    return DistrictRecord(
        slug=v["slug"],
        name=v["name"],
        spec=v["spec"],
        username=v["username"] or "",
        password_hash=v["password_hash"],
        public_keys=tuple(json.loads(v["public_keys"])),
        allow_ips=tuple(json.loads(v["allow_ips"])),
        enabled=bool(v["enabled"]),
        paused=bool(v["paused"]),
        settings=json.loads(v["settings"]),
        created_at=_parse_time(v["created_at"]),
    )


def batch_to_row(b: BatchRecord) -> tuple[Any, ...]:
    counts = {table: asdict(c) for table, c in b.counts.items()}
    return (
        b.batch_id, b.district, str(b.status), _time(b.received_at), _time(b.finished_at),
        b.source, json.dumps(counts), b.rejects, b.report_path,
        json.dumps(list(b.hold_reasons)), json.dumps(list(b.warnings)), b.message, b.mode,
    )  # fmt: skip


def batch_from_row(row: Sequence[Any], files: Sequence[FileRecord]) -> BatchRecord:
    v = dict(zip(BATCH_COLUMNS, row, strict=True))
    counts: Mapping[str, Any] = json.loads(v["counts"])
    received = _parse_time(v["received_at"])
    assert received is not None  # NOT NULL column
    return BatchRecord(
        batch_id=v["batch_id"],
        district=v["district_id"],
        status=BatchStatus(v["status"]),
        received_at=received,
        finished_at=_parse_time(v["finished_at"]),
        source=v["source"],
        files=tuple(files),
        counts={table: TableCounts(**c) for table, c in counts.items()},
        rejects=int(v["rejects"]),
        report_path=v["report_path"],
        hold_reasons=tuple(json.loads(v["hold_reasons"])),
        warnings=tuple(json.loads(v["warnings"])),
        message=v["message"],
        mode=v["mode"],
    )


def files_frame(batch_id: str, files: Sequence[FileRecord]) -> pl.DataFrame:
    rows = [{"batch_id": batch_id, **asdict(f), "seq": i} for i, f in enumerate(files)]
    return pl.DataFrame(rows, schema=FILE_SCHEMA)


def upload_to_row(u: UploadRecord) -> tuple[Any, ...]:
    return (
        u.district, u.username, u.original_name, u.published_path.name, u.size, u.sha256,
        u.client_address, u.client_version, json.dumps(asdict(u.algorithms)),
        _time(u.started), _time(u.finished),
    )  # fmt: skip
