"""Property tests at the seams: CSV -> process -> export round-trips; bytes never crash."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from roster_pipeline.config import load_settings
from roster_pipeline.districts import add_district, export
from roster_pipeline.home import Home
from roster_pipeline.pipeline import process

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
# An ID that reads as a spreadsheet number (1.5E-3) is rejected on purpose.
ID = st.text(alphabet=ID_CHARS, min_size=1, max_size=12).filter(
    lambda s: not re.fullmatch(r"[0-9]+(\.[0-9]*)?[Ee][+-]?[0-9]+", s)
)
# Names as people write them: letters of many scripts, spaces, quotes, commas; no
# surrounding blanks (values are trimmed) and no control characters.
NAME = (
    st.text(
        alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "Zs"]),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
USER = st.tuples(ID, NAME, NAME, st.sampled_from(["Teacher", "Student"]))


def _csv(header: list[str], rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@settings(max_examples=25, deadline=None)
@given(users=st.lists(USER, min_size=1, max_size=20, unique_by=lambda u: u[0]))
def test_valid_users_round_trip(users: list[tuple[str, ...]]) -> None:
    root = Path(tempfile.mkdtemp())
    teacher = ("TZZ", "Ada", "Lovelace", "Teacher")
    users = [u for u in users if u[0] != "TZZ"] + [teacher]
    batch = root / "batch"
    batch.mkdir()
    (batch / "users.csv").write_text(
        _csv(["district_user_id", "first_name", "last_name", "role"], users)
    )
    (batch / "classes.csv").write_text(
        _csv(
            ["class_id", "class_name", "school_id", "course_id", "teacher_id"],
            [("C1", "Art", "1", "A", "TZZ")],
        )
    )
    (batch / "enrollments.csv").write_text(_csv(["class_id", "student_id"], []))
    with Home(load_settings(home=root / "home")) as home:
        home.create()
        add_district(home, "prop")
        result = process(home, "prop", [batch])
        assert str(result.batch.status) == "loaded", result.rejects
        loaded = export(home, "prop", "users").select(
            "district_user_id", "first_name", "last_name", "role"
        )
    assert sorted(loaded.iter_rows()) == sorted(users)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_as_users_never_raise(data: bytes) -> None:
    from roster_pipeline.pipeline import check

    folder = Path(tempfile.mkdtemp())
    (folder / "users.csv").write_bytes(data)
    outcome = check([folder / "users.csv"], "roster-csv", load_settings(home=folder / "home"))
    assert str(outcome.status) in {"rejected", "loaded", "loaded_with_rejects"}
    assert outcome.status != "rejected" or outcome.rejects.height > 0
    assert "internal_error" not in outcome.rejects["code"].to_list()
