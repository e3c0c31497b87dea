"""A night's wave: many districts upload over SFTP within minutes, as AutoSend schedules do.

    python benchmarks/wave.py [--districts 300] [--min-users 5000] [--max-users 50000]
                              [--window 600] [--workers 2] [--postgres URL] [--no-singles]

Each district's zip (5,000 to 50,000 users, sizes drawn once with a fixed seed;
classes and enrollments in the large district's proportions, rows in key order)
is uploaded over real SFTP to `roster serve --workers N`, the uploads spread
evenly over ``--window`` seconds in a shuffled order. Measured:

- the wave: from the last upload's close to the last batch finished (the
  backlog a night leaves), and from the first upload to the last batch;
- the sum of single `roster process` runs of the same zips, one process each
  (what the same work costs without a service);
- on PostgreSQL also the several-machine recipe of the README: one
  `serve --role sftp` and two `serve --role worker` processes sharing the home.

Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "samples"))

import generate  # noqa: E402  (samples/generate.py: the synthetic district)
from ingest import fresh_schema  # noqa: E402

from roster_pipeline import Home, add_district, load_settings  # noqa: E402

PASSWORD = "wave-benchmark-password-0123456789"
ROSTER = [sys.executable, "-c", "from roster_pipeline.cli import main; main()"]
FINISHED = {"loaded", "loaded_with_rejects", "held", "rejected", "duplicate", "failed"}


def district_sizes(count: int, low: int, high: int) -> list[int]:
    rng = random.Random(11)
    return [rng.randint(low, high) for _ in range(count)]


def zips(args: argparse.Namespace) -> list[Path]:
    """One zip per district, generated once under data/."""
    folder = HERE / "data" / f"wave-{args.districts}-{args.min_users}-{args.max_users}"
    paths = []
    for number, users in enumerate(district_sizes(args.districts, args.min_users, args.max_users)):
        target = folder / f"d{number:03d}" / "roster.zip"
        if not target.is_file():
            tables = generate.district(users, max(1, users // 13), int(users * 7.6), seed=number)
            generate.write(tables, target.parent, as_zip=True, order="keyed", seed=number)
            for name in tables:
                (target.parent / f"{name}.csv").unlink()
        paths.append(target)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def new_home(count: int, db: str | None) -> tuple[Path, dict[str, str], str]:
    """A home with ``count`` districts (slugs d000...), each with the benchmark password;
    on PostgreSQL in a fresh schema, which ``drop_home`` removes. (root, env, schema)"""
    root = Path(tempfile.mkdtemp(prefix="bench-wave-"))
    env = {**os.environ, "ROSTER_HOME": str(root), "ROSTER_SETTLE_QUICK_SECONDS": "1"}
    schema = ""
    if db:
        schema, env["ROSTER_DATABASE_URL"] = fresh_schema(db)
    subprocess.run([*ROSTER, "init"], env=env, check=True, capture_output=True)
    with Home(load_settings(env=env, home=root)) as home:
        for number in range(count):
            add_district(home, f"d{number:03d}", password=PASSWORD)
    return root, env, schema


def drop_home(root: Path, db: str | None, schema: str) -> None:
    """The home's folder and, on PostgreSQL, its schema: a night's rows for every district."""
    shutil.rmtree(root, ignore_errors=True)
    if db:
        drop = f"DROP SCHEMA IF EXISTS {schema} CASCADE"
        subprocess.run(["psql", "-q", db, "-c", drop], check=True, capture_output=True)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*ROSTER, "serve", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_listening(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"the receiver never listened on port {port}")


async def upload(port: int, slug: str, path: Path, at: float) -> float:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    async with (
        asyncssh.connect(
            "127.0.0.1", port, username=slug, password=PASSWORD, known_hosts=None
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        await sftp.put(str(path), "roster.zip")
    return time.monotonic()


async def wave_uploads(port: int, paths: list[Path], window: float) -> tuple[float, float]:
    """Every upload, spread over ``window``; (first start, last close) as monotonic times."""
    order = list(range(len(paths)))
    random.Random(5).shuffle(order)
    first = time.monotonic()
    step = window / max(1, len(paths) - 1)
    tasks = [
        upload(port, f"d{n:03d}", paths[n], first + slot * step) for slot, n in enumerate(order)
    ]
    ends = await asyncio.gather(*tasks)
    return first, max(ends)


def finished(env: dict[str, str], root: Path) -> int:
    with Home(load_settings(env=env, home=root)) as home:
        return sum(1 for b in home.store.batches(None, 100_000) if b.status in FINISHED)


@dataclass(frozen=True)
class Wave:
    backlog: float  # last upload closed -> last batch finished
    whole: float  # first upload started -> last batch finished


def run_wave(args: argparse.Namespace, paths: list[Path], db: str | None, split: bool) -> Wave:
    root, env, schema = new_home(len(paths), db)
    port = free_port()
    if split:
        servers = [start(env, "--role", "sftp", "--port", str(port))]
        servers += [start(env, "--role", "worker", "--workers", "1") for _ in range(2)]
    else:
        servers = [start(env, "--workers", str(args.workers), "--port", str(port))]
    try:
        wait_listening(port)
        first, last_upload = asyncio.run(wave_uploads(port, paths, args.window))
        while finished(env, root) < len(paths):
            time.sleep(0.2)
        done = time.monotonic()
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(120)
        drop_home(root, db, schema)
    return Wave(backlog=done - last_upload, whole=done - first)


def singles(paths: list[Path], db: str | None) -> float:
    """The sum of one `roster process` per zip, into a home holding every district."""
    root, env, schema = new_home(len(paths), db)
    total = 0.0
    for number, path in enumerate(paths):
        command = [*ROSTER, "process", str(path), "--district", f"d{number:03d}", "--json"]
        begun = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        total += time.perf_counter() - begun
        if done.returncode not in (0, 3):
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout!r}\n{done.stderr!r}")
    drop_home(root, db, schema)
    return total


def report(name: str, wave: Wave, single: float | None) -> None:
    alone = f"{single:>9.1f}s" if single is not None else f"{'':>10}"
    ratio = f"{wave.whole / single:>6.2f}x" if single else ""
    print(f"{name:<44} {wave.backlog:>9.1f}s {wave.whole:>9.1f}s {alone} {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--districts", type=int, default=300)
    parser.add_argument("--min-users", type=int, default=5_000)
    parser.add_argument("--max-users", type=int, default=50_000)
    parser.add_argument("--window", type=float, default=600.0, help="seconds the uploads span")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "ROSTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL to measure on too ('' to skip)",
    )
    parser.add_argument("--no-singles", action="store_true", help="skip the single-run sums")
    args = parser.parse_args()
    paths = zips(args)
    mb = sum(p.stat().st_size for p in paths) / 1e6
    print(
        f"\nwave: {args.districts} districts of {args.min_users:,}-{args.max_users:,} users"
        f" ({mb:.0f} MB zipped), uploads over {args.window:.0f} s, --workers {args.workers}"
    )
    print(f"{'':<44} {'backlog':>10} {'whole':>10} {'singles':>10} {'ratio':>7}")
    engines: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.postgres:
        engines.append(("PostgreSQL", args.postgres))
    for name, db in engines:
        single = None if args.no_singles else singles(paths, db)
        report(f"{name}, serve --workers {args.workers}", run_wave(args, paths, db, False), single)
        if db:
            split = run_wave(args, paths, db, True)
            report(f"{name}, sftp + 2 worker processes", split, single)


if __name__ == "__main__":
    main()
