"""The ``roster`` command: thin over the core API; RosterError becomes a ClickException.

This package holds the root group; its commands live in modules by what they
act on (districts, batches, the service) and register themselves on ``main``
when imported at the end of this file.
"""

from __future__ import annotations

from pathlib import Path

import click

from roster_pipeline.cli.common import reported
from roster_pipeline.config import load_settings

__all__ = ["main"]


@click.group()
@click.option("--home", type=click.Path(path_type=Path), envvar="ROSTER_HOME", default=None,
              help="Home folder (default ./roster-data).")  # fmt: skip
@click.option("--db", "database_url", envvar="ROSTER_DATABASE_URL", default=None,
              help="Database URL (default SQLite in the home).")  # fmt: skip
@click.version_option(package_name="roster-pipeline")
@click.pass_context
@reported
def main(ctx: click.Context, home: Path | None, database_url: str | None) -> None:
    """Receive, validate and load school roster exports."""
    ctx.obj = load_settings(home=home, database_url=database_url)


# Imported last, for their side effect: each registers its commands on `main`.
from roster_pipeline.cli import batches, districts, receiver, service  # noqa: E402, F401
