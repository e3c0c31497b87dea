"""The database schema: roster tables, registry, batch records, change log.

Schema changes are versioned migrations: each is a list of statements applied
in one transaction and recorded in ``schema_version``. ``migrate`` applies the
ones a database has not seen yet, so running it again is a no-op. Never edit a
released migration; append a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from roster_pipeline.errors import NotFoundError
from roster_pipeline.store.dialect import SqlDialect
from roster_pipeline.store.engine import Engine


@dataclass(frozen=True)
class RosterTable:
    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]  # key first; every value is TEXT


_USER_COLUMNS = (
    "district_user_id", "first_name", "last_name", "role", "email", "grade_level", "school_id",
)  # fmt: skip
#: The roster tables as the first migration created them; migrations never read the
#: current definitions below, so a database built today and one upgraded match.
_V1_TABLES = (
    RosterTable("schools", ("school_id",), ("school_id", "school_name")),
    RosterTable("users", ("district_user_id",), _USER_COLUMNS),
    RosterTable(
        "classes", ("class_id",), ("class_id", "class_name", "school_id", "course_id", "teacher_id")
    ),
    RosterTable("enrollments", ("class_id", "student_id"), ("class_id", "student_id")),
)
#: Every teacher of a class (primary or not); classes.teacher_id stays the primary one.
_CLASS_TEACHERS = RosterTable(
    "class_teachers", ("class_id", "user_id"), ("class_id", "user_id", "role", "is_primary")
)
#: The roster tables since teacher links (migration 6), as the later migrations see them.
_V6_TABLES = (*_V1_TABLES, _CLASS_TEACHERS)

ROSTER_TABLES: Mapping[str, RosterTable] = {
    t.name: t
    for t in (
        _V1_TABLES[0],
        # internal_id: the SIS's own record ID (PowerSchool Students.ID / Teachers.ID),
        # which other files of the same export use to name the person.
        RosterTable("users", ("district_user_id",), (*_USER_COLUMNS, "internal_id")),
        *_V1_TABLES[2:],
        _CLASS_TEACHERS,
    )
}


def roster_table(name: str, columns: Sequence[str] = ()) -> RosterTable:
    """The schema's table of that name having those columns; names reach SQL text only
    through here, so a spec naming anything else is refused with a clear message."""
    table = ROSTER_TABLES.get(name)
    unknown = [c for c in columns if table is None or c not in table.columns]
    if table is None or unknown:
        known = ", ".join(ROSTER_TABLES)
        raise NotFoundError(
            f"the database has no roster table {name!r}"
            + (f" with column(s) {', '.join(unknown)}" if table else f" (known: {known})")
            + "; the spec and the database schema disagree"
        )
    return table


def _roster_ddl(table: RosterTable, d: SqlDialect) -> str:
    columns = ", ".join(f'"{c}" TEXT' for c in table.columns if c not in table.key)
    keys = ", ".join(f'"{k}" TEXT NOT NULL' for k in table.key)
    pk = ", ".join(f'"{k}"' for k in ("district_id", *table.key))
    rest = f"{columns}, " if columns else ""
    return (
        f"CREATE TABLE {table.name} (district_id TEXT NOT NULL, {keys}, {rest}"
        f"batch_id TEXT, PRIMARY KEY ({pk})){d.keyed_table_suffix}"
    )


def _v1(d: SqlDialect) -> list[str]:
    return [
        "CREATE TABLE districts (slug TEXT PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL,"
        " username TEXT UNIQUE, password_hash TEXT NOT NULL, public_keys TEXT NOT NULL,"
        " allow_ips TEXT NOT NULL, enabled INTEGER NOT NULL, paused INTEGER NOT NULL,"
        " settings TEXT NOT NULL, created_at TEXT NOT NULL)",
        *(_roster_ddl(t, d) for t in _V1_TABLES),
        "CREATE TABLE batches (batch_id TEXT PRIMARY KEY, district_id TEXT NOT NULL,"
        " status TEXT NOT NULL, received_at TEXT NOT NULL, finished_at TEXT,"
        " source TEXT NOT NULL, counts TEXT NOT NULL, rejects BIGINT NOT NULL,"
        " report_path TEXT NOT NULL, hold_reasons TEXT NOT NULL, warnings TEXT NOT NULL,"
        " message TEXT NOT NULL, first_change BIGINT, last_change BIGINT)",
        "CREATE INDEX batches_district ON batches (district_id, received_at)",
        'CREATE TABLE batch_files (batch_id TEXT NOT NULL, "name" TEXT NOT NULL,'
        ' file_spec TEXT, sha256 TEXT NOT NULL, "size" BIGINT NOT NULL,'
        ' "rows" BIGINT NOT NULL, rejected BIGINT NOT NULL, seq BIGINT NOT NULL,'
        ' PRIMARY KEY (batch_id, "name"))',
        f"CREATE TABLE rejects (reject_id {d.log_id}, batch_id TEXT NOT NULL,"
        ' file TEXT, line BIGINT, "column" TEXT, "value" TEXT, code TEXT NOT NULL,'
        " message TEXT NOT NULL)",
        "CREATE INDEX rejects_batch ON rejects (batch_id)",
        f"CREATE TABLE changes (change_id {d.log_id}, batch_id TEXT NOT NULL,"
        ' table_name TEXT NOT NULL, "key" TEXT NOT NULL, op TEXT NOT NULL)',
        # No index on batch_id: the batch row records its range of change_id instead,
        # which halves the cost of logging a first load (2M rows: 2.3 s -> 1.3 s).
        *([d.log_index.format(table="changes", column="change_id")] if d.log_index else []),
        f"CREATE TABLE uploads (upload_id {d.serial_pk}, district_id TEXT NOT NULL,"
        " username TEXT NOT NULL, original_name TEXT NOT NULL, published_name TEXT NOT NULL,"
        ' "size" BIGINT NOT NULL, sha256 TEXT NOT NULL, client_address TEXT NOT NULL,'
        " client_version TEXT NOT NULL, algorithms TEXT NOT NULL, started_at TEXT NOT NULL,"
        " finished_at TEXT NOT NULL)",
        "CREATE INDEX uploads_district ON uploads (district_id, finished_at)",
    ]


def _v2(_d: SqlDialect) -> list[str]:
    """Batch claims (store.queue): who processes a batch, until when, how many tries."""
    return [
        "ALTER TABLE batches ADD COLUMN claimed_by TEXT",
        "ALTER TABLE batches ADD COLUMN claim_expires TEXT",
        "ALTER TABLE batches ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX batches_status ON batches (status, district_id)",
    ]


def _v3(d: SqlDialect) -> list[str]:
    """Batch numbers: roster rows and change rows name their batch by an integer.

    A 27-character batch id on each of the 2.28M rows of a large first load was
    a third of the bytes written (SQLite file 265 MB -> 153 MB without it), and
    every byte is written twice through the WAL. Existing rows are renumbered.
    """
    relinked = [*(t.name for t in _V1_TABLES), "changes"]
    return [
        *d.batch_no_column,
        *(f"ALTER TABLE {t} ADD COLUMN batch_no BIGINT" for t in relinked),
        *(
            f"UPDATE {t} SET batch_no = (SELECT b.batch_no FROM batches b"
            f" WHERE b.batch_id = {t}.batch_id)"
            for t in relinked
        ),
        *(f"ALTER TABLE {t} DROP COLUMN batch_id" for t in relinked),
    ]


def _system_settings(d: SqlDialect) -> list[str]:
    """System settings (shared by every machine, `roster system`) and the event log."""
    return [
        'CREATE TABLE system_settings ("key" TEXT PRIMARY KEY, "value" TEXT NOT NULL,'
        " updated_at TEXT NOT NULL, updated_by TEXT NOT NULL)",
        f"CREATE TABLE events (event_id {d.serial_pk}, at TEXT NOT NULL, level TEXT NOT NULL,"
        " district_id TEXT, batch_id TEXT, code TEXT NOT NULL, message TEXT NOT NULL,"
        " details TEXT NOT NULL)",
        "CREATE INDEX events_at ON events (at)",
    ]


def _console(d: SqlDialect) -> list[str]:
    """The ops console: operator accounts, their sessions, and what its pages look up.

    A session row holds a hash of the cookie's token, never the token. Rejects are
    paged by (batch_id, reject_id): SQLite's batch index carries the rowid already,
    PostgreSQL's needs the id to page without sorting a million rows. The summary
    caches a batch's rejects counted by file, code and column, keyed by the batch's
    highest reject id so a batch saved again is counted again.
    """
    return [
        "CREATE TABLE operators (name TEXT PRIMARY KEY, role TEXT NOT NULL,"
        " password_hash TEXT NOT NULL, token_hash TEXT UNIQUE, failures INTEGER NOT NULL,"
        " locked_until TEXT, last_login TEXT, created_at TEXT NOT NULL)",
        "CREATE TABLE operator_sessions (session_hash TEXT PRIMARY KEY,"
        " operator TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL,"
        " expires_at TEXT NOT NULL)",
        "CREATE INDEX operator_sessions_operator ON operator_sessions (operator)",
        "CREATE INDEX batches_received ON batches (received_at)",
        # The overview's reject rates sum each recent batch's rows from this index alone.
        'CREATE INDEX batch_files_rows ON batch_files (batch_id, "rows")',
        "CREATE TABLE reject_summary (batch_id TEXT NOT NULL, last_reject BIGINT NOT NULL,"
        ' file TEXT, code TEXT NOT NULL, "column" TEXT, n BIGINT NOT NULL)',
        "CREATE INDEX reject_summary_batch ON reject_summary (batch_id)",
        *(
            ["CREATE INDEX rejects_page ON rejects (batch_id, reject_id)"]
            if d.name == "postgresql"
            else []
        ),
    ]


def _class_teachers(d: SqlDialect) -> list[str]:
    """Teacher links beside enrollments, and the SIS's internal ID of each user.

    Every class's existing teacher becomes its primary link, marked with the batch
    that loaded the class, so nothing a district sent before is lost and the next
    load of an unchanged classes file finds the links unchanged.
    """
    table = _CLASS_TEACHERS
    keys = ", ".join(f'"{k}" TEXT NOT NULL' for k in table.key)
    return [
        "ALTER TABLE users ADD COLUMN internal_id TEXT",
        f"CREATE TABLE {table.name} (district_id TEXT NOT NULL, {keys}, role TEXT,"
        " is_primary TEXT, batch_no BIGINT,"
        f" PRIMARY KEY (district_id, class_id, user_id)){d.keyed_table_suffix}",
        f"INSERT INTO {table.name} (district_id, class_id, user_id, role, is_primary, batch_no)"
        " SELECT district_id, class_id, teacher_id, 'Teacher', 'true', batch_no FROM classes"
        " WHERE teacher_id IS NOT NULL AND teacher_id <> ''",
    ]


def _batch_mode(_d: SqlDialect) -> list[str]:
    """How a batch's files applied: bulk (full lists) or delta (changes only)."""
    return ["ALTER TABLE batches ADD COLUMN mode TEXT NOT NULL DEFAULT 'bulk'"]


