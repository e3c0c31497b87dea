"""What every page shows, as the JSON its ``/api/`` twin returns: one model for both.

The HTML templates render these same objects, so a page and its JSON cannot
disagree, and the OpenAPI document describes exactly what the pages show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

#: Worst first: the overview sorts by this order.
DistrictState = Literal[
    "held", "rejected", "stale", "never received", "paused", "disabled", "ok"
]  # fmt: skip
STATES: tuple[str, ...] = (
    "held",
    "rejected",
    "stale",
    "never received",
    "paused",
    "disabled",
    "ok",
)


#: One batch on a chart: rows received, rows rejected.
Point = tuple[int, int]


class DistrictSummary(BaseModel):
    slug: str
    name: str
    status: DistrictState
    enabled: bool
    paused: bool
    last_batch: str | None
    last_batch_status: str | None
    last_batch_at: datetime | None
    last_batch_rejects: int | None
    last_upload: datetime | None
    next_expected: datetime | None
    held: int
    recent: list[Point]  # the last nights' batches, oldest first: (rows, rejects)


class Overview(BaseModel):
    generated_at: datetime
    total: int  # districts in all
    matched: int  # districts the filters keep
    offset: int  # where ``districts`` starts among them
    by_status: dict[str, int]
    districts: list[DistrictSummary]


class Category(BaseModel):
    """A roster table of the district, in review order, as the last batch left it."""

    table: str
    status: Literal["ok", "rejects", "held", "rejected", "not in batch"]
    loaded: int
    added: int
    updated: int
    deleted: int
    unchanged: int
    rejected: int


class BatchLine(BaseModel):
    batch_id: str
    status: str
    received_at: datetime
    finished_at: datetime | None
    rows: int
    rejects: int


class AuditLine(BaseModel):
    ts: str
    event: str
    action: str | None = None  # of a console_action: what the operator did
    username: str | None = None
    district: str | None = None
    address: str | None = None
    detail: str | None = None


class SftpAccount(BaseModel):
    username: str
    authentication: list[str]
    key_fingerprints: list[str]
    allow_ips: list[str]
    last_login: str | None
    recent_failures: int
    recent_bans: int  # bans of addresses that failed to log in as this account
    recent: list[AuditLine]


class UploadView(BaseModel):
    district: str
    username: str
    file: str
    size: int
    address: str
    client: str
    finished_at: str


class DistrictView(BaseModel):
    summary: DistrictSummary
    spec: str
    categories: list[Category]
    history: list[BatchLine]
    account: SftpAccount
    dialect: dict[str, str]
    thresholds: dict[str, float]
    uploads: list[UploadView]


class FileView(BaseModel):
    name: str
    table: str | None
    size: int
    rows: int
    rejected: int
    sha256: str
    archived: bool


class RejectGroupView(BaseModel):
    file: str | None
    where: str  # the file, or for a pulled batch the query (render.locations)
    code: str
    column: str | None
    count: int
    advice: str


class BatchView(BaseModel):
    batch_id: str
    district: str
    status: str
    message: str
    source: str
    received_at: datetime
    finished_at: datetime | None
    files: list[FileView]
    changes: list[Category]
    rejects: int
    hold_reasons: list[str]
    warnings: list[str]
    groups: list[RejectGroupView]
    actions: list[str]


class RejectRowView(BaseModel):
    reject_id: int
    file: str | None
    line: int | None
    column: str | None
    value: str | None
    code: str
    message: str
    key: str | None = None  # the key of the row it kept out, when known
    # A pulled batch's reject is in a query's records (null otherwise): render.locations.
    query: str | None = None
    record: int | None = None
    where: str = ""  # file and line, or query, record and key: as every report says it


class RejectPage(BaseModel):
    batch_id: str
    file: str | None
    code: str | None
    column: str | None
    rows: list[RejectRowView]
    next_after: int | None
    purged: bool = False  # the batch had rejects whose rows went with its retention


class SearchHit(BaseModel):
    table: str
    district: str
    key: str
    row: dict[str, str | None]


class SearchResult(BaseModel):
    query: str
    hits: list[SearchHit]
    timeline: bool  # whether the deployment keeps row history to show


class Security(BaseModel):
    uploads: list[UploadView]
    logins: list[AuditLine]
    failures: list[AuditLine]
    bans: list[AuditLine]
    console: list[AuditLine]


class OperatorView(BaseModel):
    name: str
    role: str
    locked: bool
    last_login: datetime | None
    has_token: bool


class EventView(BaseModel):
    at: datetime
    level: str
    code: str
    message: str
    district: str | None
    batch_id: str | None


class System(BaseModel):
    schema_version: int
    database: str
    settings: dict[str, str]  # in force: the system settings stored in the database included
    operators: list[OperatorView]
    events: list[EventView]  # the event log, newest first


class ActionResult(BaseModel):
    target: str
    action: str
    status: str
    message: str


class CheckView(BaseModel):
    name: str
    result: Literal["ok", "warn", "fail"]
    detail: str


class NewDistrict(BaseModel):
    """A district just added: what its admin types into PowerSchool (password shown once)."""

    district: str
    name: str
    spec: str
    host: str
    port: int
    username: str
    password: str
    host_key_fingerprints: list[str]
    warning: str  # why districts could not reach ``host``, when they could not


class DistrictForm(BaseModel):
    slug: str
    name: str = ""
    spec: str = "roster-csv"


class SettingForm(BaseModel):
    value: str
