"""Terminal display: tables, statuses in colour, and long work on a live line.

Only the CLI uses this; the pipeline sees a plain ``Progress`` callable. The
progress line is transient (it disappears when the work ends), so what stays on
the screen is the result alone, as it would be without a terminal. Colour
follows rich's rules: none in a pipe, none when NO_COLOR is set.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from roster_pipeline.progress import Progress, no_progress

if TYPE_CHECKING:
    from rich.console import Console


#: Statuses (of batches, districts, checks) by the colour they are shown in.
_COLOURS = {
    "green": {"loaded", "ok", "enabled", "active", "approved"},
    "yellow": {
        "held",
        "loaded_with_rejects",
        "paused",
        "warn",
        "warning",
        "duplicate",
        "discarded",
        "rolled_back",
    },
    "red": {"rejected", "failed", "fail", "error", "disabled", "stale"},
}
_WIDE = 100_000  # into a pipe: as wide as the content, so no value is ever cut


def console() -> Console:
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=_WIDE)


def status_markup(status: str) -> str:
    """``status`` in its colour, as rich markup."""
    word = status.lower().split(":")[0].split()[0] if status.strip() else status
    colour = next((c for c, words in _COLOURS.items() if word in words), None)
    return f"[{colour}]{status}[/]" if colour else status


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], keep: int = 0) -> None:
    """A table; column ``keep`` (an id people copy) is never wrapped nor cut."""
    from rich.table import Table

    table = Table(*headers)
    widest = max((len(r[keep]) for r in rows), default=0)
    table.columns[keep].no_wrap = True
    table.columns[keep].min_width = widest
    for row in rows:
        table.add_row(*row)
    console().print(table)


def shows_progress(as_json: bool) -> bool:
    """A display only for a person at a terminal: never with --json, never into a pipe."""
    return not as_json and sys.stdout.isatty()


@contextmanager
def stage_display(enabled: bool, console: Console | None = None) -> Iterator[Progress]:
    """Yield a Progress that draws on ``console`` (stdout) when enabled, else does nothing."""
    if not enabled:
        yield no_progress
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

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