def _sftp_bans(_d: SqlDialect) -> list[str]:
    """Receiver bans (store.bans): shared by every receiver, kept across restarts."""
    return [
        "CREATE TABLE sftp_bans (address TEXT PRIMARY KEY, until_ts DOUBLE PRECISION NOT NULL,"
        " reason TEXT NOT NULL, banned_at TEXT NOT NULL)",
    ]


def _history(d: SqlDialect) -> list[str]:
    """Row versions (store.versions): each change row keeps the row as it was before
    (JSON of its non-key columns and batch_no; null for an added row), and every write
    to a district's roster tables, a batch applied or rolled back, is a numbered span
    of change ids. A district claim keeps batches of a district from being applied
    while its rows are rolled back.

    Batches applied before this migration become ``legacy`` spans: their changes have
    no before-images, so they cannot be rolled back or looked through with ``--as-of``.
    """
    return [
        'ALTER TABLE changes ADD COLUMN "before" TEXT',
        # The key of the row a reject kept out (null for a file's or a malformed row's).
        'ALTER TABLE rejects ADD COLUMN "key" TEXT',
        f"CREATE TABLE change_spans (span_id {d.serial_pk}, district_id TEXT NOT NULL,"
        " batch_no BIGINT NOT NULL, kind TEXT NOT NULL, first_change BIGINT NOT NULL,"
        " last_change BIGINT NOT NULL, at TEXT NOT NULL)",
        "CREATE INDEX change_spans_district ON change_spans (district_id, span_id)",
        "INSERT INTO change_spans (district_id, batch_no, kind, first_change, last_change, at)"
        " SELECT district_id, batch_no, 'legacy', first_change, last_change,"
        " COALESCE(finished_at, received_at) FROM batches WHERE first_change IS NOT NULL"
        " ORDER BY COALESCE(finished_at, received_at), batch_no",
        "CREATE TABLE district_claims (district_id TEXT PRIMARY KEY, claimed_by TEXT NOT NULL,"
        " claim_expires TEXT NOT NULL, purpose TEXT NOT NULL)",
    ]


