"""Terminal display of long work: the stage and its rows, on a live line.

Only the CLI uses this; the pipeline sees a plain ``Progress`` callable. The
line is transient (it disappears when the work ends), so what stays on the
screen is the result alone, as it would be without a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

from roster_pipeline import Progress, no_progress


def shows_progress(as_json: bool) -> bool:
    """A display only for a person at a terminal: never with --json, never into a pipe."""
    return not as_json and sys.stdout.isatty()


@contextmanager
def stage_display(enabled: bool, console: Console | None = None) -> Iterator[Progress]:
    """Yield a Progress that draws on ``console`` (stdout) when enabled, else does nothing."""
    if not enabled:
        yield no_progress
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.fields[rows]}"),
        TimeElapsedColumn(),
    )
    with RichProgress(*columns, console=console or Console(), transient=True) as bar:
        task = bar.add_task("starting", rows="")

        def update(stage: str, rows: int | None) -> None:
            shown = f"{rows:,} rows" if rows is not None else ""
            bar.update(task, description=stage, rows=shown)

        yield update
