"""Rollback and --as-of against the exports taken along the way, on both engines.

For any sequence of nights (full snapshots, rows rejected, batches rejected,
held, approved, discarded or left held), rolling back the last k applied
batches gives exactly the export taken after batch n-k, and ``--as-of`` of
every batch gives the export taken right after it, before and after the
rollbacks.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from roster_pipeline import operations, rollback
from roster_pipeline.config import load_settings
from roster_pipeline.districts import add_district, export
from roster_pipeline.home import Home
from roster_pipeline.pipeline import process
from roster_pipeline.store import BatchStatus
from tests.helpers import write_night

TABLES = ("schools", "users", "classes", "enrollments", "class_teachers")
STUDENTS = [f"S{i:02d}" for i in range(1, 13)]
CLASSES = {"C1": "T1", "C2": "T2", "C3": "T1"}

NIGHT = st.fixed_dictionaries(
    {
        "students": st.sets(st.sampled_from(STUDENTS), min_size=6),
        "classes": st.sets(st.sampled_from(sorted(CLASSES)), min_size=1),
        "renamed": st.sets(st.sampled_from(STUDENTS), max_size=4),
        "bad": st.sets(st.sampled_from(STUDENTS), max_size=2),  # an e-mail rejected
        "fatal": st.sampled_from([False] * 5 + [True]),  # no classes file: batch rejected
        "held": st.sampled_from(["approve", "approve", "approve", "discard", "leave"]),
    }
)

Snapshot = dict[str, list[tuple[Any, ...]]]


def night_folder(root: Path, n: int, night: dict[str, Any]) -> Path:
    users = [
        ("T1", "Ada", "Lovelace", "Teacher", "", ""),
        ("T2", "Alan", "Turing", "Teacher", "", ""),
    ]
    for s in sorted(night["students"]):
        last = f"N{n}" if s in night["renamed"] else "Doe"
        email = "not an e-mail" if s in night["bad"] else f"{s.lower()}@x.example"
        users.append((s, "Pat", last, "Student", email, "5"))
    classes = [(c, f"Class {c}", CLASSES[c]) for c in sorted(night["classes"])]
    chosen = sorted(night["classes"])
    enrollments = [(chosen[i % len(chosen)], s) for i, s in enumerate(sorted(night["students"]))]
    folder = write_night(root / f"night{n}", users, classes, enrollments)
    if night["fatal"]:
        (folder / "classes.csv").unlink()
    return folder


def snapshot(home: Home, slug: str, as_of: str | None = None) -> Snapshot:
    taken = {t: export(home, slug, t, as_of).rows() for t in TABLES}
    if as_of is None:  # the counts the loader keeps are the rows loaded now
        assert home.store.table_counts(slug) == {t: len(rows) for t, rows in taken.items()}
    return taken


@pytest.fixture
def home(store_url: str, tmp_path: Path) -> Iterator[Home]:
    """One home for every example; each example is a district of its own in it."""
    with Home(load_settings(home=tmp_path / "home", database_url=store_url)) as made:
        made.create()
        yield made


def run_nights(
    home: Home, slug: str, root: Path, nights: list[dict[str, Any]]
) -> list[tuple[str, Snapshot]]:
    """Process the nights; the applied batches, each with the export taken after it."""
    applied = []
    for n, night in enumerate(nights):
        batch = process(home, slug, [night_folder(root, n, night)]).batch
        if batch.status == BatchStatus.HELD and night["held"] == "approve":
            batch = operations.approve(home, batch.batch_id)
        elif batch.status == BatchStatus.HELD and night["held"] == "discard":
            batch = operations.discard(home, batch.batch_id)
        if batch.status.applied:
            applied.append((batch.batch_id, snapshot(home, slug)))
    return applied


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    nights=st.lists(NIGHT, min_size=1, max_size=5),
    data=st.data(),
    cascade=st.booleans(),
)
def test_rolling_back_the_last_k_batches_gives_the_export_after_n_minus_k(
    home: Home, nights: list[dict[str, Any]], data: st.DataObject, cascade: bool
) -> None:
    slug = f"p{uuid.uuid4().hex[:10]}"
    add_district(home, slug)
    root = Path(tempfile.mkdtemp(prefix="nights-"))
    applied = run_nights(home, slug, root, nights)
    for batch_id, taken in applied:
        assert snapshot(home, slug, batch_id) == taken, f"--as-of {batch_id}"
    k = data.draw(st.integers(min_value=min(1, len(applied)), max_value=len(applied)), "k")
    event(f"rolled back {k} of {len(applied)} applied batches")
    undo = [batch_id for batch_id, _ in applied[len(applied) - k :]]
    if cascade and undo:
        # The oldest of them with --cascade first; whatever shared no rows with it is
        # still applied and goes next, newest first.
        done = {u.batch.batch_id for u in rollback.rollback(home, undo[0], cascade=True).undone}
        undo = [b for b in undo if b not in done]
    for batch_id in reversed(undo):
        rollback.rollback(home, batch_id)
    empty: Snapshot = {t: [] for t in TABLES}
    expected = applied[len(applied) - k - 1][1] if len(applied) > k else empty
    assert snapshot(home, slug) == expected
    for batch_id, taken in applied:
        assert snapshot(home, slug, batch_id) == taken, f"--as-of {batch_id} after the rollback"
    if k:
        again = process(home, slug, [night_folder(root, 99, nights[-1])]).batch
        assert again.status in {BatchStatus.HELD, BatchStatus.REJECTED, BatchStatus.DUPLICATE}
