"""The ``roster`` command: thin over the core API; RosterError becomes a ClickException."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from roster_pipeline import specs
from roster_pipeline.config import Settings, load_settings
from roster_pipeline.errors import RosterError

F = TypeVar("F", bound=Callable[..., Any])


def reported(func: F) -> F:
    """Turn RosterError into a clean one-line error at the edge."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RosterError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group()
@click.option("--home", type=click.Path(path_type=Path), envvar="ROSTER_HOME", default=None,
              help="Home folder (default ./roster-data).")  # fmt: skip
@click.option("--db", "database_url", envvar="ROSTER_DATABASE_URL", default=None,
              help="Database URL (default SQLite in the home).")  # fmt: skip
@click.pass_context
@reported
def main(ctx: click.Context, home: Path | None, database_url: str | None) -> None:
    """Receive, validate and load school roster exports."""
    ctx.obj = load_settings(home=home, database_url=database_url)


@main.group()
def spec() -> None:
    """The file contracts districts send."""


@spec.command("show")
@click.argument("name", default=specs.DEFAULT_SPEC)
@reported
def spec_show(name: str) -> None:
    """Print the contract NAME in human terms."""
    contract = specs.load_spec(name)
    click.echo(f"{contract.title} ({contract.name})")
    for f in contract.files:
        need = "required" if f.required else "optional"
        click.echo(f"\n{f.name} ({need}; file names {', '.join(f.match)}; key {', '.join(f.key)})")
        for c in f.columns:
            click.echo(f"  {c.name}: {'required' if c.required else 'optional'}")


def settings_of(ctx: click.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings
