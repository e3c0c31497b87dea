"""``roster`` commands about the running service: init, serve, status, purge, demo."""

from __future__ import annotations

import dataclasses
import logging
import sys

import click
from rich.console import Console
from rich.table import Table

from roster_pipeline.cli import main
from roster_pipeline.cli.common import echo_json, minute, opened_home, print_fingerprints, reported
from roster_pipeline.config import Settings
from roster_pipeline.service import retention
from roster_pipeline.service import status as status_mod
from sftp_server import ensure_host_keys

__all__ = ["LOG_LEVELS", "configure_logging", "demo", "init", "purge", "serve", "status"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@main.command()
@reported
def init() -> None:
    """Create the home, database and SSH host keys (safe to run again; keys are kept)."""
    with opened_home() as home:
        ensure_host_keys(home.folder("hostkeys"))
        click.echo(f"home {home.root.resolve()} ready; database {home.store.url}")
        print_fingerprints(home.settings)


@main.command()
@click.option("--workers", default=1, show_default=True, help="Batch worker processes.")
@click.option("--role", type=click.Choice(["all", "sftp", "worker"]), default="all",
              show_default=True, help="Run the receiver, the workers, or both.")  # fmt: skip
@click.option(
    "--host", default=None, help="Address to listen on (default: listen_host, 127.0.0.1)."
)
@click.option("--port", type=int, default=None, help="SFTP port (default: listen_port, 2222).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              default="INFO", show_default=True,
              help="DEBUG also shows asyncssh's own protocol messages.")  # fmt: skip
@click.pass_obj
@reported
def serve(
    settings: Settings, *, workers: int, role: str, host: str | None, port: int | None,
    log_level: str,
) -> None:  # fmt: skip
    """Run the SFTP receiver, the inbox watcher and batch workers until SIGTERM/SIGINT."""
    # Imported here: the service's machinery is needed by this command alone.
    from roster_pipeline.service import runtime as service

    configure_logging(log_level)
    settings = dataclasses.replace(
        settings,
        listen_host=settings.listen_host if host is None else host,
        listen_port=settings.listen_port if port is None else port,
    )
    options = service.ServiceOptions(workers=workers, role=role)
    service.serve(settings, options, service.default_receiver(), ready=_announce)


def configure_logging(level: str) -> None:
    """Log at ``level``; asyncssh's per-connection chatter only at DEBUG.

    At INFO asyncssh logs several lines for every connection, so a port
    scanner would bury our own lines (the audit log has what matters).
    """
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(message)s")
    logging.getLogger().setLevel(level.upper())
    chatty = level.upper() == "DEBUG"
    logging.getLogger("asyncssh").setLevel(logging.DEBUG if chatty else logging.WARNING)


def _announce(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reported
def status(as_json: bool) -> None:
    """Per district: uploads, loads, holds, STALE. Exit 1 when any needs attention."""
    with opened_home() as home:
        found = status_mod.overview(home)
    if as_json:
        echo_json({"districts": [s.as_json() for s in found],
                   "attention": status_mod.exit_code(found) != 0})  # fmt: skip
    else:
        _print_status(found)
    sys.exit(status_mod.exit_code(found))


def _print_status(found: list[status_mod.DistrictStatus]) -> None:
    table = Table("district", "last upload", "last loaded", "rows", "held", "state")
    for s in found:
        rows = ", ".join(f"{t} {n:,}" for t, n in s.rows.items() if n)
        state = "; ".join(s.problems) or ("paused" if s.paused else "ok")
        table.add_row(
            s.district, minute(s.last_upload), minute(s.last_loaded_at), rows or "-",
            str(len(s.held)), state,
        )  # fmt: skip
    Console().print(table)


@main.command()
@reported
def purge() -> None:
    """Delete archived raw files and reports older than each district's retention."""
    with opened_home() as home:
        gone = retention.purge(home)
    for item in gone:
        click.echo(f"purged {item.folder}/{item.batch_id} ({item.age_days:.0f} days old)")
    click.echo(f"{len(gone)} batch folder(s) purged")


@main.command()
@click.option("--keep/--no-keep", default=True, show_default=True,
              help="Keep the demo home (and its reports) afterwards.")  # fmt: skip
@reported
def demo(keep: bool) -> None:
    """Run the sample district through the pipeline in a fresh home."""
    # Imported here: the demo pulls in an SSH client only it uses.
    from roster_pipeline.demo import run_demo

    run_demo(keep=keep)
