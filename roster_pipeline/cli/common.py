"""What every ``roster`` command shares: error reporting, the home, output and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from roster_pipeline import BatchStatus, Home, RosterError, Settings, hostkeys

F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes of `roster process`, by batch status.
EXIT_CODES = {BatchStatus.REJECTED: 1, BatchStatus.HELD: 3}


def reported(func: F) -> F:
    """Turn RosterError into a clean one-line error at the edge."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RosterError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@contextmanager
def opened_home() -> Iterator[Home]:
    settings = click.get_current_context().find_root().obj
    assert isinstance(settings, Settings)
    with Home(settings) as home:
        home.create()  # idempotent and cheap: every command works on a fresh home
        yield home


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def write_or_echo(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` when given, else print it as it is."""
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


def exit_for(status: BatchStatus) -> NoReturn:
    """End the command with the exit code of a batch status (0 unless rejected or held)."""
    sys.exit(EXIT_CODES.get(status, 0))


def minute(moment: datetime | None) -> str:
    """A time as the tables show it, to the minute; ``never`` for none."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "never"


def print_fingerprints(settings: Settings) -> None:
    for algorithm, fingerprint in hostkeys.fingerprints(settings.path("hostkeys")):
        click.echo(f"{algorithm:<22} {fingerprint}")
