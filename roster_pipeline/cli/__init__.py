"""The ``roster`` command: thin over the core API; RosterError becomes a clean exit.

This package holds the root group; its commands live in modules by what they
act on (districts, batches, the service, the system, backups), which know nothing
of the group: it adds their ``COMMANDS`` here. Those modules import the
pipeline's heavy machinery (polars, pandera) inside the commands that use it,
so ``--help``, ``--version`` and commands touching no roster data start fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from roster_pipeline import __version__
from roster_pipeline.cli import (
    backups,
    batches,
    common,
    districts,
    exits,
    history,
    interrupts,
    operators,
    receiver,
    service,
    sources,
    system,
    web,
)

__all__ = ["main", "run"]

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}
#: Commands that handle SIGINT themselves (a graceful shutdown of the service).
_OWN_SIGNALS = {"serve", "demo"}


class _RosterGroup(click.Group):
    """The root group: Ctrl-C ends any command with exit 130 and one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupts.announce()
            interrupts.end_now()  # the executable: `with` blocks have run; skip the finalizers
            raise click.exceptions.Exit(exits.ExitCode.INTERRUPTED) from None


@click.group(cls=_RosterGroup, context_settings=CONTEXT)
@click.option("--home", type=click.Path(path_type=Path), envvar="ROSTER_HOME", default=None,
              show_envvar=True, help="Home folder (default ./roster-data).")  # fmt: skip
@click.option("--db", "database_url", envvar="ROSTER_DATABASE_URL", default=None,
              show_envvar=True, help="Database URL (default SQLite in the home).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Print results and errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Also log what happens, to stderr.")
@click.version_option(__version__, package_name="roster-pipeline")
@click.pass_context
@common.reported
def main(
    ctx: click.Context, home: Path | None, database_url: str | None, quiet: bool, verbose: bool
) -> None:
    """Receive, validate and load school roster exports.

    Exit codes: 0 ok, 1 batch rejected (status: attention needed), 2 usage,
    3 held, 4 not found, 5 unavailable, 6 system disabled, 130 interrupted.
    Colour follows the terminal and is off when NO_COLOR is set. Shell
    completion: eval "$(_ROSTER_COMPLETE=bash_source roster)" (zsh_source,
    fish_source for those shells).
    """
    if interrupts.enabled and ctx.invoked_subcommand not in _OWN_SIGNALS:
        interrupts.install()
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ctx.meta["quiet"] = quiet and not verbose
    # Read when a command first needs them (settings_of): validating them imports
    # pydantic, which `roster district --help` has no use for.
    ctx.meta["settings_given"] = {"home": home, "database_url": database_url}


def run() -> None:
    """The ``roster`` executable: the CLI with the Ctrl-C guard."""
    interrupts.enabled = True
    main()


for _command in (
    *batches.COMMANDS,
    *districts.COMMANDS,
    *receiver.COMMANDS,
    *service.COMMANDS,
    *sources.COMMANDS,
    *operators.COMMANDS,
    *web.COMMANDS,
    *system.COMMANDS,
    *backups.COMMANDS,
    *history.COMMANDS,
):
    main.add_command(_command)
