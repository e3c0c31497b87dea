"""`make bench`: every benchmark in one run, figures printed side by side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    for script in ("ingest.py", "sftp_bench.py"):
        if (HERE / script).is_file():
            subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:]], check=True)


if __name__ == "__main__":
    main()