def _key_collation(d: SqlDialect) -> list[str]:
    """PostgreSQL compares the roster tables' keys as bytes, as SQLite and the loader's
    sort do: under a language's collation (a cluster made with en_US.UTF-8) rows in
    key order are not in index order, and each comparison costs a locale lookup
    (2M enrollments: COPY 6.3 s under en-US, 3.6 s under "C"). The indexes are rebuilt,
    the rows stay as they are."""
    if d.name != "postgresql":
        return []  # SQLite's BINARY collation already compares bytes
    return [
        f"ALTER TABLE {t.name} "
        + ", ".join(f'ALTER COLUMN "{c}" TYPE TEXT COLLATE "C"' for c in ("district_id", *t.key))
        for t in _V6_TABLES
    ]


def _row_counts(_d: SqlDialect) -> list[str]:
    """Each district's loaded rows per roster table, kept by the loader in the same
    transaction as the rows: `roster status`, the console's district page and the
    service read them instead of counting (COUNT(*) read every loaded row: some 20 s
    for a night of 300 districts on PostgreSQL, at every look)."""
    return [
        "CREATE TABLE roster_counts (district_id TEXT NOT NULL, table_name TEXT NOT NULL,"
        " row_count BIGINT NOT NULL, PRIMARY KEY (district_id, table_name))",
        *(
            "INSERT INTO roster_counts (district_id, table_name, row_count)"
            f" SELECT district_id, '{t.name}', COUNT(*) FROM {t.name} GROUP BY district_id"
            for t in _V6_TABLES
        ),
    ]


