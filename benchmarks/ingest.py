"""Ingest benchmark: `roster process` vs the raw limit vs a pandas pipeline, one run.

    python benchmarks/ingest.py [--users N --classes N --enrollments N] [--db URL]

Prints one table: first load and next night (1% of users added, changed and
removed; 1% of enrollments added and removed) for

- ours: `roster process roster.zip` into a fresh home (wall time, peak RSS);
- raw:  the sqlite3 shell's `.import` of the same CSVs into tables with the same
        primary keys, no validation at all (PostgreSQL: `psql \\copy`);
- pandas: read_csv + pandera (pandas) with the same row and set checks + to_sql.

Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "samples"))

import generate  # noqa: E402  (samples/generate.py: the synthetic district)

os.environ.setdefault("PGOPTIONS", "--client-min-messages=warning")  # no DROP ... CASCADE notices

TABLES = ("schools", "users", "classes", "enrollments")
DDL = {
    "schools": "school_id TEXT, school_name TEXT, PRIMARY KEY (school_id)",
    "users": "district_user_id TEXT, first_name TEXT, last_name TEXT, role TEXT, email TEXT,"
    " grade_level TEXT, school_id TEXT, PRIMARY KEY (district_user_id)",
    "classes": "class_id TEXT, class_name TEXT, school_id TEXT, course_id TEXT, teacher_id TEXT,"
    " PRIMARY KEY (class_id)",
    "enrollments": "class_id TEXT, student_id TEXT, PRIMARY KEY (class_id, student_id)",
}


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float


def measure(cmd: list[str], **kwargs: object) -> Run:
    """Wall time and peak RSS of a child process (via a tiny wrapper that reaps it)."""
    wrapper = (
        "import resource,subprocess,sys;"
        "r=subprocess.run(sys.argv[1:]);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
        "sys.exit(r.returncode)"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=False, **kwargs
    )  # type: ignore[call-overload]
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise SystemExit(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return Run(seconds, peak_kb / 1024)


def data(args: argparse.Namespace) -> Path:
    folder = HERE / "data" / f"u{args.users}-c{args.classes}-e{args.enrollments}"
    if not (folder / "next" / "roster.zip").is_file():
        print(f"generating the synthetic district into {folder} ...", flush=True)
        tables = generate.district(args.users, args.classes, args.enrollments, seed=7)
        generate.write(tables, folder, as_zip=True)
        generate.write(generate.next_night(tables, 1.0, seed=7), folder / "next", as_zip=True)
    return folder


def fresh_schema(url: str) -> tuple[str, str]:
    """A new, empty schema on the server; (its name, a URL whose search_path is it)."""
    schema = f"bench_ours_{os.getpid()}"
    sql = f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    subprocess.run(["psql", "-q", url, "-c", sql], check=True, capture_output=True)
    joiner = "&" if "?" in url else "?"
    return schema, f"{url}{joiner}options=-csearch_path%3D{schema}"


def ours(folder: Path, db: str | None) -> tuple[Run, Run]:
    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    env = {**os.environ, "ROSTER_HOME": str(home)}
    schema = ""
    if db:
        schema, env["ROSTER_DATABASE_URL"] = fresh_schema(db)
    roster = [str(Path(sys.executable).parent / "roster")]
    subprocess.run([*roster, "district", "add", "big"], env=env, check=True, capture_output=True)
    first = measure(
        [*roster, "process", str(folder / "roster.zip"), "--district", "big", "--json"], env=env
    )
    nxt = measure(
        [*roster, "process", str(folder / "next" / "roster.zip"), "--district", "big", "--json"],
        env=env,
    )
    shutil.rmtree(home, ignore_errors=True)
    if db:
        subprocess.run(["psql", "-q", db, "-c", f"DROP SCHEMA {schema} CASCADE"], check=True)
    return first, nxt


def raw_sqlite(folder: Path) -> Run:
    work = Path(tempfile.mkdtemp(prefix="bench-raw-"))
    script = [f"CREATE TABLE {t} ({DDL[t]});" for t in TABLES] + [".mode csv"]
    script += [f".import --skip 1 '{folder / t}.csv' {t}" for t in TABLES]
    (work / "import.sql").write_text("\n".join(script) + "\n")
    with (work / "import.sql").open() as stdin:
        run = measure(["sqlite3", str(work / "raw.db")], stdin=stdin)
    shutil.rmtree(work, ignore_errors=True)
    return run


def raw_postgres(folder: Path, url: str) -> Run:
    schema = f"bench_raw_{os.getpid()}"
    script = [f"CREATE SCHEMA {schema}; SET search_path TO {schema};"]
    script += [f"CREATE TABLE {t} ({DDL[t]});" for t in TABLES]
    script += [f"\\copy {t} FROM '{folder / t}.csv' WITH (FORMAT csv, HEADER true)" for t in TABLES]
    work = Path(tempfile.mkdtemp(prefix="bench-raw-"))
    (work / "copy.sql").write_text("\n".join(script) + "\n")
    run = measure(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-f", str(work / "copy.sql")])
    subprocess.run(["psql", "-q", url, "-c", f"DROP SCHEMA {schema} CASCADE"], check=True)
    shutil.rmtree(work, ignore_errors=True)
    return run


def pandas_pipeline(folder: Path) -> Run | None:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return None
    work = Path(tempfile.mkdtemp(prefix="bench-pandas-"))
    run = measure(
        [sys.executable, str(HERE / "pandas_pipeline.py"), str(folder), str(work / "p.db")]
    )
    shutil.rmtree(work, ignore_errors=True)
    return run


def row(label: str, run: Run | None, base: Run | None) -> str:
    if run is None:
        return f"{label:<44} {'n/a':>9}"
    ratio = f"{run.seconds / base.seconds:>6.2f}x" if base else ""
    return f"{label:<44} {run.seconds:>8.2f}s {ratio:>8} {run.peak_mb:>9.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=262_000)
    parser.add_argument("--classes", type=int, default=20_000)
    parser.add_argument("--enrollments", type=int, default=2_000_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "ROSTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL to measure on too ('' to skip)",
    )
    args = parser.parse_args()
    folder = data(args)
    size = sum((folder / f"{t}.csv").stat().st_size for t in TABLES) / 1e6
    zipped = (folder / "roster.zip").stat().st_size / 1e6
    print(
        f"\ningest: {args.users:,} users, {args.classes:,} classes,"
        f" {args.enrollments:,} enrollments ({size:.0f} MB CSV, {zipped:.0f} MB zipped)"
    )
    print(f"{'':<44} {'time':>9} {'vs raw':>8} {'peak RSS':>12}")
    raw = raw_sqlite(folder)
    raw_next = raw_sqlite(folder / "next")
    first, nxt = ours(folder, None)
    print(row("SQLite raw .import (first load CSVs)", raw, None))
    print(row("SQLite roster process, first load", first, raw))
    print(row("SQLite raw .import (next night CSVs)", raw_next, None))
    print(row("SQLite roster process, next night", nxt, raw_next))
    print(row("pandas + pandera + to_sql, first load", pandas_pipeline(folder), raw))
    if args.postgres:
        pg_raw = raw_postgres(folder, args.postgres)
        pg_raw_next = raw_postgres(folder / "next", args.postgres)
        pg_first, pg_next = ours(folder, args.postgres)
        print(row("PostgreSQL raw \\copy (first load CSVs)", pg_raw, None))
        print(row("PostgreSQL roster process, first load", pg_first, pg_raw))
        print(row("PostgreSQL raw \\copy (next night CSVs)", pg_raw_next, None))
        print(row("PostgreSQL roster process, next night", pg_next, pg_raw_next))


if __name__ == "__main__":
    main()
