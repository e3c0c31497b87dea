"""``roster district source|plugin|test`` and ``roster pull``: districts we pull from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from roster_pipeline.cli.batches import print_batch, process_json
from roster_pipeline.cli.common import echo_json, exit_for, opened_home, reported, say
from roster_pipeline.cli.display import shows_progress, stage_display
from roster_pipeline.cli.exits import ExitCode

#: sources.KINDS, spelled here so that `--help` need not import the HTTP client.
KINDS = ("sftp", "powerschool-api")


@click.command("source")
@click.argument("slug")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--url", default=None, help="The PowerSchool server, https://...")
@click.option("--client-id", default=None, help="From the plugin's Data Provider Configuration.")
@click.option("--client-secret-stdin", is_flag=True, help="Read the client secret from stdin.")
@click.option("--pull-at", default=None, metavar="HH:MM",
              help="Pull every night at this time of the district's time zone.")  # fmt: skip
@click.option("--pull-every", type=float, default=None, metavar="HOURS",
              help="Or pull every HOURS hours (0: not by interval).")  # fmt: skip
@click.option("--timezone", default=None, help="The district's time zone (e.g. America/Chicago).")
@click.option("--ca-file", default=None, help="PEM file of a private CA the server's TLS uses.")
@click.option("--min-interval-ms", type=float, default=None,
              help="The district's PowerSchool minimum interval between API requests.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@reported
def district_source(
    *,
    slug: str,
    kind: str,
    url: str | None,
    client_id: str | None,
    client_secret_stdin: bool,
    pull_at: str | None,
    pull_every: float | None,
    timezone: str | None,
    ca_file: str | None,
    min_interval_ms: float | None,
    as_json: bool,
) -> None:
    """Choose where district SLUG's roster comes from: sent over SFTP (the default), or
    pulled from its PowerSchool server's API. The secret is stored encrypted and never
    shown; options not given keep their value."""
    from roster_pipeline import districts, pulls

    secret = _read_secret() if client_secret_stdin else None
    with opened_home() as home:
        record = pulls.configure(
            home, slug, kind, url=url, client_id=client_id, secret=secret, pull_at=pull_at,
            pull_every_hours=pull_every, timezone=timezone, ca_file=ca_file,
            min_interval_ms=min_interval_ms,
        )  # fmt: skip
        shown = districts.source_info(record)
    if as_json:
        echo_json(shown)
        return
    for label, value in shown.items():
        click.echo(f"{label:<28} {value}")


def _read_secret() -> str:
    secret = str(sys.stdin.readline()).strip()
    if not secret:
        raise click.UsageError("--client-secret-stdin: standard input held no secret")
    return secret


@click.command("plugin")
@click.argument("slug")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the plugin zip.")  # fmt: skip
@click.option("--publisher", default="Roster Pipeline", show_default=True,
              help="Who the district sees asking for access (1-100 characters).")  # fmt: skip
@click.option("--contact-email", required=True, help="Your support address (at most 40 chars).")
@click.option("--name", default="", help="The plugin's name (default: PUBLISHER Roster).")
@reported
def district_plugin(slug: str, output: Path, publisher: str, contact_email: str, name: str) -> None:
    """Write the PowerSchool plugin district SLUG installs: plugin.xml (OAuth, ViewOnly
    access to each field the pull reads) and the PowerQueries the pull runs."""
    from roster_pipeline import pulls

    if not output.parent.is_dir():
        raise click.UsageError(f"-o {output}: the folder {output.parent} does not exist")
    with opened_home() as home:
        data = pulls.plugin(home, slug, publisher, contact_email, name)
        version = pulls.source_of(home.store.district(slug)).plugin_version
    output.write_bytes(data)
    click.echo(f"{output}: plugin version {version}")
    say(
        "In PowerSchool: System > System Settings > Plugin Management Configuration > Install"
        " (an update: upload it over the installed plugin), then Enable and approve the data"
        " access request. A new version needs the plugin disabled and enabled again."
    )


@click.command("test")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_test(slug: str, as_json: bool) -> None:
    """Test district SLUG's PowerSchool connection: token, metadata, field access and
    record counts. Exit 5 when a check fails."""
    from roster_pipeline import pulls

    with opened_home() as home:
        checks = pulls.connection_checks(home, slug)
    if as_json:
        echo_json([{"check": c.name, "ok": c.ok, "detail": c.detail} for c in checks])
    else:
        for c in checks:
            click.echo(f"{c.name:<12} {'ok' if c.ok else 'FAIL':<5} {c.detail}")
    if not all(c.ok for c in checks):
        raise click.exceptions.Exit(ExitCode.UNAVAILABLE)


@click.command("pull")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reported
def pull(slug: str, as_json: bool) -> None:
    """Pull district SLUG's roster from its PowerSchool API now and process it like an
    upload. A failed pull applies nothing (exit 5)."""
    from roster_pipeline import pulls

    with opened_home() as home, stage_display(shows_progress(as_json)) as progress:
        result = pulls.pull(home, slug, progress)
    batch = result.batch
    if as_json:
        data: dict[str, Any] = process_json(batch)
        echo_json(data)
    else:
        print_batch(batch)
    exit_for(batch.status)


DISTRICT_COMMANDS = (district_source, district_plugin, district_test)
COMMANDS = (pull,)
