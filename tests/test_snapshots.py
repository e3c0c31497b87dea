"""Snapshots read ahead, on both engines: the plan of a night compares the files with
the rows read on a connection of their own while the files were parsed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from roster_pipeline import Home, load_settings
from roster_pipeline.context import context_for
from roster_pipeline.errors import NotFoundError
from roster_pipeline.pipeline import evaluate
from roster_pipeline.store import Store
from roster_pipeline.store.sql_store import SqlStore
from tests.helpers import Roster
from tests.test_store import USER_COLS, enrollments, load, users, valid

PAIRS = ("class_id", "student_id")


def test_a_snapshot_read_ahead_is_the_one_read_now(store: Store) -> None:
    people = users(("u1", "Ada", "King", "Teacher"), ("u2", "Alan", "Turing", "Student"))
    load(
        store,
        "north",
        "b1",
        valid("users", people),
        valid("enrollments", enrollments(("c1", "u2"))),
    )
    ahead = store.read_ahead("north", {"users": USER_COLS, "enrollments": PAIRS})

    taken = ahead.get("enrollments", PAIRS)
    assert taken is not None
    assert_frame_equal(taken, store.snapshot("north", "enrollments", PAIRS))
    assert ahead.get("enrollments", PAIRS) is taken  # validation and plan share one read
    assert ahead.get("users", ("district_user_id",)) is None  # other columns: not read ahead
    taken = ahead.get("users", USER_COLS)
    assert taken is not None
    assert_frame_equal(taken.sort("district_user_id"), people)


def test_a_read_ahead_that_fails_fails_where_it_is_wanted(store: Store) -> None:
    ahead = store.read_ahead("north", {"nosuch": ("a",), "users": USER_COLS})
    with pytest.raises(NotFoundError, match="no roster table 'nosuch'"):
        ahead.get("nosuch", ("a",))
    taken = ahead.get("users", USER_COLS)  # the reads after it still happen
    assert taken is not None
    assert taken.height == 0


class _Counted(SqlStore):
    """The real store, counting the snapshots read on its own connection."""

    read_here: list[tuple[str, tuple[str, ...]]]

    def snapshot(self, district: str, table: str, columns: Sequence[str]) -> pl.DataFrame:
        self.read_here.append((table, tuple(columns)))
        return super().snapshot(district, table, columns)


@pytest.mark.parametrize(
    ("contract", "first", "night"),
    [
        ("roster-csv", "good", "next-night"),
        ("powerschool", "powerschool-tables-bad", "powerschool-tables"),
        ("oneroster-1.1", "oneroster/good", "oneroster/delta"),
    ],
)
def test_a_nights_plan_reads_every_snapshot_ahead(  # noqa: PLR0917 (fixtures and cases)
    roster: Roster,
    store_url: str,
    samples: Path,
    tmp_path: Path,
    contract: str,
    first: str,
    night: str,
) -> None:
    roster("district", "add", "lincoln", "--spec", contract)
    roster("process", samples / first, "--district", "lincoln")
    settings = load_settings(home=tmp_path / "home", database_url=store_url)
    counted = _Counted(store_url)
    counted.read_here = []
    with Home(settings) as home:
        ctx = context_for(settings, home.store.district("lincoln"), counted)
        outcome = evaluate([samples / night], ctx, tmp_path / "work")
    counted.close()

    assert outcome.plan is not None
    assert outcome.plan.tables
    # Validation may look up loaded keys and roles; what the plan compares was read ahead.
    compared = {(t, p.columns) for t, p in outcome.plan.tables.items()}
    assert compared.isdisjoint(counted.read_here)
