"""The loader's bulk path on both engines: rows streamed to the driver in slices, in
key order whether or not the files sent them so."""

from __future__ import annotations

import random

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from roster_pipeline.store import Store, engine, open_store
from roster_pipeline.store.loader import in_key_order
from roster_pipeline.store.schema import ROSTER_TABLES
from tests.test_store import changes, enrollments, load, loaded_users, users, valid

# Short ids sharing prefixes, the empty string and non-ASCII text: where byte order
# and a naive comparison could part.
_IDS = st.text(alphabet="ab9Zé-", max_size=3)


@given(st.lists(st.tuples(_IDS, _IDS), max_size=30), st.booleans())
def test_key_order_is_the_order_the_sort_gives(rows: list[tuple[str, str]], two: bool) -> None:
    frame = pl.DataFrame(rows, schema={"a": pl.String, "b": pl.String}, orient="row")
    key = ["a", "b"] if two else ["a"]
    assert in_key_order(frame, key) == frame.equals(frame.sort(key, maintain_order=True))


def test_a_table_larger_than_a_slice_loads_whole_in_any_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "_SLICE_ROWS", 3)  # 40 enrollments: 14 slices
    pairs = [(f"c{c}", f"s{s:02}") for c in range(4) for s in range(10)]
    shuffled = random.Random(5).sample(pairs, len(pairs))
    people = users(*[(f"s{s:02}", "A", "B", "Student") for s in range(10)])
    load(store, "north", "b1", valid("users", people), valid("enrollments", enrollments(*pairs)))
    load(store, "south", "b2", valid("users", people), valid("enrollments", enrollments(*shuffled)))

    for district, batch_id in (("north", "b1"), ("south", "b2")):
        stored = store.snapshot(district, "enrollments", ("class_id", "student_id"))
        assert_frame_equal(stored.sort("class_id", "student_id"), enrollments(*pairs))
        assert {k for t, k, op in changes(store, batch_id) if t == "enrollments"} == {
            f"{c}|{s}" for c, s in pairs
        }

    # The next night updates in place: every row carries its district and batch.
    night2 = enrollments(*pairs[5:], ("c9", "s00"))
    load(store, "north", "b3", valid("enrollments", night2), day=1)
    assert changes(store, "b3") == {
        ("enrollments", "c9|s00", "added"),
        *{("enrollments", f"{c}|{s}", "deleted") for c, s in pairs[:5]},
    }
    stored = store.snapshot("north", "enrollments", ("class_id", "student_id"))
    assert_frame_equal(stored.sort("class_id", "student_id"), night2.sort("class_id", "student_id"))
    assert store.table_counts("south") == {
        "schools": 0, "users": 10, "classes": 0, "enrollments": 40, "class_teachers": 0,
    }  # fmt: skip


@pytest.mark.parametrize("gone", [2, 40])  # within the share found by key probes, and beyond
def test_a_night_replaces_and_logs_the_rows_it_changes_however_few(store: Store, gone: int) -> None:
    people = users(*[(f"u{i:03}", "A", "B", "Student") for i in range(100)])
    load(store, "north", "b1", valid("users", people))
    load(store, "south", "b2", valid("users", people))
    night2 = people.slice(gone).with_columns(
        last_name=pl.when(pl.col("district_user_id") == "u050")
        .then(pl.lit("C"))
        .otherwise("last_name")
    )
    load(store, "north", "b3", valid("users", night2), day=1)

    assert changes(store, "b3") == {
        ("users", "u050", "updated"),
        *{("users", f"u{i:03}", "deleted") for i in range(gone)},
    }
    assert_frame_equal(loaded_users(store, "north"), night2)
    assert_frame_equal(loaded_users(store, "south"), people)  # the other district untouched


def test_planner_methods_are_off_for_the_block_only(postgres_url: str) -> None:
    run = engine.Engine(postgres_url)
    setting = "SELECT current_setting('enable_hashjoin')"
    with run.transaction():
        with run.planner_off(run.dialect.index_probes):
            inside = run.rows(setting)[0][0]
        after = run.rows(setting)[0][0]
    run.close()
    assert (inside, after) == ("off", "on")


def test_postgresql_compares_roster_keys_as_bytes(postgres_url: str) -> None:
    """As SQLite and the loader's sort do: rows in key order are in index order."""
    migrated = open_store(postgres_url)
    migrated.migrate()
    collations = migrated.engine.rows(  # type: ignore[attr-defined]
        "SELECT table_name, column_name, collation_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name IN"
        " ('schools', 'users', 'classes', 'enrollments', 'class_teachers')"
        " AND column_name IN ('district_id', 'school_id', 'district_user_id', 'class_id',"
        " 'student_id', 'user_id')"
    )
    migrated.close()
    keys = {(t, c): collation for t, c, collation in collations}
    assert keys == {
        **{(t, "district_id"): "C" for t in ROSTER_TABLES},
        **{(t, k): "C" for t, table in ROSTER_TABLES.items() for k in table.key},
        ("classes", "school_id"): None,  # a value, not a key: the database's own collation
        ("users", "school_id"): None,
    }
