"""validate on arbitrary text: never raises, and what it keeps obeys every row rule."""

from __future__ import annotations

import re

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import load_spec
from roster_pipeline.stages.parse import LINE, ParsedFile
from roster_pipeline.stages.validate import validate

SPEC = load_spec()
USERS = SPEC.file("users")
ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Plausible values and anything else, as parse hands them over: trimmed, empty as null.
cell = st.one_of(
    st.none(),
    st.sampled_from(["S1", "S2", "T1", "teacher", "STUDENT", "Admin", "9.00001E+08", "a b"]),
    st.text(max_size=120).map(str.strip).filter(bool),
)
rows = st.lists(st.tuples(*[cell] * len(USERS.columns)), max_size=25)


class NothingLoaded:
    def rows(self, table: str, columns: object) -> pl.DataFrame | None:
        return None


def _users(data: list[tuple[str | None, ...]]) -> ParsedFile:
    frame = pl.DataFrame(data, schema=dict.fromkeys(USERS.column_names, pl.String), orient="row")
    lines = pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE)
    return ParsedFile("users.csv", "users", frame.with_columns(lines), rejects.empty())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_arbitrary_users_split_into_valid_and_rejected(data: list[tuple[str | None, ...]]) -> None:
    result = validate([_users(data)], SPEC, NothingLoaded())
    users = result.files["users"]
    assert users.frame.height + users.rejected == len(data)
    codes = {str(c) for c in Code}
    row_rejects = result.rejects.filter(pl.col("file") == "users.csv")
    assert set(row_rejects["code"]) <= codes
    assert set(row_rejects["line"]) <= set(range(2, len(data) + 2))
    for row in users.frame.iter_rows(named=True):
        assert ID.fullmatch(row["district_user_id"])
        assert row["role"] in ("Teacher", "Student")
        assert 1 <= len(row["first_name"]) <= 100
        assert 1 <= len(row["last_name"]) <= 100
    assert users.frame["district_user_id"].is_unique().all()
