"""The store on both engines: schema, registry, batch records and applying plans."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from roster_pipeline.config import Thresholds
from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.errors import (
    ConflictError,
    DatabaseUnavailableError,
    NotFoundError,
    UnknownBatchError,
    UnknownDistrictError,
)
from roster_pipeline.outcome import table_changes, table_counts
from roster_pipeline.stages.parse import LINE
from roster_pipeline.stages.plan import Plan, plan
from roster_pipeline.stages.validate import Validated, ValidFile
from roster_pipeline.store import (
    BatchRecord,
    BatchStatus,
    DistrictRecord,
    FileRecord,
    Store,
    TableCounts,
    open_store,
    schema,
)
from roster_pipeline.store.dialect import SQLITE, mask_url
from roster_pipeline.store.engine import Engine

SPEC = load_spec()
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
USER_COLS = SPEC.file("users").column_names


def users(*rows: tuple[str, ...]) -> pl.DataFrame:
    """Users rows: id, first, last, role; email, grade and school null."""
    data = [
        dict(zip(USER_COLS, (*r, None, None, None)[: len(USER_COLS)], strict=True)) for r in rows
    ]
    return pl.DataFrame(data, schema=dict.fromkeys(USER_COLS, pl.String))


def enrollments(*pairs: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        pairs, schema={"class_id": pl.String, "student_id": pl.String}, orient="row"
    )


def valid(name: str, frame: pl.DataFrame, rejected_keys: pl.DataFrame | None = None) -> ValidFile:
    key = SPEC.file(name).key
    kept = (
        rejected_keys
        if rejected_keys is not None
        else pl.DataFrame(schema=dict.fromkeys(key, pl.String))
    )
    return ValidFile(
        name=name,
        file_spec=name,
        frame=frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64)),
        rejected_keys=kept,
        rows=frame.height + kept.height,
        rejected=kept.height,
    )


def batch(
    batch_id: str,
    district: str,
    status: BatchStatus = BatchStatus.LOADED,
    day: int = 0,
    **kw: object,
) -> BatchRecord:
    return BatchRecord(
        batch_id=batch_id,
        district=district,
        status=status,
        received_at=T0 + timedelta(days=day),
        **kw,  # type: ignore[arg-type]
    )


def load(store: Store, district: str, batch_id: str, *files: ValidFile, day: int = 0) -> Plan:
    """Plan against the store and apply: one night of the pipeline."""
    validated = Validated(files={f.name: f for f in files}, rejects=rejects.empty())
    p = plan(validated, SPEC, lambda t, c: store.snapshot(district, t, c), Thresholds())
    store.save_batch(batch(batch_id, district, day=day), rejects.empty(), table_changes(p))
    return p


def changes(store: Store, batch_id: str) -> set[tuple[str, str, str]]:
    """The batch's change log as a set, after checking it logs nothing twice."""
    rows = list(store.changes(batch_id).iter_rows())
    assert len(rows) == len(set(rows))
    return set(rows)


def loaded_users(store: Store, district: str) -> pl.DataFrame:
    return store.snapshot(district, "users", USER_COLS).sort("district_user_id")


NIGHT1 = users(
    ("u1", "Ada", "Lovelace", "Teacher"),
    ("u2", "Alan", "Turing", "Student"),
    ("u3", "Grace", "Hopper", "Student"),
)
NIGHT2 = users(
    ("u1", "Ada", "King", "Teacher"),
    ("u3", "Grace", "Hopper", "Student"),
    ("u4", "Edsger", "Dijkstra", "Student"),
)


def test_migrate_twice_is_a_no_op_and_records_the_version(store: Store) -> None:
    assert store.schema_version() == max(schema.MIGRATIONS)
    store.put_district(DistrictRecord(slug="north"))
    store.migrate()
    assert store.schema_version() == max(schema.MIGRATIONS)
    assert [d.slug for d in store.districts()] == ["north"]


