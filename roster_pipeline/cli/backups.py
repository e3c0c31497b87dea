"""``roster backup PATH`` and ``roster restore PATH``."""

from __future__ import annotations

from pathlib import Path

import click

from roster_pipeline.cli.common import (
    opened_home,
    print_fingerprints,
    reported,
    say,
    settings_of,
)


@click.command("backup")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@reported
def backup_cmd(path: Path) -> None:
    """Copy the database (SQLite), host keys and settings into the new folder PATH.

    Safe while the service runs. A PostgreSQL database is dumped with pg_dump
    beside it (see the README); PATH then holds the keys and settings.
    """
    from roster_pipeline import backup

    with opened_home() as home:
        done = backup.backup(home, path)
    click.echo(f"backup in {done.folder} (schema {done.schema_version})")
    if not done.database_included:
        click.secho(f"the database is PostgreSQL: dump it too, e.g. {backup.PG_DUMP_HINT}",
                    fg="yellow", err=True)  # fmt: skip


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@reported
def restore_cmd(path: Path) -> None:
    """Restore the backup in PATH into an empty --home; the host keys come back unchanged."""
    from roster_pipeline import backup

    settings = settings_of()
    manifest = backup.restore(path, settings.home, settings.database_url)
    with opened_home(create=True) as home:
        click.echo(f"restored {path} into {home.root.resolve()}")
        print_fingerprints(home.settings)
    say(f"backup taken {manifest.get('created_at', 'at an unknown time')}")


COMMANDS = (backup_cmd, restore_cmd)
