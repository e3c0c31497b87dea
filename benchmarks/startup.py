"""Start-up and per-batch overhead: what every command and every small district pays.

    python benchmarks/startup.py [--repeat 7]

- `roster --version` and `roster --help`, whole processes (targets: under 0.3 s);
- `roster process` of a 1,000-row district, a whole process;
- a worker's per-batch overhead: the same batch processed again and again in one
  warm process (imports paid once), as a `roster serve` worker runs it (target:
  under 0.2 s for a 1,000-row district);
- beside them, `python -c pass` in the same interpreter: the floor.

Medians with their spread; figures only.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "samples"))

import generate  # noqa: E402

ROSTER = str(Path(sys.executable).parent / "roster")


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        begun = time.perf_counter()
        action()
        times.append(time.perf_counter() - begun)
    return times


def command(*args: str, env: dict[str, str] | None = None) -> Callable[[], object]:
    def run() -> object:
        return subprocess.run(args, env=env, capture_output=True, check=True)

    return run


def line(label: str, times: list[float]) -> None:
    spread = f"{min(times):.3f}-{max(times):.3f}"
    print(f"{label:<50} {statistics.median(times):>8.3f}s {spread:>14}")


def small_district(folder: Path) -> tuple[Path, Path]:
    """Two nights of a district of about 1,000 rows (100 users, 10 classes, 900
    enrollments); the second differs by 5%, so neither is a duplicate of the other."""
    tables = generate.district(100, 10, 900, seed=3)
    generate.write(tables, folder, as_zip=True)
    generate.write(generate.next_night(tables, 5.0, seed=3), folder / "next", as_zip=True)
    return folder / "roster.zip", folder / "next" / "roster.zip"


def warm_batches(home_root: Path, nights: tuple[Path, Path], repeat: int) -> list[float]:
    """Batches processed in this process after a warm-up, the two nights in turn
    (each differs from what is loaded, so every batch is planned and applied)."""
    from roster_pipeline import Home, load_settings, process

    settings = load_settings(env={"ROSTER_HOME": str(home_root)}, home=home_root)
    turn = itertools.cycle(nights)
    with Home(settings) as home:
        process(home, "small", [nights[1]])
        return timed(lambda: process(home, "small", [next(turn)]), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    home = work / "home"
    env = {**os.environ, "ROSTER_HOME": str(home)}
    nights = small_district(work / "data")
    subprocess.run([ROSTER, "init"], env=env, capture_output=True, check=True)
    subprocess.run([ROSTER, "district", "add", "small"], env=env, capture_output=True, check=True)
    print(f"\nstart-up and per-batch overhead; median of {args.repeat}")
    print(f"{'':<50} {'time':>9} {'spread':>14}")
    line("python -c pass (the floor)", timed(command(sys.executable, "-c", "pass"), args.repeat))
    line("roster --version", timed(command(ROSTER, "--version"), args.repeat))
    line("roster --help", timed(command(ROSTER, "--help"), args.repeat))
    runs = itertools.cycle(
        command(ROSTER, "process", str(n), "--district", "small", env=env) for n in nights
    )

    def process() -> object:  # the nights in turn: never a duplicate
        return next(runs)()

    line("roster process, 1,000-row district (a process)", timed(process, args.repeat))
    line("per batch in a warm worker, 1,000 rows", warm_batches(home, nights, args.repeat))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
