"""``roster`` commands about the running service: init, serve, status, purge, demo."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click

from roster_pipeline.cli.common import (
    echo_json,
    minute,
    opened_home,
    print_fingerprints,
    reported,
)
from roster_pipeline.cli.display import print_table, status_markup
from roster_pipeline.cli.exits import ExitCode

if TYPE_CHECKING:
    from roster_pipeline.config import Settings
    from roster_pipeline.service import status as status_mod

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@click.command()
@click.option(
    "--public-host",
    default=None,
    help="The host name districts connect to (asked on a terminal when unset).",
)
@click.option(
    "--public-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="The port districts connect to, when it is not listen_port (NAT, proxy).",
)
@reported
def init(public_host: str | None, public_port: int | None) -> None:
    """Create the home, database and SSH host keys (safe to run again; keys are kept).

    The only command that creates a home: the others refuse a --home where none is.
    The public host and port are what `district add` and the guides tell districts;
    they are stored for every machine (`roster system set public_host ...`).
    """
    from roster_pipeline import hostkeys, system
    from roster_pipeline.store import mask_url

    with opened_home(create=True) as home:
        hostkeys.ensure(home.folder("hostkeys"))
        if public_host is None and not home.settings.receiver.public_host and sys.stdin.isatty():
            public_host = click.prompt("Host name districts connect to", default="", err=True)
        for key, value in (("public_host", public_host), ("public_port", public_port)):
            if value:
                system.set_value(home, key, value)
        home.settings = system.effective(home.settings, home.store)
        click.echo(f"home {home.root.resolve()} ready; database {mask_url(home.store.url)}")
        _print_address(home.settings)
        print_fingerprints(home.settings)


def _print_address(settings: Settings) -> None:
    from roster_pipeline.districts import public_address, unreachable_host

    host, port = public_address(settings)
    click.echo(f"districts connect to {host or '(not set)'}:{port}")
    reason = unreachable_host(host)
    if reason:
        click.secho(f"WARNING: {reason}; set it: `roster init --public-host HOST`",
                    fg="red", bold=True, err=True)  # fmt: skip


@click.command()
@click.option("--workers", default=1, show_default=True, help="Batch worker processes.")
@click.option("--role", type=click.Choice(["all", "sftp", "worker", "web"]), default="all",
              show_default=True,
              help="Run the receiver, the workers, both, or the ops console.")  # fmt: skip
@click.option(
    "--host", default=None, help="Address to listen on (default: listen_host, 127.0.0.1)."
)
@click.option("--port", type=int, default=None, help="SFTP port (default: listen_port, 2222).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              default="INFO", show_default=True,
              help="DEBUG also shows asyncssh's own protocol messages.")  # fmt: skip
@reported
def serve(workers: int, role: str, host: str | None, port: int | None, log_level: str) -> None:
    """Run the SFTP receiver, the inbox watcher and batch workers until SIGTERM/SIGINT.

    ``--role web`` runs the ops console instead (as `roster web`; --host and
    --port then name its address).
    """
    if role == "web":
        from roster_pipeline.cli.web import run_console

        run_console(host, port)
        return
    # Imported here: the service's machinery is needed by this command alone.
    from roster_pipeline import system
    from roster_pipeline.service import runtime as service

    configure_logging(log_level)
    with opened_home() as home:  # the system settings in force (job frequency, ...)
        settings = home.settings
    given = {"listen_host": host, "listen_port": port}
    settings = settings.replaced({k: v for k, v in given.items() if v is not None}, "option")
    every = system.intervals(settings)
    options = service.ServiceOptions(workers=workers, role=role, rescan_seconds=every.rescan,
                                     poll_seconds=every.claim_poll,
                                     housekeeping_seconds=every.stale_check)  # fmt: skip
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reported
def status(as_json: bool) -> None:
    """Per district: uploads, loads, holds, STALE. Exit 1 when any needs attention,
    6 when the system is disabled (`roster system`)."""
    from roster_pipeline import system
    from roster_pipeline.service import status as status_mod

    with opened_home() as home:
        found = status_mod.overview(home)
        enabled = home.settings.system.system_enabled
        why = "" if enabled else system.disabled_reason(home)
    code = status_mod.exit_code(found) if enabled else ExitCode.DISABLED
    if as_json:
        echo_json({"districts": [s.as_json() for s in found], "system_enabled": enabled,
                   "disabled_reason": why, "attention": code != 0})  # fmt: skip
    else:
        if not enabled:
            click.secho("DISABLED: no batch is formed or processed; uploads are kept"
                        + (f" ({why})" if why else "") + ". `roster system enable`",
                        fg="red", bold=True)  # fmt: skip
        _print_status(found)
    sys.exit(code)


def _print_status(found: list[status_mod.DistrictStatus]) -> None:
    rows = []
    for s in found:
        loaded = ", ".join(f"{t} {n:,}" for t, n in s.rows.items() if n)
        state = "; ".join(s.problems) or ("paused" if s.paused else "ok")
        rows.append((s.district, minute(s.last_upload), minute(s.last_loaded_at), loaded or "-",
                     str(len(s.held)), status_markup(state)))  # fmt: skip
    print_table(("district", "last upload", "last loaded", "rows", "held", "state"), rows)


@click.command()
@reported
def purge() -> None:
    """Delete archived raw files and reports older than each district's retention."""
    from roster_pipeline.service import retention

    with opened_home() as home:
        gone = retention.purge(home)
    for item in gone:
        click.echo(f"purged {item.folder}/{item.batch_id} ({item.age_days:.0f} days old)")
    click.echo(f"{len(gone)} batch folder(s) purged")


@click.command()
@click.option("--keep/--no-keep", default=True, show_default=True,
              help="Keep the demo home (and its reports) afterwards.")  # fmt: skip
@reported
def demo(keep: bool) -> None:
    """Run the sample district through the pipeline in a fresh home."""
    # Imported here: the demo pulls in an SSH client only it uses.
    from roster_pipeline.demo import run_demo

    run_demo(keep=keep)


#: What this module adds to `roster`.
COMMANDS = (init, serve, status, purge, demo)


COMMANDS = (init, serve, status, purge, demo)