def test_upgrade_from_version_2_links_rows_and_changes_to_batch_numbers(store_url: str) -> None:
    """A database written before batch numbers keeps every link after the upgrade."""
    old = Engine(store_url)
    schema.migrate(old, target=2)
    with old.transaction():
        for batch_id in ("b1", "b2"):
            old.execute(
                "INSERT INTO batches (batch_id, district_id, status, received_at, source, counts,"
                " rejects, report_path, hold_reasons, warnings, message, first_change,"
                " last_change) VALUES (?, 'north', 'loaded', '2026-01-01T00:00:00+00:00', 'x',"
                " '{}', 0, '', '[]', '[]', 'loaded', ?, ?)",
                (batch_id, 1 if batch_id == "b1" else 2, 1 if batch_id == "b1" else 2),
            )
        old.execute(
            "INSERT INTO users (district_id, district_user_id, first_name, last_name, role,"
            " batch_id) VALUES ('north', 'u1', 'Ada', 'Lovelace', 'Teacher', 'b2')"
        )
        for batch_id, op in (("b1", "added"), ("b2", "updated")):
            old.execute(
                'INSERT INTO changes (batch_id, table_name, "key", op)'
                " VALUES (?, 'users', 'u1', ?)",
                (batch_id, op),
            )
    old.close()
    upgraded = open_store(store_url)
    upgraded.migrate()
    assert upgraded.schema_version() == max(schema.MIGRATIONS)
    assert set(upgraded.changes("b1").iter_rows()) == {("users", "u1", "added")}
    assert set(upgraded.changes("b2").iter_rows()) == {("users", "u1", "updated")}
    engine = upgraded.engine  # type: ignore[attr-defined]
    linked = engine.rows("SELECT b.batch_id FROM users u JOIN batches b ON b.batch_no = u.batch_no")
    assert linked == [("b2",)]
    upgraded.save_batch(batch("b3", "north", day=3), rejects.empty())
    numbers = dict(engine.rows("SELECT batch_id, batch_no FROM batches"))
    assert len(set(numbers.values())) == 3
    assert numbers["b3"] > max(numbers["b1"], numbers["b2"])
    upgraded.close()


def test_upgrade_keeps_every_row_and_makes_each_class_teacher_its_primary_link(
    store_url: str,
) -> None:
    """A database written before teacher links keeps its users and classes, and each
    class's teacher becomes a primary link marked with the batch that loaded it."""
    adding = next(v for v in sorted(schema.MIGRATIONS) if "TABLE class_teachers" in _created(v))
    before = adding - 1
    old = Engine(store_url)
    schema.migrate(old, target=before)
    with old.transaction():
        old.execute(
            "INSERT INTO users (district_id, district_user_id, first_name, role, batch_no)"
            " VALUES ('north', 't1', 'Ada', 'Teacher', 7)"
        )
        for class_id, teacher in (("c1", "t1"), ("c2", None)):
            old.execute(
                "INSERT INTO classes (district_id, class_id, class_name, teacher_id, batch_no)"
                " VALUES ('north', ?, 'Algebra', ?, 7)",
                (class_id, teacher),
            )
    old.close()
    upgraded = open_store(store_url)
    upgraded.migrate()
    assert upgraded.schema_version() == max(schema.MIGRATIONS)
    links = upgraded.snapshot(
        "north", "class_teachers", ("class_id", "user_id", "role", "is_primary")
    )
    assert links.rows() == [("c1", "t1", "Teacher", "true")]
    users = upgraded.snapshot("north", "users", ("district_user_id", "internal_id"))
    assert users.rows() == [("t1", None)]
    assert upgraded.table_counts("north")["classes"] == 2
    engine = upgraded.engine  # type: ignore[attr-defined]
    assert engine.rows("SELECT batch_no FROM class_teachers") == [(7,)]
    upgraded.close()


def test_upgrade_counts_the_rows_each_district_has_loaded(store_url: str) -> None:
    """The row counts the loader keeps start from the rows already loaded."""
    adding = next(v for v in sorted(schema.MIGRATIONS) if "TABLE roster_counts" in _created(v))
    old = Engine(store_url)
    schema.migrate(old, target=adding - 1)
    with old.transaction():
        for district, users in (("north", 3), ("south", 1)):
            for n in range(users):
                old.execute(
                    "INSERT INTO users (district_id, district_user_id, first_name, role,"
                    " batch_no) VALUES (?, ?, 'Ada', 'Teacher', 7)",
                    (district, f"u{n}"),
                )
        old.execute(
            "INSERT INTO enrollments (district_id, class_id, student_id, batch_no)"
            " VALUES ('north', 'c1', 'u1', 7)"
        )
    old.close()
    upgraded = open_store(store_url)
    upgraded.migrate()
    assert upgraded.table_counts("north") == {
        "schools": 0, "users": 3, "classes": 0, "enrollments": 1, "class_teachers": 0,
    }  # fmt: skip
    assert upgraded.table_counts("south", ["users", "enrollments"]) == {
        "users": 1, "enrollments": 0,
    }  # fmt: skip
    assert upgraded.table_counts("east", ["users"]) == {"users": 0}
    upgraded.close()


