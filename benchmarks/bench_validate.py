"""Time validate on a district-sized batch: 262k users, 20k classes, 2M enrollments.

About 1% of the rows of each file break a rule (row rules, duplicate keys and
references, which cascade from rejected users and classes to enrollments);
``--valid`` validates samples/generate.py's district instead, where every row is
valid: the usual night. Prints the time per run and the reject counts per code.
No database needed: the batch holds every required file, so nothing is asked of
the store.

    .venv/bin/python benchmarks/bench_validate.py [--runs 3] [--valid]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from pandera.errors import SchemaErrors

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.schemas import compile_schema
from roster_pipeline.contracts.specs import Spec, load_spec
from roster_pipeline.stages.parse import LINE, ParsedFile
from roster_pipeline.stages.validate import validate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "samples"))

import generate  # samples/generate.py: the synthetic district

USERS, TEACHERS, CLASSES, ENROLLMENTS = 262_000, 12_000, 20_000, 2_000_000
BAD = 0.01


class NothingLoaded:
    def rows(self, table: str, columns: Sequence[str]) -> pl.DataFrame | None:
        return None


def _ids(prefix: str, numbers: np.ndarray) -> pl.Series:
    return pl.select(pl.lit(prefix) + pl.Series(numbers).cast(pl.String)).to_series()


def _spoil(column: pl.Series, rng: np.random.Generator, bad: str | None) -> pl.Series:
    """Replace about BAD/3 of the values with ``bad`` (None: empty)."""
    hit = pl.Series(rng.random(column.len()) < BAD / 3)
    return pl.select(pl.when(hit).then(pl.lit(bad, pl.String)).otherwise(column)).to_series()


def _parsed(name: str, frame: pl.DataFrame) -> ParsedFile:
    lines = pl.int_range(2, frame.height + 2, dtype=pl.Int64, eager=True).alias(LINE)
    return ParsedFile(name, name.removesuffix(".csv"), frame.with_columns(lines), rejects.empty())


def batch(seed: int = 7) -> list[ParsedFile]:
    rng = np.random.default_rng(seed)
    user_ids = _ids("U", np.arange(USERS))
    roles = pl.Series(np.where(np.arange(USERS) < TEACHERS, "Teacher", "student"))
    users = pl.DataFrame(
        {
            "district_user_id": _spoil(user_ids, rng, "9.00001E+08"),
            "first_name": _spoil(pl.Series(["Ada"] * USERS), rng, None),
            "last_name": pl.Series(["Lovelace"] * USERS),
            "role": _spoil(roles, rng, "Admin"),
        }
    )
    teachers = _ids("U", rng.integers(0, TEACHERS, CLASSES))
    classes = pl.DataFrame(
        {
            "class_id": _ids("C", np.arange(CLASSES)),
            "class_name": _spoil(pl.Series(["Algebra"] * CLASSES), rng, "x" * 201),
            "school_id": pl.Series(["H1"] * CLASSES),
            "course_id": pl.Series(["MATH1"] * CLASSES),
            "teacher_id": _spoil(teachers, rng, "U20000"),  # a student: mismatch
        }
    )
    enrollments = pl.DataFrame(
        {
            "class_id": _spoil(_ids("C", rng.integers(0, CLASSES, ENROLLMENTS)), rng, "C99999"),
            "student_id": _spoil(
                _ids("U", rng.integers(TEACHERS, USERS, ENROLLMENTS)), rng, "1.23E+5"
            ),
        }
    )
    return [
        _parsed("users.csv", users),
        _parsed("classes.csv", classes),
        _parsed("enrollments.csv", enrollments),
    ]


def valid_batch() -> list[ParsedFile]:
    """The synthetic district of the end-to-end benchmarks, every row valid."""
    tables = generate.district(USERS, CLASSES, ENROLLMENTS, seed=7)
    return [_parsed(f"{name}.csv", frame) for name, frame in tables.items()]


def pandera_alone(spec: Spec, parsed: list[ParsedFile]) -> None:
    """The share of the row rules: pandera evaluating the schema and collecting failures."""
    for p in parsed:
        schema, start, failures = compile_schema(spec.file(p.file_spec)), time.perf_counter(), 0
        try:
            schema.validate(p.frame, lazy=True)
        except SchemaErrors as exc:
            failures = exc.failure_cases.height
        took = time.perf_counter() - start
        print(f"  pandera alone, {p.name}: {took:.2f} s, {failures:,} failure cases")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--valid", action="store_true", help="every row valid (no rejects)")
    args = parser.parse_args()
    spec, parsed = load_spec(), valid_batch() if args.valid else batch()
    print(f"rows: {', '.join(f'{p.name} {p.frame.height:,}' for p in parsed)}")
    for run in range(1, args.runs + 1):
        start = time.perf_counter()
        result = validate(parsed, spec, NothingLoaded())
        print(f"run {run}: validate {time.perf_counter() - start:.2f} s")
    pandera_alone(spec, parsed)
    for name, valid in result.files.items():
        print(f"  {name}: {valid.rows:,} rows, {valid.rejected:,} rejected")
    counts = result.rejects.group_by("code").len().sort("code")
    for code, n in counts.iter_rows():
        print(f"  {code}: {n:,}")


if __name__ == "__main__":
    main()
