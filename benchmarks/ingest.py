"""Ingest benchmark: `roster process` vs the raw limit vs a pandas pipeline, one run.

    python benchmarks/ingest.py [--users N --classes N --enrollments N] [--postgres URL]
                                [--repeat 3] [--baseline-python PATH]
                                [--order keyed|shuffled|both] [--xl]

Prints one table per input order (rows in key order, as SIS exports write them,
and shuffled): first load and next night (1% of users added, changed and
removed; 1% of enrollments added and removed) for

- ours: `roster process roster.zip` into a fresh home (wall time, peak RSS);
- raw:  the sqlite3 shell's `.import` of the same CSVs into tables with the same
        primary keys, no validation at all (PostgreSQL: `psql \\copy`);
- pandas: read_csv + pandera (pandas) with the same row and set checks + to_sql,
        run by --baseline-python (its own environment: roster-pipeline does not
        depend on pandas, so ours runs without it, as a deployment would);
- peer: the same checks on our own stack, polars + pandera (polars) +
        write_database through ADBC (`polars_pipeline.py`), run by ours' Python.

``--xl`` adds the NYC-sized district (1,000,000 students, 48,000 teachers,
80,000 classes, 8,000,000 enrollments, key order) on SQLite: ours against
`.import`, with peak memory.

Each figure is the median of --repeat runs, the contenders taking turns so a
busy minute on the machine falls on all of them; the spread (min-max) follows.
Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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


@dataclass(frozen=True)
class Size:
    users: int
    classes: int
    enrollments: int
    teachers: int | None = None  # default: one user in twenty

    def describe(self) -> str:
        return f"{self.users:,} users, {self.classes:,} classes, {self.enrollments:,} enrollments"


XL = Size(users=1_048_000, classes=80_000, enrollments=8_000_000, teachers=48_000)


def data(size: Size, order: str) -> Path:
    """The district of ``size`` with rows in ``order``, generated once under data/."""
    name = f"u{size.users}-c{size.classes}-e{size.enrollments}-t{size.teachers or 0}-{order}"
    folder = HERE / "data" / name
    if not (folder / "next" / "roster.zip").is_file():
        print(f"generating the synthetic district into {folder} ...", flush=True)
        tables = generate.district(
            size.users, size.classes, size.enrollments, seed=7, teachers=size.teachers
        )
        generate.write(tables, folder, as_zip=True, order=order, seed=7)
        nxt = generate.next_night(tables, 1.0, seed=7)
        generate.write(nxt, folder / "next", as_zip=True, order=order, seed=8)
    return folder


def fresh_schema(url: str) -> tuple[str, str]:
    """A new, empty schema on the server; (its name, a URL whose search_path is it)."""
    schema = f"bench_ours_{os.getpid()}"
    sql = f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    subprocess.run(["psql", "-q", url, "-c", sql], check=True, capture_output=True)
    joiner = "&" if "?" in url else "?"
    return schema, f"{url}{joiner}options=-csearch_path%3D{schema}"


def ours(folder: Path, db: str | None, next_night: bool = True) -> tuple[Run, Run | None]:
    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    env = {**os.environ, "ROSTER_HOME": str(home)}
    schema = ""
    if db:
        schema, env["ROSTER_DATABASE_URL"] = fresh_schema(db)
    roster = [str(Path(sys.executable).parent / "roster")]
    # Only `roster init` creates a home; `district add` refuses a missing one.
    subprocess.run([*roster, "init"], env=env, check=True, capture_output=True)
    subprocess.run([*roster, "district", "add", "big"], env=env, check=True, capture_output=True)
    first = measure(
        [*roster, "process", str(folder / "roster.zip"), "--district", "big", "--json"], env=env
    )
    nxt = None
    if next_night:
        zipped = str(folder / "next" / "roster.zip")
        nxt = measure([*roster, "process", zipped, "--district", "big", "--json"], env=env)
    shutil.rmtree(home, ignore_errors=True)
    if db:
        subprocess.run(["psql", "-q", db, "-c", f"DROP SCHEMA {schema} CASCADE"], check=True)
    return first, nxt


def raw(folder: Path, db: str | None) -> Run:
    return raw_postgres(folder, db) if db else raw_sqlite(folder)


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


def peer_pipeline(folder: Path) -> Run:
    work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    script = str(HERE / "polars_pipeline.py")
    run = measure([sys.executable, script, str(folder), str(work / "p.db")])
    shutil.rmtree(work, ignore_errors=True)
    return run


def pandas_pipeline(folder: Path, python: str) -> Run | None:
    probe = [python, "-c", "import pandas, pandera.pandas"]
    if subprocess.run(probe, capture_output=True, check=False).returncode:
        return None
    work = Path(tempfile.mkdtemp(prefix="bench-pandas-"))
    run = measure([python, str(HERE / "pandas_pipeline.py"), str(folder), str(work / "p.db")])
    shutil.rmtree(work, ignore_errors=True)
    return run


@dataclass(frozen=True)
class Figure:
    """The runs of one contender: median time, spread, and the largest peak RSS."""

    runs: tuple[Run, ...]

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def spread(self) -> str:
        times = [r.seconds for r in self.runs]
        return f"{min(times):.2f}-{max(times):.2f}" if len(times) > 1 else ""

    @property
    def peak_mb(self) -> float:
        return max(r.peak_mb for r in self.runs)


def row(
    label: str,
    fig: Figure | None,
    base: Figure | None,
    peer: Figure | None = None,
    pandas: Figure | None = None,
) -> str:
    if fig is None:
        return f"{label:<42} {'n/a':>8}"
    ratio = f"{fig.seconds / base.seconds:.2f}x" if base else ""
    versus = [f"{o.seconds / fig.seconds:.2f}x" if o else "" for o in (peer, pandas)]
    return (
        f"{label:<42} {fig.seconds:>7.2f}s {fig.spread:>12} {ratio:>7} {versus[0]:>8}"
        f" {versus[1]:>9} {fig.peak_mb:>7.0f} MB"
    )


HEADER = (
    f"{'':<42} {'time':>8} {'spread':>12} {'vs raw':>7} {'vs peer':>8} {'vs pandas':>9}"
    f" {'peak RSS':>10}"
)


def engine_rounds(args: argparse.Namespace, folder: Path, db: str | None) -> dict[str, list[Run]]:
    """``--repeat`` rounds, each running every contender once, in turn."""
    runs: dict[str, list[Run]] = {}
    for _ in range(args.repeat):
        found = {"raw": raw(folder, db), "raw_next": raw(folder / "next", db)}
        found["first"], nxt = ours(folder, db)
        assert nxt is not None
        found["next"] = nxt
        if not db:
            found["peer"] = peer_pipeline(folder)
            pandas = pandas_pipeline(folder, args.baseline_python)
            if pandas is not None:
                found["pandas"] = pandas
        for name, run in found.items():
            runs.setdefault(name, []).append(run)
    return runs


def print_engine(name: str, tool: str, runs: dict[str, list[Run]]) -> None:
    fig = {k: Figure(tuple(v)) for k, v in runs.items()}
    peer, pandas = fig.get("peer"), fig.get("pandas")
    print(row(f"{name} raw {tool} (first load CSVs)", fig["raw"], None))
    print(row(f"{name} roster process, first load", fig["first"], fig["raw"], peer, pandas))
    print(row(f"{name} raw {tool} (next night CSVs)", fig["raw_next"], None))
    print(row(f"{name} roster process, next night", fig["next"], fig["raw_next"]))
    if name == "SQLite":
        print(row("polars + pandera + ADBC, first load", peer, fig["raw"]))
        print(row("pandas + pandera + to_sql, first load", pandas, fig["raw"]))


def xl_rounds(args: argparse.Namespace) -> None:
    """The NYC-sized district on SQLite: ours against .import, first load only."""
    folder = data(XL, "keyed")
    runs: dict[str, list[Run]] = {}
    for _ in range(args.repeat):
        first, _next = ours(folder, None, next_night=False)
        for name, run in {"raw": raw(folder, None), "first": first}.items():
            runs.setdefault(name, []).append(run)
    fig = {k: Figure(tuple(v)) for k, v in runs.items()}
    print(f"\nXL: {XL.describe()} (key order), SQLite; median of {args.repeat}")
    print(HEADER)
    print(row("SQLite raw .import (first load CSVs)", fig["raw"], None))
    print(row("SQLite roster process, first load", fig["first"], fig["raw"]))


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
    parser.add_argument(
        "--order", choices=(*generate.ORDERS, "both"), default="both", help="rows in files"
    )
    parser.add_argument("--xl", action="store_true", help="also the NYC-sized district")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument(
        "--baseline-python",
        default=os.environ.get("ROSTER_BENCH_BASELINE_PYTHON", sys.executable),
        help="the interpreter of the pandas baseline's environment (with pandas and pandera)",
    )
    args = parser.parse_args()
    size = Size(args.users, args.classes, args.enrollments)
    for order in generate.ORDERS if args.order == "both" else (args.order,):
        folder = data(size, order)
        csv_mb = sum((folder / f"{t}.csv").stat().st_size for t in TABLES) / 1e6
        zipped = (folder / "roster.zip").stat().st_size / 1e6
        print(
            f"\ningest, rows {order}: {size.describe()} ({csv_mb:.0f} MB CSV,"
            f" {zipped:.0f} MB zipped); median of {args.repeat}"
        )
        print(HEADER)
        print_engine("SQLite", ".import", engine_rounds(args, folder, None))
        if args.postgres:
            print_engine("PostgreSQL", "\\copy", engine_rounds(args, folder, args.postgres))
    if args.xl:
        xl_rounds(args)


if __name__ == "__main__":
    main()
