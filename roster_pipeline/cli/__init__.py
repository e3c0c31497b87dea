"""The ``roster`` command: thin over the core API; RosterError becomes a ClickException.

This package holds the root group; its commands live in modules by what they
act on (districts, batches, the service), which know nothing of the group: it
adds their ``COMMANDS`` here.
"""

from __future__ import annotations

from pathlib import Path

import click

from roster_pipeline import load_settings
from roster_pipeline.cli import batches, common, districts, service

__all__ = ["main"]


@click.group()
@click.option("--home", type=click.Path(path_type=Path), envvar="ROSTER_HOME", default=None,
              help="Home folder (default ./roster-data).")  # fmt: skip
@click.option("--db", "database_url", envvar="ROSTER_DATABASE_URL", default=None,
              help="Database URL (default SQLite in the home).")  # fmt: skip
@click.version_option(package_name="roster-pipeline")
@click.pass_context
@common.reported
def main(ctx: click.Context, home: Path | None, database_url: str | None) -> None:
    """Receive, validate and load school roster exports."""
    ctx.obj = load_settings(home=home, database_url=database_url)


for _command in (*batches.COMMANDS, *districts.COMMANDS, *service.COMMANDS):
    main.add_command(_command)
