"""Generate a large synthetic district in the roster-csv format.

    python samples/generate.py OUT_DIR [--users 262000] [--classes 20000]
        [--enrollments 2000000] [--next-night PCT] [--zip] [--seed 7]
        [--order keyed|shuffled]

``--next-night PCT`` writes a second snapshot beside the first (OUT_DIR/next/)
in which PCT percent of users are added, changed and removed, and PCT percent of
enrollments added and removed: the benchmark's "next night".

``--order`` is how rows follow each other in a file. ``keyed`` (the default) writes
every table sorted by its key, as SIS exports usually come (PowerSchool's exports
follow the table's internal order); ``shuffled`` writes them in random order. A
raw import is much faster on keyed input (B-tree appends), so a benchmark
measures both.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np
import polars as pl

FIRST = ["Ava", "Liam", "Sofia", "Noah", "Zoë", "Ethan", "Mia", "Lucas", "Amelia", "Mateo", "Chloé"]
LAST = ["Johnson", "Nguyen", "García", "Williams", "Brown", "Davis", "Smith", "Kim", "Okafor"]
SCHOOLS = 120
KEYS = {
    "schools": ["school_id"],
    "users": ["district_user_id"],
    "classes": ["class_id"],
    "enrollments": ["class_id", "student_id"],
}
ORDERS = ("keyed", "shuffled")


def _pick(rng: np.random.Generator, words: list[str], n: int) -> pl.Series:
    return pl.Series(words).gather(rng.integers(0, len(words), n))


def district(
    users: int, classes: int, enrollments: int, seed: int, teachers: int | None = None
) -> dict[str, pl.DataFrame]:
    """``users`` people, ``teachers`` of them teachers (default one in twenty)."""
    rng = np.random.default_rng(seed)
    teachers = teachers or max(1, users // 20)
    ids = pl.Series(
        [f"T{i:06d}" for i in range(teachers)] + [f"{i:08d}" for i in range(users - teachers)]
    )
    roles = ["Teacher"] * teachers + ["Student"] * (users - teachers)
    school = pl.Series(rng.integers(0, SCHOOLS, users)).cast(pl.String)
    users_df = pl.DataFrame(
        {
            "district_user_id": ids,
            "first_name": _pick(rng, FIRST, users),
            "last_name": _pick(rng, LAST, users),
            "role": roles,
            "email": (ids + "@district.example").to_list(),
            "grade_level": pl.Series(rng.integers(1, 13, users)).cast(pl.String),
            "school_id": school,
        }
    ).with_columns(
        pl.when(pl.col("role") == "Teacher")
        .then(None)
        .otherwise(pl.col("grade_level"))
        .alias("grade_level")
    )
    class_ids = pl.Series([f"C{i:06d}" for i in range(classes)])
    classes_df = pl.DataFrame(
        {
            "class_id": class_ids,
            "class_name": ("Section " + class_ids).to_list(),
            "school_id": pl.Series(rng.integers(0, SCHOOLS, classes)).cast(pl.String),
            "course_id": pl.Series([f"CRS{i % 900:04d}" for i in range(classes)]),
            "teacher_id": ids.gather(rng.integers(0, teachers, classes)),
        }
    )
    students = ids.slice(teachers)
    enr = (
        pl.DataFrame(
            {
                "class_id": class_ids.gather(rng.integers(0, classes, int(enrollments * 1.02))),
                "student_id": students.gather(
                    rng.integers(0, len(students), int(enrollments * 1.02))
                ),
            }
        )
        .unique(maintain_order=True)
        .head(enrollments)
    )
    schools_df = pl.DataFrame(
        {
            "school_id": [str(i) for i in range(SCHOOLS)],
            "school_name": [f"School {i}" for i in range(SCHOOLS)],
        }
    )
    return {"schools": schools_df, "users": users_df, "classes": classes_df, "enrollments": enr}


def next_night(tables: dict[str, pl.DataFrame], pct: float, seed: int) -> dict[str, pl.DataFrame]:
    """The next snapshot: pct% of users added, changed, removed; of enrollments added, removed."""
    rng = np.random.default_rng(seed + 1)
    users = tables["users"]
    students = users.filter(pl.col("role") == "Student")
    n = int(len(users) * pct / 100)
    gone = set(students["district_user_id"].sample(n, seed=seed).to_list())
    kept = users.filter(~pl.col("district_user_id").is_in(list(gone)))
    change = kept.filter(pl.col("role") == "Student").sample(n, seed=seed + 2)["district_user_id"]
    kept = kept.with_columns(
        pl.when(pl.col("district_user_id").is_in(change.to_list()))
        .then(pl.col("last_name") + "-Renamed")
        .otherwise(pl.col("last_name"))
        .alias("last_name")
    )
    new_ids = [f"N{i:07d}" for i in range(n)]
    added = students.head(n).with_columns(pl.Series("district_user_id", new_ids))
    users2 = pl.concat([kept, added])
    # Enrollments of removed students go (about pct%); as many arrive for new students.
    enr = tables["enrollments"].filter(~pl.col("student_id").is_in(list(gone)))
    m = len(tables["enrollments"]) - len(enr)
    fresh = pl.DataFrame(
        {
            "class_id": tables["classes"]["class_id"].gather(
                rng.integers(0, len(tables["classes"]), m)
            ),
            "student_id": pl.Series(new_ids, dtype=pl.String).gather(rng.integers(0, max(n, 1), m)),
        }
    )
    enr2 = pl.concat([enr, fresh]).unique(maintain_order=True)
    return {**tables, "users": users2, "enrollments": enr2}


def ordered(frame: pl.DataFrame, name: str, order: str, seed: int) -> pl.DataFrame:
    """The rows of one table as a file of that ``order`` holds them."""
    if order == "keyed":
        return frame.sort(KEYS[name])
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


def write(
    tables: dict[str, pl.DataFrame],
    folder: Path,
    as_zip: bool,
    order: str = "keyed",
    seed: int = 7,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        ordered(frame, name, order, seed).write_csv(folder / f"{name}.csv")
    if as_zip:
        with zipfile.ZipFile(folder / "roster.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for name in tables:
                zf.write(folder / f"{name}.csv", f"{name}.csv")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--users", type=int, default=262_000)
    parser.add_argument("--classes", type=int, default=20_000)
    parser.add_argument("--enrollments", type=int, default=2_000_000)
    parser.add_argument("--next-night", type=float, default=None)
    parser.add_argument("--zip", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--order", choices=ORDERS, default="keyed")
    args = parser.parse_args()
    tables = district(args.users, args.classes, args.enrollments, args.seed)
    write(tables, args.out, args.zip, args.order, args.seed)
    if args.next_night is not None:
        nxt = next_night(tables, args.next_night, args.seed)
        write(nxt, args.out / "next", args.zip, args.order, args.seed + 1)


if __name__ == "__main__":
    main()
