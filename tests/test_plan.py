"""The plan stage: diffs against the loaded snapshot, and when to hold a batch."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roster_pipeline.config import Thresholds
from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.outcome import table_counts
from roster_pipeline.stages.parse import LINE
from roster_pipeline.stages.plan import Plan, plan
from roster_pipeline.stages.validate import Validated, ValidFile
from roster_pipeline.store import TableCounts

SPEC = load_spec()
USER_COLS = SPEC.file("users").column_names
ENROLL = {"class_id": pl.String, "student_id": pl.String}


def users(ids: range | list[str], last: str = "Doe", email: str | None = None) -> pl.DataFrame:
    n = len(ids)
    return pl.DataFrame(
        {
            "district_user_id": [str(i) for i in ids],
            "first_name": ["Pat"] * n,
            "last_name": [last] * n,
            "role": ["Student"] * n,
            "email": [email] * n,
            "grade_level": [None] * n,
            "school_id": [None] * n,
        },
        schema=dict.fromkeys(USER_COLS, pl.String),
    )


def valid(name: str, frame: pl.DataFrame, rejected: pl.DataFrame | None = None) -> ValidFile:
    keys = (
        rejected
        if rejected is not None
        else pl.DataFrame(schema=dict.fromkeys(SPEC.file(name).key, pl.String))
    )
    lines = frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE))
    return ValidFile(name, name, lines, keys, frame.height + keys.height, keys.height)


def run(
    loaded: Mapping[str, pl.DataFrame], *files: ValidFile, thresholds: Thresholds | None = None
) -> Plan:
    asked: list[tuple[str, tuple[str, ...]]] = []

    def current(table: str, columns: tuple[str, ...]) -> pl.DataFrame:
        asked.append((table, columns))
        empty = pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
        return loaded.get(table, empty).select(columns)

    validated = Validated(files={f.name: f for f in files}, rejects=rejects.empty())
    result = plan(validated, SPEC, current, thresholds or Thresholds())
    sent = {f.name for f in files}
    assert sorted(a for a in asked if a[0] in sent) == sorted(
        (f.name, SPEC.file(f.name).column_names) for f in files
    )
    # Beyond the tables sent, only the cascade reads: the link rows and classes naming
    # the users and classes the batch deletes.
    cascading = any(result.tables[t].deleted.height for t in ("users", "classes") if t in sent)
    others = {a for a in asked if a[0] not in sent}
    assert others <= {
        ("enrollments", ("class_id", "student_id")),
        ("class_teachers", ("class_id", "user_id")),
        ("classes", ("class_id", "teacher_id")),
    }
    assert cascading or not others
    return result


def ids(frame: pl.DataFrame, column: str = "district_user_id") -> list[str]:
    return sorted(frame[column].to_list())


def test_the_four_counts_and_their_rows() -> None:
    before = users(["1", "2", "3", "4"])
    tonight = pl.concat([users(["1", "2"]), users(["3"], last="Smith"), users(["5"])])
    result = run({"users": before}, valid("users", tonight))
    table = result.tables["users"]
    assert table_counts(table) == TableCounts(added=1, updated=1, deleted=1, unchanged=2)
    assert ids(table.added) == ["5"]
    assert table.updated.rows(named=True) == users(["3"], last="Smith").rows(named=True)
    assert table.deleted.columns == ["district_user_id"]
    assert ids(table.deleted) == ["4"]
    assert table.added.columns == list(USER_COLS)
    assert table.loaded_before == 4
    assert result.hold_reasons == (  # 25% updated is under the 75% default
        "users: 1 of 4 loaded rows (25.0%) would be deleted; the limit is 10%",
    )


def test_composite_keys_diff_on_every_key_column() -> None:
    before = pl.DataFrame(
        {"class_id": ["c1", "c1", "c2"], "student_id": ["s1", "s2", "s1"]}, schema=ENROLL
    )
    tonight = pl.DataFrame(
        {"class_id": ["c1", "c2", "c2"], "student_id": ["s1", "s1", "s2"]}, schema=ENROLL
    )
    table = run(
        {"enrollments": before}, valid("enrollments", tonight), thresholds=Thresholds(50, 50)
    ).tables["enrollments"]
    assert table_counts(table) == TableCounts(added=1, deleted=1, unchanged=2)
    assert table.added.rows() == [("c2", "s2")]
    assert table.deleted.rows() == [("c1", "s2")]


def test_nulls_equal_nulls_and_differ_from_values() -> None:
    before = pl.concat([users(["1", "2"]), users(["3"], email="a@x.org")])
    tonight = pl.concat([users(["1"]), users(["2"], email="b@x.org"), users(["3"])])
    table = run({"users": before}, valid("users", tonight), thresholds=Thresholds(100, 100)).tables[
        "users"
    ]
    assert table.unchanged == 1
    assert ids(table.updated) == ["2", "3"]
    assert table.updated.sort("district_user_id")["email"].to_list() == ["b@x.org", None]


def test_rejected_rows_keep_their_loaded_row() -> None:
    rejected = pl.DataFrame(
        {"district_user_id": ["2", None, "9"]}, schema={"district_user_id": pl.String}
    )
    table = run(
        {"users": users(["1", "2", "3"])},
        valid("users", users(["1"]), rejected),
        thresholds=Thresholds(100, 100),
    ).tables["users"]
    assert ids(table.deleted) == ["3"]
    assert table.rejected == 3


def test_tables_whose_file_is_absent_are_not_planned() -> None:
    result = run({"users": users(["1"]), "classes": pl.DataFrame()}, valid("users", users(["1"])))
    assert list(result.tables) == ["users"]


def test_first_load_is_never_held() -> None:
    result = run({}, valid("users", users(range(1000))), thresholds=Thresholds(0, 0))
    assert table_counts(result.tables["users"]) == TableCounts(added=1000)
    assert result.tables["users"].loaded_before == 0
    assert result.hold_reasons == ()


def test_too_many_deletes_hold_the_batch_with_a_reason_people_can_read() -> None:
    result = run({"users": users(range(10_000))}, valid("users", users(range(1_200, 10_000))))
    assert result.hold_reasons == (
        "users: 1,200 of 10,000 loaded rows (12.0%) would be deleted; the limit is 10%",
    )


def test_too_many_updates_hold_the_batch() -> None:
    result = run(
        {"users": users(range(100))},
        valid("users", pl.concat([users(range(80), last="New"), users(range(80, 100))])),
        thresholds=Thresholds(max_delete_pct=10, max_update_pct=75),
    )
    assert result.hold_reasons == (
        "users: 80 of 100 loaded rows (80.0%) would be updated; the limit is 75%",
    )


@pytest.mark.parametrize(("deleted", "held"), [(10, False), (11, True)])
def test_the_delete_limit_is_exclusive(deleted: int, held: bool) -> None:
    result = run({"users": users(range(100))}, valid("users", users(range(deleted, 100))))
    assert bool(result.hold_reasons) is held
    assert result.tables["users"].deleted.height == deleted


def _users_from(rows: dict[str, tuple[str | None, str | None]]) -> pl.DataFrame:
    frame = users(sorted(rows))
    values = [rows[k] for k in sorted(rows)]
    return frame.with_columns(
        last_name=pl.Series([v[0] for v in values], dtype=pl.String),
        email=pl.Series([v[1] for v in values], dtype=pl.String),
    )


_VALUES = st.tuples(st.sampled_from(["Doe", "Roe"]), st.sampled_from([None, "a@x.org", ""]))
_ROWS = st.dictionaries(st.sampled_from([f"u{i}" for i in range(12)]), _VALUES, max_size=12)


@given(before=_ROWS, tonight=_ROWS, rejected=st.sets(st.sampled_from([f"u{i}" for i in range(12)])))
def test_applying_the_plan_to_the_snapshot_gives_tonights_rows(
    before: dict[str, tuple[str | None, str | None]],
    tonight: dict[str, tuple[str | None, str | None]],
    rejected: set[str],
) -> None:
    rejected -= set(tonight)  # a rejected row is not also a valid row of the same file
    loaded, new = _users_from(before), _users_from(tonight)
    keys = pl.DataFrame(
        {"district_user_id": sorted(rejected)}, schema={"district_user_id": pl.String}
    )
    table = run(
        {"users": loaded}, valid("users", new, keys), thresholds=Thresholds(100, 100)
    ).tables["users"]
    replaced = pl.concat([table.deleted, table.updated.select("district_user_id")])
    after = pl.concat(
        [loaded.join(replaced, on="district_user_id", how="anti"), table.added, table.updated]
    )
    expected = pl.concat([new, loaded.filter(pl.col("district_user_id").is_in(sorted(rejected)))])
    assert after.sort("district_user_id").rows() == expected.sort("district_user_id").rows()
    assert table.added.height + table.updated.height + table.unchanged == new.height
    # An updated row differs from its loaded row in some column (nulls equal).
    assert table.updated.join(loaded, on=list(USER_COLS), how="semi", nulls_equal=True).is_empty()
