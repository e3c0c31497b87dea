"""Time the parse stage on the large synthetic district, this tree against a git revision.

    .venv/bin/python benchmarks/bench_parse.py [--against REV] [--runs 5] [--quoted]
        [--files enrollments users]

The baseline's ``parse.py`` and ``csvscan.py`` are read with ``git show REV:...``
and loaded beside the current ones, so both run in the same process on the same
bytes:

- warm: old and new called alternately in one process, ``--runs`` calls each;
- fresh: one parse per child process (the imports done before the clock
  starts), old and new children alternating; with the child's peak RSS and how
  much the parse added to it.

Figures are medians. Before timing, the two results are compared (frame,
rejects, warnings, delimiter, row count); the script stops if they differ.
``--quoted`` parses copies of the files with every field quoted, as some
exports write them. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Protocol

import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from ingest import data  # noqa: E402  (the large district, generated once)

from roster_pipeline.contracts.specs import load_spec  # noqa: E402
from roster_pipeline.stages.parse import ParsedFile  # noqa: E402
from roster_pipeline.stages.unpack import ReceivedFile  # noqa: E402


class Parse(Protocol):
    def __call__(self, file: ReceivedFile, file_spec: object) -> ParsedFile: ...


def baseline(rev: str) -> Parse:
    """``parse`` as it is at ``rev``, with that revision's scanner."""
    csvscan = _module("baseline_csvscan", rev, "roster_pipeline/csvscan.py")
    current = sys.modules["roster_pipeline.csvscan"]
    sys.modules["roster_pipeline.csvscan"] = csvscan  # what the old parse.py imports
    try:
        parse = _module("baseline_parse", rev, "roster_pipeline/parse.py")
    finally:
        sys.modules["roster_pipeline.csvscan"] = current
    function: Parse = parse.parse
    return function


def _module(name: str, rev: str, path: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    return module


def versions(rev: str) -> dict[str, Parse]:
    current: Parse = importlib.import_module("roster_pipeline.stages.parse").parse
    return {"old": baseline(rev), "new": current}


def received(folder: Path, name: str) -> ReceivedFile:
    path = folder / f"{name}.csv"
    return ReceivedFile(path.name, path, name, path.stat().st_size, "")


def same(a: ParsedFile, b: ParsedFile) -> bool:
    return (
        a.frame.equals(b.frame)
        and a.rejects.equals(b.rejects)
        and (a.warnings, a.delimiter, a.rows) == (b.warnings, b.delimiter, b.rows)
    )


def warm(parsers: dict[str, Parse], file: ReceivedFile, runs: int) -> dict[str, float]:
    file_spec = load_spec().file(file.file_spec)
    results = {label: parse(file, file_spec) for label, parse in parsers.items()}
    if not same(results["old"], results["new"]):
        raise SystemExit(f"{file.name}: the two versions give different results")
    times: dict[str, list[float]] = {label: [] for label in parsers}
    for _ in range(runs):
        for label, parse in parsers.items():
            start = time.perf_counter()
            parse(file, file_spec)
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(t) for label, t in times.items()}


def child(rev: str, label: str, folder: Path, name: str) -> None:
    """One parse in this fresh process; prints seconds and peak RSS (MB) as JSON."""
    parse = versions(rev)[label]
    file = received(folder, name)
    file_spec = load_spec().file(name)
    before = _rss_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak restarts from here
    start = time.perf_counter()
    parse(file, file_spec)
    seconds = time.perf_counter() - start
    peak = _rss_mb("VmHWM")
    print(json.dumps({"seconds": seconds, "peak": peak, "added": peak - before}))


def _rss_mb(field: str) -> float:
    """A figure of /proc/self/status (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} in /proc/self/status")


def fresh(rev: str, folder: Path, name: str, runs: int) -> dict[str, dict[str, float]]:
    figures: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for _ in range(runs):
        for label, done in figures.items():
            cmd = [sys.executable, __file__, "--against", rev, "--child", label]
            out = subprocess.run(
                [*cmd, "--folder", str(folder), "--files", name],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            done.append(json.loads(out))
    return {
        label: {key: statistics.median(run[key] for run in done) for key in done[0]}
        for label, done in figures.items()
    }


def quoted_copies(folder: Path, names: list[str]) -> Path:
    target = folder / "quoted"
    target.mkdir(exist_ok=True)
    for name in names:
        if not (target / f"{name}.csv").is_file():
            frame = pl.read_csv(folder / f"{name}.csv", infer_schema=False)
            frame.write_csv(target / f"{name}.csv", quote_style="always")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision of the baseline")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", nargs="+", default=["enrollments", "users"])
    parser.add_argument("--quoted", action="store_true", help="every field quoted")
    parser.add_argument("--child", choices=("old", "new"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.against, args.child, args.folder, args.files[0])
        return
    folder = data(argparse.Namespace(users=262_000, classes=20_000, enrollments=2_000_000))
    if args.quoted:
        folder = quoted_copies(folder, args.files)
    parsers = versions(args.against)
    print(f"old: {args.against}, new: this tree; medians of {args.runs}")
    for name in args.files:
        file = received(folder, name)
        w = warm(parsers, file, args.runs)
        f = fresh(args.against, folder, name, args.runs)
        print(f"{file.name} ({file.size / 1e6:.0f} MB), results identical")
        for label in ("old", "new"):
            print(
                f"  {label}: warm {w[label]:.3f} s, fresh process {f[label]['seconds']:.3f} s,"
                f" peak RSS {f[label]['peak']:.0f} MB (+{f[label]['added']:.0f} MB in parse)"
            )


if __name__ == "__main__":
    main()