def _created(version: int) -> str:
    """The statements of one migration, for finding the one that adds a table."""
    return " ".join(schema.MIGRATIONS[version](SQLITE))


def test_district_round_trip(store: Store) -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = DistrictRecord(
        slug="north", name="North ISD", username="north_sftp", password_hash="$argon2id$x",
        public_keys=("ssh-ed25519 AAAA one",), allow_ips=("10.0.0.0/8", "192.0.2.1/32"),
        enabled=False, paused=True, settings={"max_delete_pct": 5, "aliases": {"a": ["b"]}},
        created_at=created,
    )  # fmt: skip
    store.put_district(record)
    assert store.district("north") == record
    assert store.district_by_username("north_sftp") == record
    assert store.district_by_username("nobody") is None
    store.put_district(DistrictRecord(slug="south"))
    assert store.district("south").created_at is not None
    assert [d.slug for d in store.districts()] == ["north", "south"]
    with pytest.raises(UnknownDistrictError):
        store.district("east")


def test_save_batch_without_plan_then_again_replaces_files_and_rejects(store: Store) -> None:
    held = batch(
        "b1", "north", BatchStatus.HELD, source="roster.zip",
        files=(FileRecord("users.csv", "users", "aa", 10, 3, 1),
               FileRecord("notes.txt", None, "bb", 5)),
        counts={"users": TableCounts(added=2, rejected=1)}, rejects=1,
        hold_reasons=("users: too many deletes",), message="held for approval",
        warnings=("users.csv: extra columns ignored: nickname",),
    )  # fmt: skip
    found = rejects.one(
        "users.csv",
        rejects.Code.REQUIRED,
        "first_name is required",
        line=4,
        column="first_name",
        value="",
    ).with_columns(key=pl.lit("u4"))  # the rejected row's key comes back with it
    store.save_batch(held, found)
    assert store.batch("b1") == held
    assert_frame_equal(store.rejects("b1"), found)
    assert store.changes("b1").height == 0

    loaded = batch(
        "b1",
        "north",
        finished_at=T0 + timedelta(hours=1),
        files=(FileRecord("users.csv", "users", "cc", 9, 3),),
    )
    store.save_batch(loaded, rejects.empty())
    assert store.batch("b1") == loaded
    assert store.rejects("b1").height == 0
    store.save_batch(batch("b0", "north", day=-1), rejects.empty())
    assert [b.batch_id for b in store.batches("north")] == ["b1", "b0"]
    assert [b.batch_id for b in store.batches("north", limit=1)] == ["b1"]
    assert store.batches("south") == []
    with pytest.raises(UnknownBatchError):
        store.batch("nope")


def test_first_load_then_next_night_logs_exact_changes(store: Store) -> None:
    first = load(
        store,
        "north",
        "b1",
        valid("users", NIGHT1),
        valid("enrollments", enrollments(("c1", "u2"), ("c1", "u3"))),
    )
    assert first.hold_reasons == ()
    assert changes(store, "b1") == {
        ("users", "u1", "added"), ("users", "u2", "added"), ("users", "u3", "added"),
        ("enrollments", "c1|u2", "added"), ("enrollments", "c1|u3", "added"),
    }  # fmt: skip
    assert_frame_equal(loaded_users(store, "north"), NIGHT1)

    second = load(
        store,
        "north",
        "b2",
        valid("users", NIGHT2),
        valid("enrollments", enrollments(("c1", "u3"), ("c2", "u4"))),
        day=1,
    )
    assert table_counts(second.tables["users"]) == TableCounts(
        added=1, updated=1, deleted=1, unchanged=1
    )
    assert changes(store, "b2") == {
        ("users", "u4", "added"), ("users", "u1", "updated"), ("users", "u2", "deleted"),
        ("enrollments", "c2|u4", "added"), ("enrollments", "c1|u2", "deleted"),
    }  # fmt: skip
    assert_frame_equal(loaded_users(store, "north"), NIGHT2)
    assert store.table_counts("north") == {
        "schools": 0, "users": 3, "classes": 0, "enrollments": 2, "class_teachers": 0,
    }  # fmt: skip


