"""Progress: how long work tells a watcher where it is, without knowing who watches.

The pipeline calls a ``Progress`` with the stage it enters and, when known,
the rows that stage handles; the CLI passes a terminal display, everything
else passes nothing. Keeping the protocol this small keeps UI out of the core.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(stage, rows)``: ``stage`` is short text ("parse users.csv", "apply");
#: ``rows`` is how many rows it covers, or None while that is not known yet.
Progress = Callable[[str, int | None], None]


def no_progress(stage: str, rows: int | None) -> None:
    """The default: nobody is watching."""