#: version -> statements for a dialect; applied in ascending order (a number may be
#: missing: each version is applied once, whatever lies between), each in its own
#: transaction.
MIGRATIONS: Mapping[int, Callable[[SqlDialect], list[str]]] = {
    1: _v1,
    2: _v2,
    3: _v3,
    4: _system_settings,
    5: _console,
    6: _class_teachers,
    7: _sftp_bans,
    8: _batch_mode,
    9: _history,
    10: _key_collation,
    11: _row_counts,
}


_VERSION_TABLE = {
    "sqlite": "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
    "postgresql": "SELECT COUNT(*) FROM information_schema.tables"
    " WHERE table_name = 'schema_version' AND table_schema = current_schema()",
}


def current_version(engine: Engine) -> int:
    """The newest migration applied; 0 for a database never migrated."""
    if not engine.rows(_VERSION_TABLE[engine.dialect.name])[0][0]:
        return 0
    rows = engine.rows("SELECT MAX(version) FROM schema_version")
    return int(rows[0][0] or 0)


def migrate(engine: Engine, target: int | None = None) -> list[int]:
    """Apply the migrations the database lacks, up to ``target`` (default: all);
    returns the versions applied."""
    engine.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
        " applied_at TEXT NOT NULL)"
    )
    applied = []
    for version in sorted(v for v in MIGRATIONS if target is None or v <= target):
        with engine.transaction():
            # Read inside the transaction so two processes migrating at once
            # collide on the schema_version key instead of both applying. Each version
            # is looked up by itself, not against the newest: a number left free for
            # another change and filled later is still applied to a database that
            # already has the ones after it.
            if engine.rows("SELECT COUNT(*) FROM schema_version WHERE version = ?", (version,))[0][
                0
            ]:
                continue
            for statement in MIGRATIONS[version](engine.dialect):
                engine.execute(statement)
            engine.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, datetime.now(UTC).isoformat()),
            )
        applied.append(version)
    return applied