def test_same_content_again_changes_nothing(store: Store) -> None:
    load(store, "north", "b1", valid("users", NIGHT1))
    again = load(store, "north", "b2", valid("users", NIGHT1.reverse()), day=1)
    assert table_counts(again.tables["users"]) == TableCounts(unchanged=3)
    assert store.changes("b2").height == 0
    assert_frame_equal(loaded_users(store, "north"), NIGHT1)


def test_rows_rejected_tonight_keep_yesterdays_values(store: Store) -> None:
    load(store, "north", "b1", valid("users", NIGHT1))
    only_u1 = NIGHT1.filter(pl.col("district_user_id") == "u1")
    rejected = pl.DataFrame({"district_user_id": ["u2"]})
    load(store, "north", "b2", valid("users", only_u1, rejected_keys=rejected), day=1)
    assert changes(store, "b2") == {("users", "u3", "deleted")}
    assert loaded_users(store, "north")["district_user_id"].to_list() == ["u1", "u2"]


def test_a_batch_never_touches_another_districts_rows(store: Store) -> None:
    load(store, "north", "b1", valid("users", NIGHT1))
    load(store, "south", "b2", valid("users", NIGHT1))
    load(store, "north", "b3", valid("users", NIGHT2), day=1)
    assert_frame_equal(loaded_users(store, "south"), NIGHT1)
    assert_frame_equal(loaded_users(store, "north"), NIGHT2)
    store.put_district(DistrictRecord(slug="north"))
    assert store.table_counts("north", ["users"]) == {"users": 3}
    store.remove_district("north", purge=True)
    assert loaded_users(store, "north").height == 0
    assert store.table_counts("north", ["users"]) == {"users": 0}
    assert store.batches("north") == []
    assert_frame_equal(loaded_users(store, "south"), NIGHT1)
    assert store.table_counts("south", ["users"]) == {"users": 3}
    assert changes(store, "b2") == {("users", u, "added") for u in ("u1", "u2", "u3")}


def test_remove_district_without_purge_keeps_rows_and_batches(store: Store) -> None:
    store.put_district(DistrictRecord(slug="north"))
    load(store, "north", "b1", valid("users", NIGHT1))
    store.remove_district("north", purge=False)
    with pytest.raises(UnknownDistrictError):
        store.district("north")
    assert loaded_users(store, "north").height == 3
    assert [b.batch_id for b in store.batches("north")] == ["b1"]


def test_a_failure_inside_save_batch_applies_nothing(store: Store) -> None:
    load(store, "north", "b1", valid("users", NIGHT1))
    p = plan(
        Validated(files={"users": valid("users", NIGHT2)}, rejects=rejects.empty()),
        SPEC, lambda t, c: store.snapshot("north", t, c), Thresholds(),
    )  # fmt: skip
    table = p.tables["users"]
    # A row added twice: the primary key refuses it after deletes and ingests ran.
    broken = Plan(
        tables={
            "users": type(table)(
                **{**table.__dict__, "added": pl.concat([table.added, table.added])}
            )
        }
    )
    with pytest.raises(ConflictError, match=r"b2 of district north .*; nothing was changed"):
        store.save_batch(batch("b2", "north", day=1), rejects.empty(), table_changes(broken))
    assert_frame_equal(loaded_users(store, "north"), NIGHT1)
    assert store.changes("b2").height == 0
    with pytest.raises(UnknownBatchError):
        store.batch("b2")
    store.save_batch(batch("b2", "north", day=1), rejects.empty(), table_changes(p))  # still works
    assert_frame_equal(loaded_users(store, "north"), NIGHT2)


def test_last_hashes_come_from_the_latest_applied_batch_per_file(store: Store) -> None:
    def files(*pairs: tuple[str, str]) -> tuple[FileRecord, ...]:
        return tuple(FileRecord(f"{spec}.csv", spec, sha, 1) for spec, sha in pairs)

    store.save_batch(
        batch("b1", "north", files=files(("users", "u1"), ("classes", "c1"))), rejects.empty()
    )
    store.save_batch(
        batch("b2", "north", BatchStatus.LOADED_WITH_REJECTS, day=1, files=files(("users", "u2"))),
        rejects.empty(),
    )
    store.save_batch(
        batch("b3", "north", BatchStatus.HELD, day=2, files=files(("users", "u3"))), rejects.empty()
    )
    store.save_batch(
        batch("b4", "north", BatchStatus.REJECTED, day=3, files=files(("classes", "c4"))),
        rejects.empty(),
    )
    store.save_batch(batch("b5", "south", day=4, files=files(("users", "s5"))), rejects.empty())
    assert store.last_hashes("north") == {"users": "u2", "classes": "c1"}
    assert store.last_hashes("east") == {}


