"""`make bench`: every benchmark in one run, figures printed side by side.

    python benchmarks/run.py [--quick]

``--quick`` runs the ingest benchmark once per figure, without the NYC-sized
district, and a wave of 30 districts over one minute: a check that everything
runs, not figures to report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL = {
    "ingest.py": ["--xl"],
    "sftp_bench.py": [],
    "startup.py": [],
    "wave.py": [],
    "console.py": [],
    "pull_bench.py": [],
}
QUICK = {
    "ingest.py": ["--repeat", "1"],
    "sftp_bench.py": [],
    "startup.py": ["--repeat", "3"],
    "wave.py": ["--districts", "30", "--window", "60"],
    "console.py": ["--districts", "100", "--batches", "20", "--rejects", "50000", "--repeat", "3"],
    "pull_bench.py": ["--users", "20000", "--classes", "2000", "--enrollments", "100000"],
}


def main() -> None:
    plan = QUICK if "--quick" in sys.argv[1:] else FULL
    for script, args in plan.items():
        subprocess.run([sys.executable, str(HERE / script), *args], check=True)


if __name__ == "__main__":
    main()
