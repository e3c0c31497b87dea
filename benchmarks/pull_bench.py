"""Pull benchmark: a full `roster pull` of a large district from the PowerSchool
emulator, next to `roster process` of the same roster as a zip (the SFTP path once
the files are in). Prints figures, asserts nothing.

    python benchmarks/pull_bench.py [--users 262000 --classes 20000 --enrollments 2000000]
                                    [--page-size 1000] [--connections 5]

The emulator runs in its own process (so it does not share the client's
interpreter), serving the synthetic district of samples/generate.py through the
plugin's PowerQueries over HTTP on loopback. Figures: wall time and peak RSS of
the `roster` process; rows per second of the whole pull (fetch + validate + load)
and of the fetch alone (from the pull's event).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "samples"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (samples/generate.py: the synthetic district)
from ingest import Run, measure  # noqa: E402


def serve(args: argparse.Namespace, ready: Connection) -> None:
    """The emulator's process: generate the district, serve it until killed."""
    from tests.powerschool_emulator import Emulator, split_users

    tables = generate.district(args.users, args.classes, args.enrollments, seed=7)
    emulator = Emulator(split_users(tables), max_page_size=args.page_size)
    ready.send(emulator.start())
    while True:
        time.sleep(3600)


def roster_zip(args: argparse.Namespace, folder: Path) -> Path:
    tables = generate.district(args.users, args.classes, args.enrollments, seed=7)
    generate.write(tables, folder, as_zip=True)
    return folder / "roster.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=262_000)
    parser.add_argument("--classes", type=int, default=20_000)
    parser.add_argument("--enrollments", type=int, default=2_000_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=5)
    args = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")
    here, there = spawn.Pipe()
    server = spawn.Process(target=serve, args=(args, there), daemon=True)
    server.start()
    work = Path(tempfile.mkdtemp(prefix="pull-bench-"))
    try:
        url = here.recv()
        pulled, processed, fetch = run(args, url, work)
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)
    rows = sum(fetch["rows"].values())
    print(f"district: {args.users:,} users, {args.classes:,} classes, {args.enrollments:,}"
          f" enrollments; page size {args.page_size}, {args.connections} connections")  # fmt: skip
    print(f"{'path':<34} {'seconds':>8} {'peak MB':>8} {'rows/s':>10}")
    print(f"{'roster pull (fetch+load)':<34} {pulled.seconds:>8.1f} {pulled.peak_mb:>8.0f}"
          f" {rows / pulled.seconds:>10,.0f}")  # fmt: skip
    print(f"{'  of which fetch (HTTP + CSV)':<34} {fetch['seconds']:>8.1f} {'':>8}"
          f" {rows / fetch['seconds']:>10,.0f}   {fetch['requests']:,} requests")  # fmt: skip
    print(f"{'roster process roster.zip (SFTP)':<34} {processed.seconds:>8.1f}"
          f" {processed.peak_mb:>8.0f} {rows / processed.seconds:>10,.0f}")  # fmt: skip


def run(args: argparse.Namespace, url: str, work: Path) -> tuple[Run, Run, dict[str, Any]]:
    roster = [str(Path(sys.executable).parent / "roster")]
    env = {**os.environ, "ROSTER_HOME": str(work / "home")}

    def cli(*argv: str, given: bytes | None = None) -> bytes:
        done = subprocess.run([*roster, *argv], env=env, check=True, capture_output=True,
                              input=given)  # fmt: skip
        return done.stdout

    cli("init", "--public-host", "sftp.example.org")
    cli("system", "set", "connections_per_district", str(args.connections))
    cli("system", "set", "log_levels", "info")
    for slug in ("pulled", "sent"):
        cli("district", "add", slug)
    secret = b"ps-client-secret-0123456789\n"  # the emulator's
    cli("district", "source", "pulled", "powerschool-api", "--url", url, "--client-id",
        "ps-client-id", "--client-secret-stdin", given=secret)  # fmt: skip
    pulled = measure([*roster, "pull", "pulled", "--json"], env=env)
    events = json.loads(cli("events", "--district", "pulled", "--json"))
    fetch: dict[str, Any] = next(e for e in events if e["code"] == "pull_fetched")["details"]
    processed = measure(
        [*roster, "process", str(roster_zip(args, work)), "--district", "sent", "--json"], env=env
    )
    return pulled, processed, fetch


if __name__ == "__main__":
    main()