def test_snapshot_reads_text_columns_null_in_their_first_rows(store: Store) -> None:
    many = users(*((f"u{i:05d}", "A", "B", "Student") for i in range(3000)))
    many = many.with_columns(
        email=pl.when(pl.int_range(pl.len()) >= 2500).then(pl.lit("x@example.org"))
    )
    load(store, "north", "b1", valid("users", many))
    got = loaded_users(store, "north")
    assert got.schema == many.schema
    assert_frame_equal(got, many)


def test_snapshot_reads_the_districts_rows_with_the_asked_columns(store: Store) -> None:
    load(store, "north", "b1", valid("users", NIGHT1))
    users = store.snapshot("north", "users", SPEC.file("users").column_names)
    assert_frame_equal(users.sort("district_user_id"), NIGHT1)
    classes = store.snapshot("north", "classes", ("class_id",))
    assert classes.height == 0
    assert classes.columns == ["class_id"]
    got = store.snapshot("north", "users", ["district_user_id"])
    assert sorted(got["district_user_id"]) == ["u1", "u2", "u3"]


def test_unreachable_postgres_names_the_url_without_its_password() -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        open_store("postgresql://roster:s3cret@127.0.0.1:1/roster")
    message = str(caught.value)
    assert "postgresql://roster:***@127.0.0.1:1/roster" in message
    assert "s3cret" not in message
    assert "ROSTER_DATABASE_URL" in message


def test_sqlite_in_a_missing_folder_says_what_to_do(tmp_path: object) -> None:
    with pytest.raises(DatabaseUnavailableError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path}/absent/roster.db")


def test_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(DatabaseUnavailableError, match="unsupported database URL"):
        open_store("mysql://root:pw@localhost/x")


def test_a_username_taken_by_another_district_is_a_conflict(store: Store) -> None:
    store.put_district(DistrictRecord(slug="north", username="shared"))
    store.put_district(DistrictRecord(slug="south"))  # no username: several may have none
    store.put_district(DistrictRecord(slug="east"))
    with pytest.raises(ConflictError, match="district west could not be saved"):
        store.put_district(DistrictRecord(slug="west", username="shared"))
    assert [d.slug for d in store.districts()] == ["east", "north", "south"]


def test_a_missing_postgres_driver_says_how_to_install_it() -> None:
    # A real missing module: None in sys.modules makes the import fail.
    code = (
        "import sys; sys.modules['adbc_driver_postgresql'] = None\n"
        "from roster_pipeline.errors import DatabaseUnavailableError\n"
        "from roster_pipeline.store import open_store\n"
        "try:\n"
        "    open_store('postgresql://u:pw@127.0.0.1/x')\n"
        "except DatabaseUnavailableError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install adbc-driver-postgresql" in out.stdout
    assert "postgresql://u:***@127.0.0.1/x" in out.stdout


def test_tables_and_columns_outside_the_schema_are_refused(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no roster table 'teachers'"):
        store.snapshot("north", "teachers", ["id"])
    with pytest.raises(NotFoundError, match="with column\\(s\\) nickname"):
        store.snapshot("north", "users", ["district_user_id", "nickname"])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@db:5432/x", "postgresql://u:***@db:5432/x"),
        ("postgresql://db/x?user=u&password=pw&sslmode=require",
         "postgresql://db/x?user=u&password=***&sslmode=require"),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
        ("sqlite:////var/roster/roster.db", "sqlite:////var/roster/roster.db"),
    ],
)  # fmt: skip
def test_urls_in_messages_never_show_a_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_only_a_constraint_is_a_conflict(store_url: str) -> None:
    """A broken statement is a bug to see, not a conflict with the current state."""
    import adbc_driver_manager

    from roster_pipeline.store.sql_store import SqlStore, _refused

    opened = SqlStore(store_url)
    try:
        with pytest.raises(adbc_driver_manager.ProgrammingError), _refused("district x"):
            opened.engine.execute("SELEC 1")
    finally:
        opened.close()
