"""``roster web``: the ops console (also ``roster serve --role web``)."""

from __future__ import annotations

import logging
import sys

import click

from roster_pipeline.cli.common import reported, settings_of


def run_console(host: str | None, port: int | None) -> None:
    from roster_pipeline.web.server import serve

    settings = settings_of()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve(
        settings,
        host or settings.web.web_host,
        settings.web.web_port if port is None else port,
        ready=_announce,
        forwarded_allow_ips=settings.web.web_forwarded_allow_ips,
    )


def _announce(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: web_host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: web_port, 8080).")
@reported
def web(host: str | None, port: int | None) -> None:
    """Run the ops console (web pages, JSON API, /metrics) until SIGTERM/SIGINT."""
    run_console(host, port)


COMMANDS = (web,)
