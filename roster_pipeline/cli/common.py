"""What every ``roster`` command shares: error reporting, the home, output and exit codes.

Light on purpose: the pipeline's modules are imported by the commands that use
them, so commands touching no roster data start fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from roster_pipeline.cli.exits import ExitCode, code_for
from roster_pipeline.errors import RosterError

if TYPE_CHECKING:
    from roster_pipeline.config import Settings
    from roster_pipeline.home import Home


F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes of `roster process`, `check` and `batch reprocess`, by batch status.
_STATUS_CODES = {"rejected": ExitCode.REJECTED, "held": ExitCode.HELD}


class RosterClickError(click.ClickException):
    """A RosterError at the command line: its message, and the exit code of its kind."""

    def __init__(self, exc: RosterError) -> None:
        super().__init__(str(exc))
        # click reads the exit code from the instance; it declares it per class.
        self.exit_code = int(code_for(exc))  # type: ignore[misc]


def reported(func: F) -> F:
    """Turn RosterError into a clean one-line error and the exit code of its kind."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RosterError as exc:
            raise RosterClickError(exc) from exc

    return wrapper  # type: ignore[return-value]


def settings_of() -> Settings:
    """The settings in force, read once per command from roster.toml, ROSTER_* and options."""
    root = click.get_current_context().find_root()
    if root.obj is None:
        from roster_pipeline.config import load_settings

        root.obj = load_settings(**root.meta.get("settings_given", {}))
    settings: Settings = root.obj
    return settings


@contextmanager
def opened_home(create: bool = False) -> Iterator[Home]:
    """The home the command points at; it must exist unless ``create`` (``roster init``)."""
    from roster_pipeline.home import Home

    with Home(settings_of()) as home:
        if create:
            home.create()
        else:
            home.require()
        yield home


def say(text: str) -> None:
    """An informational line on stderr, silenced by --quiet (results go to stdout)."""
    if not click.get_current_context().find_root().meta.get("quiet"):
        click.echo(text, err=True)


def confirmed(question: str, yes: bool) -> None:
    """Ask before something that cannot be undone; --yes answers for scripts."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{question} Refusing without a terminal; add --yes to confirm.")
    click.confirm(question, abort=True, err=True)


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _parent_must_exist(ctx: click.Context, param: click.Parameter, value: Path | None) -> Any:
    if value is not None and not value.parent.resolve().is_dir():
        raise click.BadParameter(f"the folder {value.parent} does not exist; create it first")
    return value


def output_option(func: F) -> F:
    """``-o/--output FILE``, refused before any work when its folder does not exist."""
    option = click.option(
        "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
        callback=_parent_must_exist, help="Write to FILE instead of printing.",
    )  # fmt: skip
    return option(func)


def write_or_echo(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` when given, else print it as it is."""
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
        say(f"wrote {output}")
    else:
        click.echo(text, nl=False)


def exit_for(status: object) -> NoReturn:
    """End the command with the exit code of a batch status (0 unless rejected or held)."""
    sys.exit(_STATUS_CODES.get(str(status), ExitCode.OK))


def minute(moment: datetime | None) -> str:
    """A time as the tables show it, to the minute; ``never`` for none."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "never"


def print_fingerprints(settings: Settings) -> None:
    from roster_pipeline import hostkeys

    for algorithm, fingerprint in hostkeys.fingerprints(settings.path("hostkeys")):
        click.echo(f"{algorithm:<22} {fingerprint}")
