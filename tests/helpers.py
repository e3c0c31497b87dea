"""What tests import: the samples folder, the CLI runner's type and its JSON readers.

Fixtures stay in ``conftest.py``; anything a test module imports by name is here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from click.testing import Result

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

#: The ``roster`` fixture: runs the CLI in-process on a fresh home; click's Result.
Roster = Callable[..., Result]


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def process_json(roster: Roster, source: Path, code: int = 0) -> dict[str, object]:
    """`roster process SOURCE --district lincoln --json`, its exit code checked."""
    result = roster("process", source, "--district", "lincoln", "--json")
    assert result.exit_code == code, result.output
    data = as_json(result)
    assert isinstance(data, dict)
    return data


def write_night(
    folder: Path,
    users: Sequence[tuple[str, ...]],
    classes: Sequence[tuple[str, ...]],
    enrollments: Sequence[tuple[str, ...]],
) -> Path:
    """A roster-csv night in ``folder``: users (id, first, last, role, email, grade),
    classes (id, name, teacher), enrollments (class, student); two schools."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, tuple[list[str], Sequence[tuple[str, ...]]]] = {
        "schools": (["school_id", "school_name"], [("100", "North"), ("200", "South")]),
        "users": (
            ["district_user_id", "first_name", "last_name", "role", "email", "grade_level",
             "school_id"],
            [(*u, "100") for u in users],
        ),
        "classes": (
            ["class_id", "class_name", "school_id", "course_id", "teacher_id"],
            [(c, name, "100", "C", teacher) for c, name, teacher in classes],
        ),
        "enrollments": (["class_id", "student_id"], enrollments),
    }  # fmt: skip
    for name, (header, rows) in tables.items():
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)
    return folder


def pulled_from(roster: Roster, slug: str, url: str, client_id: str, secret: str) -> Result:
    """`roster district source SLUG powerschool-api` pointing an added district at a
    PowerSchool (the emulator), the secret on stdin as an operator types it."""
    argv = ["district", "source", slug, "powerschool-api", "--url", url, "--client-id", client_id]
    return roster(*argv, "--client-secret-stdin", input=secret + "\n")
