"""The ops console at scale: 1,000 districts, 100,000 batches, one batch of a million rejects.

    python benchmarks/console.py [--districts 1000] [--batches 100] [--rejects 1000000]
                                 [--repeat 7] [--db URL]

Builds the database in bulk (straight into the tables, as a year of nights would
leave them), starts the console on loopback with uvicorn and times whole HTTP
requests of a logged-in operator: the overview, the district page, the batch
page of the million-reject batch (first view, then warm), and pages of its
rejects, one deep into the million. Target: under 200 ms for the overview and
the batch page. Medians with their spread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from roster_pipeline import operators
from roster_pipeline.config import load_settings
from roster_pipeline.home import Home
from roster_pipeline.store.console import summarise_rejects

CODES = ("pattern", "required", "reference_missing", "not_allowed", "too_long")
FILES = ("schools.csv", "users.csv", "classes.csv", "enrollments.csv")
STATUSES = ("loaded", "loaded", "loaded", "loaded_with_rejects", "duplicate")


def _districts(n: int, now: datetime) -> pl.DataFrame:
    return pl.DataFrame({
        "slug": [f"d{i:04d}" for i in range(n)], "name": [f"District {i}" for i in range(n)],
        "spec": "roster-csv", "username": [f"d{i:04d}" for i in range(n)], "password_hash": "",
        "public_keys": "[]", "allow_ips": "[]", "settings": "{}",
        "enabled": 1, "paused": 0,  # INTEGER columns: Int32
        "created_at": (now - timedelta(days=400)).isoformat(),
    })  # fmt: skip


def _batches(districts: int, per: int, now: datetime) -> pl.DataFrame:
    rows = districts * per
    ids = pl.int_range(0, rows, eager=True)
    district = ids // per
    night = per - 1 - ids % per  # 0: last night
    received = [(now - timedelta(days=int(d), hours=1)).isoformat() for d in night]
    status = [STATUSES[i % len(STATUSES)] if n else ("held" if i % 97 == 0 else "loaded")
              for i, n in zip(range(rows), night, strict=True)]  # fmt: skip
    return pl.DataFrame({
        "batch_id": [f"b{i:07d}" for i in ids], "district_id": [f"d{d:04d}" for d in district],
        "status": status, "received_at": received, "finished_at": received, "source": "upload",
        "counts": "{}", "rejects": (ids % 7) * 3, "report_path": "", "hold_reasons": "[]",
        "warnings": "[]", "message": "", "batch_no": ids + 1,
        "attempts": 0,  # INTEGER: Int32
    })  # fmt: skip


def _files(batch_ids: pl.Series) -> pl.DataFrame:
    frame = pl.DataFrame({"batch_id": batch_ids}).join(
        pl.DataFrame({"name": FILES, "seq": range(len(FILES))}), how="cross"
    )
    return frame.with_columns(
        file_spec=pl.col("name").str.replace(".csv", "", literal=True), sha256=pl.lit("0" * 64),
        size=pl.lit(100_000, pl.Int64), rows=pl.lit(2_500, pl.Int64),
        rejected=pl.lit(0, pl.Int64),
    )  # fmt: skip


def _rejects(batch_id: str, n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, eager=True)
    return pl.DataFrame({
        "batch_id": batch_id, "file": [FILES[k % 4] for k in i], "line": i + 2,
        "column": [("email", "role", "school_id")[k % 3] for k in i],
        "value": [f"<b>value {k}</b>" for k in i], "code": [CODES[k % 5] for k in i],
        "message": "does not match the required format",
    })  # fmt: skip


def build(home: Home, districts: int, per: int, rejects: int) -> str:
    """Fill the database; returns the id of the batch with ``rejects`` rejects."""
    now = datetime.now(UTC)
    engine = home.store.engine
    batches = _batches(districts, per, now)
    big = str(batches["batch_id"][per - 1])  # the first district's last night
    batches = batches.with_columns(
        rejects=pl.when(pl.col("batch_id") == big).then(rejects).otherwise(pl.col("rejects")),
        status=pl.when(pl.col("batch_id") == big).then(pl.lit("held")).otherwise("status"),
    )
    with engine.transaction():
        engine.ingest("districts", _districts(districts, now))
        engine.ingest("batches", batches)
        engine.ingest("batch_files", _files(batches["batch_id"]))
        frame = _rejects(big, rejects)
        engine.ingest("rejects", frame)
        summarise_rejects(engine, big, frame)  # as saving a batch does
    if engine.dialect.name == "postgresql":
        # As autovacuum would within a minute of a bulk load. Unanalyzed, the planner's
        # estimates are off by 10^4 and PostgreSQL JIT-compiles the overview's queries
        # (150 ms of compiling for 15 ms of work): a benchmark artefact, not the console.
        engine.execute("ANALYZE")
    return big


def _serve(settings: object, port: int) -> None:
    import uvicorn

    from roster_pipeline.web.app import create_app

    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    threading.Thread(target=uvicorn.Server(config).run, daemon=True).start()


def _get(url: str, cookie: str) -> float:
    request = urllib.request.Request(url, headers={"Cookie": f"roster_session={cookie}"})
    begun = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()
        assert answer.status == 200, url
    return time.perf_counter() - begun


def _figure(name: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    print(
        f"{name:<44} median {statistics.median(ms):8.1f} ms   min {ms[0]:7.1f}   max {ms[-1]:7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=100, help="per district")
    parser.add_argument("--rejects", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", default="", help="database URL (default: SQLite in a temp home)")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
        settings = load_settings(home=Path(folder), database_url=args.db or None)
        with Home(settings) as home:
            home.create()
            begun = time.perf_counter()
            big = build(home, args.districts, args.batches, args.rejects)
            print(f"built {args.districts:,} districts, {args.districts * args.batches:,} batches,"
                  f" {args.rejects:,} rejects in {time.perf_counter() - begun:.1f} s"
                  f" ({home.store.engine.dialect.name})")  # fmt: skip
            operators.add_operator(home, "bench", operators.Role.OPERATOR, "bench-password")
            cookie = operators.log_in(home, "bench", "bench-password").token
        _serve(settings, args.port)
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        _figure("batch page, first view", [_get(f"{base}/batches/{big}", cookie)])
        pages = {
            "overview (all districts)": "/",
            "overview JSON": "/api/overview",
            "district page": "/districts/d0000",
            "batch page, 1M rejects (warm)": f"/batches/{big}",
            "rejects page 1 (100 rows)": f"/batches/{big}/rejects",
            "rejects after #900,000, code filter": (
                f"/batches/{big}/rejects?code=pattern&after=900000"
            ),
        }
        for name, path in pages.items():
            _get(base + path, cookie)
            _figure(name, [_get(base + path, cookie) for _ in range(args.repeat)])
        print(json.dumps({"python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
